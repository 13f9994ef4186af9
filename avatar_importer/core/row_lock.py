"""Locks on files shared by several processes (farm workers on one library folder).

:func:`try_lock` / :class:`RowLock`: a non-blocking exclusive lock per manifest row, held
for as long as the row is being worked on. :func:`exclusive_file_lock`: a short blocking
lock (e.g. around a read-merge-replace of the catalog file).

Where ``fcntl`` exists (Linux, macOS) these are ``flock`` locks: the kernel drops them when
their process ends, however it ends, so a killed worker never leaves a row locked. The
lock file also records who holds it (host, pid, time) for people reading the folder.
Elsewhere (Windows) the lock is a file created with ``O_EXCL`` holding the same facts,
and a lock whose process is gone (same host) or that is older than
:data:`STALE_SECONDS` is taken over. No bpy here.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

STALE_SECONDS = 6 * 3600.0


def _holder() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid(), "since": time.time()}


class RowLock:
    """A held lock; :meth:`release` (or leaving the ``with``) gives it up."""

    def __init__(self, path: Path, handle: IO[str] | None) -> None:
        self.path = path
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:  # flock: closing releases; the file stays
            with contextlib.suppress(OSError):
                self._handle.close()
            self._handle = None
        elif self.path is not None and fcntl is None:
            with contextlib.suppress(OSError):
                self.path.unlink()

    def __enter__(self) -> RowLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def holder_of(path: Path) -> dict[str, Any]:
    """Who holds (or last held) the lock at ``path``: {host, pid, since}, or {}."""
    try:
        data = json.loads(Path(path).read_text() or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def try_lock(path: Path) -> RowLock | None:
    """Take the lock at ``path`` without waiting; None when another process holds it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fcntl is not None:
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 (held until release)
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(_holder()))
        handle.flush()
        return RowLock(path, handle)
    return _try_exclusive_create(path)


def _try_exclusive_create(path: Path) -> RowLock | None:
    for _attempt in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if not _stale(path):
                return None
            with contextlib.suppress(OSError):
                path.unlink()
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(_holder()))
        return RowLock(path, None)
    return None


def _stale(path: Path) -> bool:
    holder = holder_of(path)
    try:
        age = time.time() - path.stat().st_mtime
    except OSError:
        return True
    if holder.get("host") == socket.gethostname() and isinstance(holder.get("pid"), int):
        try:
            os.kill(holder["pid"], 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False
        return False
    return age > STALE_SECONDS


@contextlib.contextmanager
def exclusive_file_lock(path: Path, timeout: float = 120.0) -> Iterator[None]:
    """Wait (up to ``timeout`` seconds) for the lock at ``path``; hold it in the block."""
    deadline = time.monotonic() + timeout
    while True:
        lock = try_lock(path)
        if lock is not None:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"Lock {path} is still held by {holder_of(path) or 'someone'}")
        time.sleep(0.02)
    try:
        yield
    finally:
        lock.release()
