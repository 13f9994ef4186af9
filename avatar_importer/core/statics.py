"""Fetching static resources: concurrently, once per process, once per cache.

Threading rules: ``StaticFetcher`` owns a thread pool. Job worker threads call
:meth:`StaticFetcher.fetch`, which submits downloads to the pool and waits for them; a
resource already being downloaded for another job is waited on, not fetched again. Pool
threads only write files into the cache (atomically) and never touch Blender data.

Cancellation: every download in flight counts the jobs waiting for it. A job that is
cancelled stops waiting at once; a download nobody waits for any more is stopped (its own
``threading.Event``), so cancelling the last job that needed a texture leaves no pool
thread busy with it. A later job needing that resource starts a fresh download.
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
from .transport import CancelSwitch

DownloadFn = Callable[[str, Path, threading.Event], int]


@dataclass
class StaticResult:
    paths: dict[str, Path] = field(default_factory=dict)  # url -> cached file
    fetched: int = 0
    reused: int = 0
    bytes: int = 0


@dataclass
class _Flight:
    """One download in flight: its future, its stop switch and how many jobs wait for it."""

    future: Future[int]
    stop: CancelSwitch  # setting it also breaks a read blocked on a silent connection
    waiters: int = 1


class StaticFetcher:
    def __init__(self, cache: Cache, max_workers: int = 8) -> None:
        self.cache = cache
        self._pool = ThreadPoolExecutor(max_workers=max_workers,
                                        thread_name_prefix="avatar-static")
        self._inflight: dict[str, _Flight] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def fetch(self, urls: Sequence[str], download: DownloadFn,
              cancel: threading.Event) -> StaticResult:
        result = StaticResult()
        mine: dict[str, Future[int]] = {}
        shared: dict[str, Future[int]] = {}
        joined: list[tuple[str, _Flight]] = []
        try:
            for url in dict.fromkeys(urls):
                path = self.cache.static_path(url)
                result.paths[url] = path
                with self._lock:
                    if path.is_file():
                        result.reused += 1
                        continue
                    flight = self._inflight.get(url)
                    if flight is not None and not flight.stop.is_set():
                        flight.waiters += 1
                        shared[url] = flight.future
                    else:
                        stop = CancelSwitch()
                        future = self._pool.submit(self._download, url, path, download, stop)
                        flight = self._inflight[url] = _Flight(future, stop)
                        mine[url] = future
                    joined.append((url, flight))
            pending = set(mine.values()) | set(shared.values())
            while pending:
                if cancel.is_set():
                    raise Cancelled()
                _done, pending = wait_futures(pending, timeout=0.1)
        finally:
            self._leave(joined)
        for future in (*mine.values(), *shared.values()):
            if future.cancelled():  # the pool was shut down before it started
                raise Cancelled()
            future.result()  # re-raises the download's error
        result.fetched = len(mine)
        result.reused += len(shared)
        result.bytes = sum(f.result() for f in mine.values())
        return result

    def _leave(self, joined: list[tuple[str, _Flight]]) -> None:
        """This job no longer waits: stop downloads that nobody waits for any more."""
        with self._lock:
            for _url, flight in joined:
                flight.waiters -= 1
                if flight.waiters <= 0 and not flight.future.done():
                    flight.stop.set()

    def _download(self, url: str, path: Path, download: DownloadFn,
                  stop: threading.Event) -> int:
        try:
            if path.is_file():  # another process put it there meanwhile
                return 0
            if self._stop.is_set() or stop.is_set():
                raise Cancelled()
            return download(url, path, stop)
        finally:
            with self._lock:
                flight = self._inflight.get(url)
                if flight is not None and flight.stop is stop:
                    del self._inflight[url]

    def shutdown(self, wait: bool = True) -> None:
        self._stop.set()
        with self._lock:
            for flight in self._inflight.values():
                flight.stop.set()
        self._pool.shutdown(wait=wait, cancel_futures=True)
