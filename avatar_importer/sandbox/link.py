"""One bandwidth cap shared by the sandbox's file downloads (``link_bytes_per_second``).

Every download streams through one token bucket, so N parallel downloads share the rate as
they would share a real link (unlike the per-download ``download_bytes_per_second`` fault).
Thread-safe: handler threads call ``take`` concurrently; the lock is never held while
sleeping.
"""

from __future__ import annotations

import threading
import time


class Link:
    """``take(n)`` returns once ``n`` more bytes fit within ``bytes_per_second``."""

    def __init__(self, bytes_per_second: float, burst_seconds: float = 0.05) -> None:
        if bytes_per_second <= 0:
            raise ValueError("link_bytes_per_second must be positive")
        self.rate = float(bytes_per_second)
        self._lock = threading.Lock()
        self._next_free = time.monotonic()  # when the link has sent everything so far
        self._burst = burst_seconds

    def take(self, nbytes: int) -> None:
        with self._lock:
            now = time.monotonic()
            start = max(self._next_free, now - self._burst)
            self._next_free = start + nbytes / self.rate
            wait = self._next_free - now
        if wait > 0:
            time.sleep(wait)
