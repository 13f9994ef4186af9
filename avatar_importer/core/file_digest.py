"""SHA-256 of a file's content, remembered per file version: one place for every digest
the add-on takes of a file (shared textures from a folder, animation takes of a manifest,
an archive's import folder).

A version is (device, inode, size, modification time): a file written again, in place or
replaced, is read again; the same file asked for by 100 avatars or rows is read once.
Dict reads and writes are atomic, so any thread may call this (two threads may both read
a new file once; the answer is the same). No bpy here.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

_MAX_REMEMBERED = 10_000
_known: dict[tuple[int, int, int, int], str] = {}


def file_version(st: os.stat_result) -> tuple[int, int, int, int]:
    """What tells one version of a file from another (see the module docstring)."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def file_sha256(path: Path | str) -> str:
    """The hex SHA-256 of ``path``'s content (``OSError`` when it cannot be read)."""
    with open(path, "rb") as handle:
        version = file_version(os.fstat(handle.fileno()))
        known = _known.get(version)
        if known is None:
            known = hashlib.file_digest(handle, "sha256").hexdigest()
            if len(_known) >= _MAX_REMEMBERED:
                _known.clear()
            _known[version] = known
    return known
