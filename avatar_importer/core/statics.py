"""Fetching static resources: concurrently, once per process, once per cache.

Threading rules: ``StaticFetcher`` owns a thread pool. Job worker threads call
:meth:`StaticFetcher.fetch`, which submits downloads to the pool and waits for them; a
resource already being downloaded for another job is waited on, not fetched again. Pool
threads only write files into the cache (atomically) and never touch Blender data.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from pathlib import Path

from .cache import Cache
from .errors import Cancelled

DownloadFn = Callable[[str, Path, threading.Event], int]


@dataclass
class StaticResult:
    paths: dict[str, Path] = field(default_factory=dict)  # url -> cached file
    fetched: int = 0
    reused: int = 0
    bytes: int = 0


class StaticFetcher:
    def __init__(self, cache: Cache, max_workers: int = 8) -> None:
        self.cache = cache
        self._pool = ThreadPoolExecutor(max_workers=max_workers,
                                        thread_name_prefix="avatar-static")
        self._inflight: dict[str, Future[int]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def fetch(self, urls: Sequence[str], download: DownloadFn,
              cancel: threading.Event) -> StaticResult:
        result = StaticResult()
        mine: dict[str, Future[int]] = {}
        shared: dict[str, Future[int]] = {}
        for url in dict.fromkeys(urls):
            path = self.cache.static_path(url)
            result.paths[url] = path
            with self._lock:
                if path.is_file():
                    result.reused += 1
                    continue
                future = self._inflight.get(url)
                if future is not None:
                    shared[url] = future
                    continue
                future = self._pool.submit(self._download, url, path, download)
                self._inflight[url] = future
                mine[url] = future
        pending = set(mine.values()) | set(shared.values())
        while pending:
            if cancel.is_set():
                raise Cancelled()
            _done, pending = wait_futures(pending, timeout=0.1)
        for future in (*mine.values(), *shared.values()):
            future.result()  # re-raises the download's error
        result.fetched = len(mine)
        result.reused += len(shared)
        result.bytes = sum(f.result() for f in mine.values())
        return result

    def _download(self, url: str, path: Path, download: DownloadFn) -> int:
        try:
            if path.is_file():  # another process put it there meanwhile
                return 0
            return download(url, path, self._stop)
        finally:
            with self._lock:
                self._inflight.pop(url, None)

    def shutdown(self, wait: bool = True) -> None:
        self._stop.set()
        self._pool.shutdown(wait=wait, cancel_futures=True)
