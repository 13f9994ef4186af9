"""Checks on the user's photo before anything is uploaded (a rejected upload costs time)."""

from __future__ import annotations

from pathlib import Path

from .errors import InputError

_MB = 1024 * 1024  # sizes in messages are binary megabytes, as the limit is
MAX_PHOTO_BYTES = 20 * _MB
_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


def photo_mime(head: bytes) -> str | None:
    for magic, mime in _MAGIC:
        if head.startswith(magic):
            return mime
    return None


def check_photo(path: Path, max_bytes: int = MAX_PHOTO_BYTES) -> str:
    """The photo's MIME type after the cheap checks (a file, not empty, under the size
    limit, a JPEG or PNG by its first bytes), or an :class:`InputError` saying what is
    wrong. Reads 16 bytes: run it before signing in, so a bad photo costs no request."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Photo {path} does not exist or is not a file")
    try:
        size = path.stat().st_size
        if size == 0:
            raise InputError(f"Photo {path.name} is empty")
        if size > max_bytes:
            raise InputError(
                f"Photo {path.name} is {size / _MB:.1f} MB; the limit is "
                f"{max_bytes / _MB:g} MB: use a smaller JPEG or PNG")
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise InputError(f"Photo {path} cannot be read: {exc.strerror or exc}") from None
    mime = photo_mime(head)
    if mime is None:
        raise InputError(f"Photo {path.name} is not a JPEG or PNG image")
    return mime


def read_photo(path: Path, max_bytes: int = MAX_PHOTO_BYTES) -> tuple[bytes, str]:
    """The photo's bytes and MIME type, or an :class:`InputError` saying what is wrong."""
    path = Path(path)
    mime = check_photo(path, max_bytes)
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(f"Photo {path} cannot be read: {exc.strerror or exc}") from None
    if len(data) > max_bytes or photo_mime(data[:16]) != mime:
        raise InputError(f"Photo {path.name} changed while it was being read; try again")
    return data, mime
