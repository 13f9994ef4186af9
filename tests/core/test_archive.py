"""Safe ZIP extraction and model discovery (plain Python)."""

from __future__ import annotations

import contextlib
import stat
import struct
import zipfile
from pathlib import Path

import pytest

from avatar_importer.core.archive import ArchiveLimits, extract_zip, find_model
from avatar_importer.core.errors import InputError, UnsafeArchiveError


def make_zip(path: Path, entries: list[tuple[str | zipfile.ZipInfo, bytes]],
             compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return path


def assert_nothing_left(dest: Path) -> None:
    assert not dest.exists()
    leftovers = [p.name for p in dest.parent.iterdir() if p.name.startswith(f".{dest.name}.")]
    assert leftovers == []


# --- happy paths ---------------------------------------------------------------------------


def test_extracts_export(tmp_path: Path) -> None:
    zpath = make_zip(tmp_path / "export.zip", [
        ("avatar/", b""),
        ("avatar/model.glb", b"glTF...."),
        ("avatar/ARPI_Color_1K.jpg", b"\xff\xd8" + b"j" * 1000),
        ("./readme.txt", b"hello"),
    ])
    dest = tmp_path / "out" / "export"
    files = extract_zip(zpath, dest)
    assert files == [dest / "avatar" / "model.glb", dest / "avatar" / "ARPI_Color_1K.jpg",
                     dest / "readme.txt"]
    assert (dest / "avatar" / "model.glb").read_bytes() == b"glTF...."
    assert find_model(files) == dest / "avatar" / "model.glb"
    assert [p.name for p in dest.parent.iterdir()] == ["export"]


def test_replaces_previous_extraction(tmp_path: Path) -> None:
    dest = tmp_path / "export"
    extract_zip(make_zip(tmp_path / "a.zip", [("old.txt", b"old")]), dest)
    extract_zip(make_zip(tmp_path / "b.zip", [("new.txt", b"new")]), dest)
    assert sorted(p.name for p in dest.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.zip", "b.zip", "export"]


def test_failed_extraction_keeps_previous(tmp_path: Path) -> None:
    dest = tmp_path / "export"
    extract_zip(make_zip(tmp_path / "a.zip", [("old.txt", b"old")]), dest)
    bad = make_zip(tmp_path / "b.zip", [("fine.txt", b"x"), ("../evil.txt", b"x")])
    with pytest.raises(UnsafeArchiveError):
        extract_zip(bad, dest)
    assert sorted(p.name for p in dest.iterdir()) == ["old.txt"]


def test_stored_entries_and_small_compressible_files(tmp_path: Path) -> None:
    # tiny files compress far beyond the ratio limit; they are not bombs
    zpath = make_zip(tmp_path / "z.zip", [("a.json", b"{}" + b" " * 50_000)])
    files = extract_zip(zpath, tmp_path / "d")
    assert files[0].stat().st_size == 50_002
    zpath = make_zip(tmp_path / "s.zip", [("b.bin", b"\x00" * 10)], zipfile.ZIP_STORED)
    assert extract_zip(zpath, tmp_path / "e")[0].read_bytes() == b"\x00" * 10


# --- unsafe names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, rule",
    [
        ("../evil.txt", r"'\.\.'"),
        ("avatar/../../evil.txt", r"'\.\.'"),
        ("/etc/passwd", "absolute"),
        ("//host/x", "absolute"),
        ("C:/evil.txt", "drive"),
        ("c:evil.txt", "drive"),
        ("..\\evil.txt", "backslash"),
        ("avatar\\model.glb", "backslash"),
    ],
)
def test_unsafe_entry_names(tmp_path: Path, name: str, rule: str) -> None:
    zpath = make_zip(tmp_path / "bad.zip", [("ok.txt", b"fine"), (name, b"evil")])
    dest = tmp_path / "out"
    with pytest.raises(UnsafeArchiveError, match=rule) as info:
        extract_zip(zpath, dest)
    assert name in str(info.value) or repr(name)[1:-1] in str(info.value)
    assert_nothing_left(dest)
    assert not (tmp_path / "evil.txt").exists()


def test_symlink_entry(tmp_path: Path) -> None:
    link = zipfile.ZipInfo("avatar/link.png")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    zpath = make_zip(tmp_path / "l.zip", [("avatar/model.glb", b"g"), (link, b"/etc/passwd")])
    dest = tmp_path / "out"
    with pytest.raises(UnsafeArchiveError, match=r"avatar/link\.png.*symbolic link"):
        extract_zip(zpath, dest)
    assert_nothing_left(dest)


def test_device_entry(tmp_path: Path) -> None:
    dev = zipfile.ZipInfo("fifo")
    dev.create_system = 3
    dev.external_attr = (stat.S_IFIFO | 0o644) << 16
    zpath = make_zip(tmp_path / "f.zip", [(dev, b"")])
    with pytest.raises(UnsafeArchiveError, match="regular file"):
        extract_zip(zpath, tmp_path / "out")


@pytest.mark.parametrize(
    "names",
    [
        ["avatar/model.glb", "avatar/model.glb"],
        ["avatar/Model.glb", "avatar/model.GLB"],
        ["a.txt", "./a.txt"],
        ["a", "a/b.txt"],
        ["a/b.txt", "a"],
    ],
)
def test_duplicate_or_conflicting_entries(tmp_path: Path, names: list[str]) -> None:
    zpath = tmp_path / "d.zip"
    with pytest.warns(UserWarning) if names[0] == names[1] else contextlib.nullcontext():
        make_zip(zpath, [(n, b"x") for n in names])
    dest = tmp_path / "out"
    with pytest.raises(UnsafeArchiveError, match=r"duplicate|not a folder"):
        extract_zip(zpath, dest)
    assert_nothing_left(dest)


# --- limits and bombs -------------------------------------------------------------------------


def test_bomb_by_ratio(tmp_path: Path) -> None:
    zpath = make_zip(tmp_path / "bomb.zip", [("avatar/model.glb", b"\x00" * (8 * 1024 * 1024))])
    dest = tmp_path / "out"
    with pytest.raises(UnsafeArchiveError, match=r"model\.glb.*ratio"):
        extract_zip(zpath, dest)
    assert_nothing_left(dest)


def test_bomb_by_total(tmp_path: Path) -> None:
    entries = [(f"part{i}.bin", bytes(range(256)) * 400) for i in range(5)]  # 5 x 100 KiB
    zpath = make_zip(tmp_path / "t.zip", entries)
    dest = tmp_path / "out"
    limits = ArchiveLimits(max_total_bytes=300 * 1024)
    with pytest.raises(UnsafeArchiveError, match=r"part3\.bin.*total"):
        extract_zip(zpath, dest, limits)
    assert_nothing_left(dest)


def test_entry_too_large(tmp_path: Path) -> None:
    zpath = make_zip(tmp_path / "t.zip", [("big.bin", b"x" * 5000)])
    with pytest.raises(UnsafeArchiveError, match=r"big\.bin.*per-file"):
        extract_zip(zpath, tmp_path / "out", ArchiveLimits(max_entry_bytes=4000))


def test_too_many_entries(tmp_path: Path) -> None:
    zpath = make_zip(tmp_path / "t.zip", [(f"f{i}", b"x") for i in range(11)])
    with pytest.raises(UnsafeArchiveError, match="11 entries"):
        extract_zip(zpath, tmp_path / "out", ArchiveLimits(max_entries=10))


def _patch_declared_size(zpath: Path, new_size: int) -> None:
    """Make the archive lie: rewrite the uncompressed size in local and central headers."""
    data = bytearray(zpath.read_bytes())
    pos = data.find(b"PK\x03\x04")
    struct.pack_into("<I", data, pos + 22, new_size)
    pos = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, pos + 24, new_size)
    zpath.write_bytes(bytes(data))


def test_bomb_lying_about_its_size(tmp_path: Path) -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB, poorly compressible enough to pass the ratio
    zpath = make_zip(tmp_path / "liar.zip", [("avatar/model.glb", payload)])
    _patch_declared_size(zpath, 1000)
    dest = tmp_path / "out"
    with pytest.raises(UnsafeArchiveError, match=r"model\.glb"):
        extract_zip(zpath, dest, ArchiveLimits(max_entry_bytes=2000))
    assert_nothing_left(dest)


# --- not a zip, find_model ------------------------------------------------------------------------


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "export.zip"
    path.write_bytes(b"<html>Access denied</html>")
    with pytest.raises(InputError, match=r"export\.zip is not a ZIP"):
        extract_zip(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_missing_zip(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        extract_zip(tmp_path / "nope.zip", tmp_path / "out")


def test_find_model() -> None:
    assert find_model([Path("x/a.png"), Path("x/only.glb")]) == Path("x/only.glb")
    assert find_model([Path("x/scene.gltf"), Path("x/a.bin")]) == Path("x/scene.gltf")
    assert find_model([Path("o/other.glb"), Path("o/avatar/model.glb")]) == Path(
        "o/avatar/model.glb"
    )
    assert find_model([Path("a.gltf"), Path("b.glb")]) == Path("b.glb")
    with pytest.raises(InputError, match=r"no \.glb"):
        find_model([Path("a.png")])
    with pytest.raises(InputError, match="several"):
        find_model([Path("a.glb"), Path("b.glb")])
