"""Fault matrix, hostile input: photos, export archives, GLB files."""

from __future__ import annotations

import errno
import io
import os
import stat
import struct
import time
import zipfile
from pathlib import Path

import pytest

from avatar_importer.core import photo as photo_module
from avatar_importer.core.archive import ArchiveLimits, extract_zip
from avatar_importer.core.errors import GlbFormatError, InputError, UnsafeArchiveError
from avatar_importer.core.glb import Glb, encode_glb, resolve_images
from avatar_importer.core.stages import Stage

from .helpers import engine, part_files, short, since, spec

GOOD_GLB = encode_glb(Glb(json={"asset": {"version": "2.0"}, "scenes": [{"nodes": []}]}))


# --- photos ---------------------------------------------------------------------------


def _run_photo_job(sandbox, cache, path: Path, **client_kw) -> tuple:
    eng = engine(sandbox, cache, client=client_kw)
    try:
        t0 = time.monotonic()
        job = eng.submit(spec(path))
        eng.run_until_done(timeout=30)
        spent = time.monotonic() - t0
    finally:
        eng.shutdown()
    return job, since(sandbox, 0), spent


PHOTO_CASES = [
    ("I01", "photo that is not an image (text file named .jpg)", "not a JPEG or PNG",
     lambda p: p.write_text("these are my notes, not a face")),
    ("I02", "empty photo file", "is empty", lambda p: p.write_bytes(b"")),
    ("R10", "regression: photo over the 20 MB limit (25 MB, a sparse file)",
     "is 25.0 MB; the limit is 20 MB", lambda p: _sparse_jpeg(p, 25 * 1024 * 1024)),
    ("I04", "photo path is a folder", "does not exist or is not a file",
     lambda p: p.mkdir()),
    ("I05", "photo path is a dangling symlink", "does not exist or is not a file",
     lambda p: p.symlink_to(p.parent / "gone.jpg")),
]


def _sparse_jpeg(path: Path, size: int) -> None:
    with open(path, "wb") as fh:
        fh.write(b"\xff\xd8\xff\xe0" + b"\0" * 12)
        fh.truncate(size)


@pytest.mark.parametrize("row_id,what,words,make", PHOTO_CASES, ids=[c[0] for c in PHOTO_CASES])
def test_bad_photo_is_refused_before_any_request(fault, sandbox, cache, tmp_path,
                                                 row_id, what, words, make):
    was = " (was: 'the limit is 21 MB', decimal vs binary)" if row_id == "R10" else ""
    row = fault.row(row_id, what, f"job failed [input] '{words}'{was}; no request at all "
                    "(no sign-in, no upload)")
    path = tmp_path / "photo.jpg"
    make(path)
    job, requests, spent = _run_photo_job(sandbox, cache, path)
    row.saw(f"{job.stage.value} [{job.error_kind}] {short(job.error)}; {len(requests)} "
            f"requests; {spent:.2f} s")
    assert job.stage == Stage.FAILED and job.error_kind == "input" and words in job.error
    assert requests == [] and spent < 2.0


def test_unreadable_photo(fault, sandbox, cache, tmp_path, monkeypatch):
    row = fault.row("I06", "unreadable photo (EACCES; simulated: the suite runs as root)",
                    "job failed [input] 'cannot be read: Permission denied'; no request")
    path = tmp_path / "locked.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 100)
    path.chmod(0)
    real_open = open

    def guarded_open(file, *args, **kwargs):
        if Path(file) == path and (os.geteuid() == 0 or os.access(path, os.R_OK)):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(photo_module, "open", guarded_open, raising=False)
    job, requests, _ = _run_photo_job(sandbox, cache, path)
    path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    row.saw(f"{job.stage.value} [{job.error_kind}] {short(job.error)}; {len(requests)} "
            "requests")
    assert job.error_kind == "input" and "cannot be read: Permission denied" in job.error
    assert requests == []


def test_bad_photo_is_named_before_credentials_are_tried(fault, sandbox, cache, tmp_path):
    row = fault.row("R09", "regression: bad photo AND wrong client secret",
                    "the photo is named ('not a JPEG or PNG'), no token request (was: "
                    "signed in and created a player first, then blamed the credentials)")
    path = tmp_path / "photo.jpg"
    path.write_bytes(b"GIF89a" + b"\0" * 64)
    job, requests, _ = _run_photo_job(sandbox, cache, path, client_secret="wrong")
    row.saw(f"{job.stage.value} [{job.error_kind}] {short(job.error)}; {len(requests)} "
            "requests")
    assert "not a JPEG or PNG" in job.error and requests == []


# --- archives ---------------------------------------------------------------------------


def _zip(entries: list[tuple[zipfile.ZipInfo | str, bytes]],
         compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for info, data in entries:
            zf.writestr(info, data)
    return buf.getvalue()


def _symlink_entry() -> zipfile.ZipInfo:
    info = zipfile.ZipInfo("avatar/link.png")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def _liar() -> bytes:
    """A 3 MB entry whose headers claim 100 kB: a zip bomb lying about its size."""
    data = bytearray(_zip([("avatar/model.glb", GOOD_GLB), ("avatar/a.png", bytes(3_000_000))]))
    declared = struct.pack("<I", 100_000)
    local = data.find(b"PK\x03\x04", 1)  # the second entry's local header
    data[local + 22: local + 26] = declared
    central = data.find(b"PK\x01\x02")
    central = data.find(b"PK\x01\x02", central + 1)  # the second entry's central header
    data[central + 24: central + 28] = declared
    return bytes(data)


ARCHIVE_CASES = [
    ("I07", "export zip with a ../ entry", "'..' leaves the folder",
     lambda: _zip([("avatar/model.glb", GOOD_GLB), ("../../evil.txt", b"pwned")]),
     ArchiveLimits()),
    ("I08", "export zip with an absolute path entry", "absolute path",
     lambda: _zip([("/tmp/evil.txt", b"pwned")]), ArchiveLimits()),
    ("I09", "export zip with a symlink entry", "symbolic link",
     lambda: _zip([("avatar/model.glb", GOOD_GLB), (_symlink_entry(), b"/etc/passwd")]),
     ArchiveLimits()),
    ("I10", "zip bomb: 50 MB of zeros in 50 kB (ratio ~1000)", "compression ratio",
     lambda: _zip([("avatar/model.glb", bytes(50_000_000))]), ArchiveLimits()),
    ("I11", "zip bomb: entries over the total size limit (limit 1 MB here)",
     "over the limit", lambda: _zip([("a.bin", bytes(600_000)), ("b.bin", bytes(600_000))],
                                    zipfile.ZIP_STORED),
     ArchiveLimits(max_total_bytes=1_000_000)),
    ("I12", "zip bomb lying about its size (3 MB declared as 100 kB)",
     "lies about its size", _liar, ArchiveLimits()),
]


@pytest.mark.parametrize("row_id,what,words,build,limits", ARCHIVE_CASES,
                         ids=[c[0] for c in ARCHIVE_CASES])
def test_hostile_archive_is_refused_whole(fault, tmp_path, row_id, what, words, build,
                                          limits):
    row = fault.row(row_id, what, f"UnsafeArchiveError '{words}'; the destination absent; "
                    "nothing written outside; no temporary folder left")
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    archive = work / "export.zip"
    archive.write_bytes(build())
    dest = work / "extracted"
    with pytest.raises(UnsafeArchiveError) as err:
        extract_zip(archive, dest, limits)
    leftovers = sorted(p.name for p in tmp_path.rglob("*") if p != archive and p != work
                       and p != work.parent)
    row.saw(f"{short(err.value.message)}; files left besides the zip: {leftovers}")
    assert words in err.value.message and not dest.exists() and leftovers == []
    assert not Path("/tmp/evil.txt").exists()


def test_hostile_archive_from_the_service(fault, sandbox, photo, cache, tmp_path):
    row = fault.row("I13", "the service's export zip holds ../../../evil.txt",
                    "job failed [unsafe_archive]; the bad zip deleted, nothing extracted, "
                    "nothing written outside the cache; importer never called")
    evil = _zip([("avatar/model.glb", GOOD_GLB), ("../../../evil.txt", b"pwned")])
    sandbox._archive = lambda choice: evil  # the service turned hostile
    imported = []
    eng = engine(sandbox, cache, importer=imported.append)
    try:
        job = eng.submit(spec(photo))
        eng.run_until_done(timeout=30)
    finally:
        eng.shutdown()
    exports = cache.root / "exports"
    kept = sorted(p.name for p in exports.rglob("*")) if exports.exists() else []
    outside = [p for p in (tmp_path, tmp_path.parent, cache.root) if (p / "evil.txt").exists()]
    row.saw(f"{job.stage.value} [{job.error_kind}] {short(job.error)}; left under exports/: "
            f"{[k for k in kept if '.' in k]}; imports {len(imported)}")
    assert job.stage == Stage.FAILED and job.error_kind == "unsafe_archive"
    assert not [k for k in kept if "." in k] and not outside and not imported
    assert not part_files(cache.root)


# --- GLB files ----------------------------------------------------------------------------

GLB_URI_CASES = [
    ("I14", "GLB image URI ../../../../etc/hostname", "../../../../etc/hostname",
     "outside the GLB's folder"),
    ("I15", "GLB image URI absolute /etc/passwd", "/etc/passwd", "absolute paths"),
    ("I16", "GLB image URI C:\\Windows\\win.ini", "C:\\Windows\\win.ini",
     "not URLs or drive paths"),
    ("I17", "GLB image URI file:///etc/passwd", "file:///etc/passwd",
     "not URLs or drive paths"),
    ("I18", "GLB image URI http://evil.example/x.png", "http://evil.example/x.png",
     "not URLs or drive paths"),
    ("I19", "GLB image URI percent-encoded ..%2F..%2Fetc%2Fpasswd",
     "..%2F..%2Fetc%2Fpasswd", "outside the GLB's folder"),
]


@pytest.mark.parametrize("row_id,what,uri,words", GLB_URI_CASES,
                         ids=[c[0] for c in GLB_URI_CASES])
def test_glb_with_unsafe_image_uri(fault, tmp_path, row_id, what, uri, words):
    row = fault.row(row_id, what, f"UnsafeUriError '{words}' before any image is looked "
                    "up or read")
    glb = tmp_path / "avatar" / "model.glb"
    glb.parent.mkdir()
    glb.write_bytes(encode_glb(Glb(json={"asset": {"version": "2.0"},
                                         "images": [{"uri": "ok.png"}, {"uri": uri}]})))
    with pytest.raises(InputError) as err:
        resolve_images(glb, [tmp_path])
    row.saw(f"{type(err.value).__name__}: {short(err.value.message)}")
    assert type(err.value).__name__ == "UnsafeUriError" and words in err.value.message


@pytest.mark.parametrize("row_id,what,data,words", [
    ("I20", "a file that is not a GLB (a PNG named model.glb)", b"\x89PNG\r\n\x1a\n" + bytes(64),
     "is not a GLB file"),
    ("I21", "a truncated GLB (cut in the middle of its JSON chunk)", GOOD_GLB[:30],
     "truncated"),
], ids=["I20", "I21"])
def test_broken_glb(fault, tmp_path, row_id, what, data, words):
    row = fault.row(row_id, what, f"GlbFormatError '{words}' naming the file")
    glb = tmp_path / "model.glb"
    glb.write_bytes(data)
    with pytest.raises(GlbFormatError) as err:
        resolve_images(glb)
    row.saw(f"{short(err.value.message)}")
    assert words in err.value.message and "model.glb" in err.value.message
