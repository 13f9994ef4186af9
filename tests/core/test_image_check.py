"""The structural texture check that spares the importer decoding every image."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from avatar_importer.core.image_check import image_file_complete
from avatar_importer.sandbox.png import png_bytes


def jpeg(width: int = 8, height: int = 4) -> bytes:
    """JPEG segments laid out as an encoder writes them (the scan data is filler)."""
    app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = b"\x08" + struct.pack(">HH", height, width) + b"\x01\x01\x11\x00"
    sos = b"\x01\x01\x00\x00\x3f\x00"
    return (b"\xff\xd8" + b"\xff\xe0" + struct.pack(">H", len(app0) + 2) + app0
            + b"\xff\xc0" + struct.pack(">H", len(sof) + 2) + sof
            + b"\xff\xda" + struct.pack(">H", len(sos) + 2) + sos + b"\x12\x34" * 50
            + b"\xff\xd9")


def webp() -> bytes:
    body = b"WEBP" + b"VP8L" + struct.pack("<I", 6) + b"\x2f\x00\x00\x00\x00\x00"
    return b"RIFF" + struct.pack("<I", len(body)) + body


def png() -> bytes:
    return png_bytes(16, 8, lambda x, y: (x * 10, y * 20, 128, 255))


@pytest.mark.parametrize("make", [png, jpeg, webp])
def test_complete_images_pass(tmp_path: Path, make) -> None:
    path = tmp_path / "texture"
    path.write_bytes(make())
    assert image_file_complete(path)


@pytest.mark.parametrize("make", [png, jpeg, webp])
def test_truncated_images_fail(tmp_path: Path, make) -> None:
    path = tmp_path / "texture"
    data = make()
    path.write_bytes(data[: len(data) - 7])
    assert not image_file_complete(path)


@pytest.mark.parametrize("data", [b"", b"this is not an image at all", b"<html>sign in</html>",
                                  jpeg(0, 4), png()[:8]])
def test_garbage_and_empty_fail(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "texture"
    path.write_bytes(data)
    assert not image_file_complete(path)


def test_missing_file_fails(tmp_path: Path) -> None:
    assert not image_file_complete(tmp_path / "nothing.png")


@pytest.mark.parametrize("make", [png, jpeg])
def test_a_file_written_again_is_checked_again(tmp_path: Path, make) -> None:
    """Verdicts are remembered per file version: the same path truncated in place, or
    overwritten with garbage of the same size, is not taken as complete any more."""
    path = tmp_path / "texture"
    good = make()
    path.write_bytes(good)
    assert image_file_complete(path)
    with open(path, "r+b") as handle:  # same inode, shorter
        handle.truncate(len(good) - 5)
    assert not image_file_complete(path)
    path.write_bytes(good)
    assert image_file_complete(path)
    path.write_bytes(b"\x00" * len(good))  # same size, new content and mtime
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert not image_file_complete(path)
