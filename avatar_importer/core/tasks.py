"""Small background tasks for the UI (option discovery, avatar lists, thumbnails, deletes).

Threading rules: ``TaskRunner`` owns a small thread pool. A task function runs on a pool
thread and may do HTTP and file I/O only: it never touches Blender data. Its result (or
its error) is put on ``self.done``, a ``queue.Queue``; the main thread calls
:meth:`TaskRunner.drain` (from the same timer that pumps the job engines), which calls
each task's ``on_done(result, error)`` on the main thread.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

OnDone = Callable[[Any, BaseException | None], None]


class TaskRunner:
    def __init__(self, workers: int = 2) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="avatar-task")
        self.done: queue.Queue[tuple[OnDone, Any, BaseException | None]] = queue.Queue()
        self.pending = 0
        self._closed = False

    def submit(self, fn: Callable[[], Any], on_done: OnDone) -> None:
        if self._closed:
            return
        self.pending += 1

        def run() -> None:
            try:
                result = fn()
            except BaseException as exc:  # handed to the main thread, which reports it
                self.done.put((on_done, None, exc))
            else:
                self.done.put((on_done, result, None))

        self._pool.submit(run)

    def drain(self, limit: int = 8) -> int:
        """Main thread: deliver up to ``limit`` finished tasks."""
        delivered = 0
        while delivered < limit:
            try:
                on_done, result, error = self.done.get_nowait()
            except queue.Empty:
                break
            self.pending -= 1
            delivered += 1
            on_done(result, error)
        return delivered

    def busy(self) -> bool:
        return self.pending > 0

    def shutdown(self, wait: bool = True) -> None:
        self._closed = True
        self._pool.shutdown(wait=wait, cancel_futures=True)
