"""Checks on the user's photo before anything is uploaded (a rejected upload costs time)."""

from __future__ import annotations

from pathlib import Path

from .errors import InputError

MAX_PHOTO_BYTES = 20 * 1024 * 1024
_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


def photo_mime(head: bytes) -> str | None:
    for magic, mime in _MAGIC:
        if head.startswith(magic):
            return mime
    return None


def read_photo(path: Path, max_bytes: int = MAX_PHOTO_BYTES) -> tuple[bytes, str]:
    """The photo's bytes and MIME type, or an :class:`InputError` saying what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Photo {path} does not exist or is not a file")
    try:
        size = path.stat().st_size
        if size == 0:
            raise InputError(f"Photo {path.name} is empty")
        if size > max_bytes:
            raise InputError(
                f"Photo {path.name} is {size / 1e6:.1f} MB; the limit is "
                f"{max_bytes / 1e6:.0f} MB: use a smaller JPEG or PNG")
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"Photo {path} cannot be read: {exc.strerror or exc}") from None
    mime = photo_mime(data[:16])
    if mime is None:
        raise InputError(f"Photo {path.name} is not a JPEG or PNG image")
    return data, mime
