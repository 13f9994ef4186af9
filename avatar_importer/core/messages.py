"""What headless scripts tell the user: progress on stdout, warnings and errors on stderr.

    from ..core import messages
    messages.configure(quiet=args.quiet)
    messages.say("downloading ...")        # progress: stdout; silenced by quiet
    messages.warn("preview render failed")  # stderr, "warning: " prefix; always shown
    messages.error("Photo x.jpg is missing") # stderr, "error: " prefix; always shown

Every line starts with ``[avatar_importer HH:MM:SS]``. ``silenced_stdout`` also quiets
what Blender's C code prints on the process's stdout (Cycles' per-sample progress lines,
"Info: Saved ..."), which ``print`` redirection cannot reach. ``quiet`` silences stdout only:
warnings and errors are always printed (a warning is something the user must act on, e.g.
a preview that was not rendered). Machine-readable output (the JSON report) never goes
through here.

Threading: any thread may call ``say``/``warn``/``error``; one lock keeps lines whole.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator
from typing import TextIO

__all__ = ["configure", "error", "is_quiet", "say", "silenced_stdout", "warn"]

PREFIX = "avatar_importer"


class _Settings:
    quiet = False
    lock = threading.Lock()


def configure(*, quiet: bool = False) -> None:
    """``quiet=True``: progress (``say``) is not printed; warnings and errors still are."""
    _Settings.quiet = bool(quiet)


def is_quiet() -> bool:
    return _Settings.quiet


def _emit(stream: TextIO, text: str) -> None:
    line = f"[{PREFIX} {time.strftime('%H:%M:%S')}] {text}"
    with _Settings.lock:
        print(line, file=stream, flush=True)


def say(text: str) -> None:
    """Progress and results: stdout, unless quiet."""
    if not _Settings.quiet:
        _emit(sys.stdout, text)


def warn(text: str) -> None:
    """Something went wrong but the run goes on: stderr, always."""
    _emit(sys.stderr, f"warning: {text}")


def error(text: str) -> None:
    """Something failed: stderr, always."""
    _emit(sys.stderr, f"error: {text}")


@contextlib.contextmanager
def silenced_stdout(active: bool = True) -> Iterator[None]:
    """While ``active``: file descriptor 1 (Python's and C code's stdout) goes to the null
    device; restored afterwards. stderr is untouched. Main thread only (it swaps a
    process-wide descriptor)."""
    if not active:
        yield
        return
    with _Settings.lock:
        sys.stdout.flush()
        saved = os.dup(1)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.close(null)
    try:
        yield
    finally:
        with _Settings.lock:
            with contextlib.suppress(ValueError, OSError):
                sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
