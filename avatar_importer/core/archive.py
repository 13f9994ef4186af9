"""Safe extraction of export ZIPs (no bpy).

Rules (each violation raises ``UnsafeArchiveError`` naming the entry and the rule):
entry names must be relative POSIX paths without ``..`` segments, backslashes, drive
letters or control characters; symlinks and other special files are refused; two entries
may not land on the same path (compared case-insensitively, as on Windows and macOS)
nor may a file sit where another entry needs a folder. Size limits are checked twice:
on the sizes the archive declares, and on the bytes actually inflated while extracting
(a zip bomb can lie about its sizes).

Atomicity: everything is extracted into a temporary folder beside ``dest`` (named by
``cache.partial_path``, so a killed run's leftovers can be swept) which is then renamed to
``dest``. On any error the temporary folder is removed and ``dest`` is left
as it was (absent, or the previous complete extraction). An existing ``dest`` is replaced
only after the new extraction completed.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .cache import partial_path, partial_prefix
from .errors import InputError, UnsafeArchiveError

_CHUNK = 1024 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class ArchiveLimits:
    """Bounds for one archive. ``max_ratio`` (uncompressed / compressed) is applied to
    entries larger than ``ratio_min_bytes``: small files legitimately compress very well."""

    max_entries: int = 2000
    max_total_bytes: int = 2 * 1024**3
    max_entry_bytes: int = 1024**3
    max_ratio: float = 200.0
    ratio_min_bytes: int = 1024 * 1024


def _entry_parts(info: zipfile.ZipInfo) -> tuple[str, ...]:
    """Validated path segments of an entry (empty tuple for the root folder itself)."""
    name: str = getattr(info, "orig_filename", None) or info.filename
    shown = name
    if not name:
        raise UnsafeArchiveError("Unsafe archive: an entry has an empty name")
    if "\\" in name:
        raise UnsafeArchiveError(f"Unsafe archive entry {shown!r}: backslashes are not allowed")
    if any(ord(ch) < 0x20 for ch in name):
        raise UnsafeArchiveError(f"Unsafe archive entry {shown!r}: control characters in name")
    if name.startswith("/"):
        raise UnsafeArchiveError(f"Unsafe archive entry {shown!r}: absolute path")
    if _DRIVE.match(name):
        raise UnsafeArchiveError(f"Unsafe archive entry {shown!r}: drive letter")
    segments = name.split("/")
    if ".." in segments:
        raise UnsafeArchiveError(f"Unsafe archive entry {shown!r}: '..' leaves the folder")
    return tuple(s for s in segments if s not in ("", "."))


def _check_mode(info: zipfile.ZipInfo) -> None:
    mode = (info.external_attr >> 16) & 0xFFFF
    kind = stat.S_IFMT(mode)
    if kind == stat.S_IFLNK:
        raise UnsafeArchiveError(f"Unsafe archive entry {info.filename!r}: symbolic link")
    if mode and kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise UnsafeArchiveError(
            f"Unsafe archive entry {info.filename!r}: not a regular file or folder"
        )
    if info.flag_bits & 0x1:
        raise UnsafeArchiveError(f"Archive entry {info.filename!r} is encrypted")


def _check_ratio(name: str, size: int, compressed: int, limits: ArchiveLimits) -> None:
    if size > limits.ratio_min_bytes and size / max(compressed, 1) > limits.max_ratio:
        raise UnsafeArchiveError(
            f"Unsafe archive entry {name!r}: compression ratio {size / max(compressed, 1):.0f} "
            f"exceeds {limits.max_ratio:.0f} (zip bomb?)"
        )


def _plan(
    zf: zipfile.ZipFile, limits: ArchiveLimits
) -> list[tuple[zipfile.ZipInfo, tuple[str, ...]]]:
    """Check every entry on its declared metadata; return (info, parts) in archive order."""
    infos = zf.infolist()
    if len(infos) > limits.max_entries:
        raise UnsafeArchiveError(
            f"Unsafe archive: {len(infos)} entries exceed the limit of {limits.max_entries}"
        )
    plan: list[tuple[zipfile.ZipInfo, tuple[str, ...]]] = []
    files: dict[str, str] = {}
    folders: dict[str, str] = {}
    total = 0
    for info in infos:
        parts = _entry_parts(info)
        _check_mode(info)
        is_dir = info.is_dir()
        if not parts:
            if is_dir:
                continue
            raise UnsafeArchiveError(f"Unsafe archive entry {info.filename!r}: names no file")
        key = "/".join(parts).casefold()
        if key in files or (not is_dir and key in folders):
            raise UnsafeArchiveError(
                f"Unsafe archive entry {info.filename!r}: duplicate of an earlier entry"
            )
        for depth in range(1, len(parts) if not is_dir else len(parts) + 1):
            parent = "/".join(parts[:depth]).casefold()
            if parent in files:
                raise UnsafeArchiveError(
                    f"Unsafe archive entry {info.filename!r}: "
                    f"{files[parent]!r} is a file, not a folder"
                )
            folders.setdefault(parent, info.filename)
        if is_dir:
            plan.append((info, parts))
            continue
        files[key] = info.filename
        if info.file_size > limits.max_entry_bytes:
            raise UnsafeArchiveError(
                f"Unsafe archive entry {info.filename!r}: {info.file_size} bytes exceed the "
                f"per-file limit of {limits.max_entry_bytes}"
            )
        _check_ratio(info.filename, info.file_size, info.compress_size, limits)
        total += info.file_size
        if total > limits.max_total_bytes:
            raise UnsafeArchiveError(
                f"Unsafe archive: entry {info.filename!r} brings the total to {total} bytes, "
                f"over the limit of {limits.max_total_bytes}"
            )
        plan.append((info, parts))
    return plan


def _extract_entry(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, limits: ArchiveLimits,
    total_so_far: int,
) -> int:
    """Copy one entry, counting inflated bytes; return the bytes written."""
    written = 0
    try:
        with zf.open(info) as src, open(target, "xb") as dst:
            while True:
                chunk = src.read(_CHUNK)
                if not chunk:
                    break
                written += len(chunk)
                if written > info.file_size:
                    raise UnsafeArchiveError(
                        f"Unsafe archive entry {info.filename!r}: inflates beyond its declared "
                        f"size of {info.file_size} bytes"
                    )
                if written > limits.max_entry_bytes:
                    raise UnsafeArchiveError(
                        f"Unsafe archive entry {info.filename!r}: over the per-file limit of "
                        f"{limits.max_entry_bytes} bytes"
                    )
                if total_so_far + written > limits.max_total_bytes:
                    raise UnsafeArchiveError(
                        f"Unsafe archive: entry {info.filename!r} brings the total over the "
                        f"limit of {limits.max_total_bytes} bytes"
                    )
                _check_ratio(info.filename, written, info.compress_size, limits)
                dst.write(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise UnsafeArchiveError(
            f"Archive entry {info.filename!r} is corrupt or lies about its size ({exc})"
        ) from exc
    except NotImplementedError as exc:
        raise InputError(
            f"Archive entry {info.filename!r} uses an unsupported format: {exc}"
        ) from exc
    return written


def extract_zip(
    zip_path: Path, dest: Path, limits: ArchiveLimits = ArchiveLimits()
) -> list[Path]:
    """Extract ``zip_path`` into ``dest`` safely and atomically; return the extracted
    files (final paths under ``dest``) in archive order."""
    zip_path = Path(zip_path)
    dest = Path(dest)
    try:
        zf = zipfile.ZipFile(zip_path)
    except FileNotFoundError as exc:
        raise InputError(f"Archive not found: {zip_path}") from exc
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"{zip_path.name} is not a ZIP archive ({exc})") from exc

    with zf:
        try:
            plan = _plan(zf, limits)
        except zipfile.BadZipFile as exc:
            raise InputError(f"{zip_path.name} is a damaged ZIP archive ({exc})") from exc
        dest.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=partial_prefix(dest), suffix=".part",
                                       dir=dest.parent))
        try:
            relative: list[PurePosixPath] = []
            total = 0
            for info, parts in plan:
                target = staging.joinpath(*parts)
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                total += _extract_entry(zf, info, target, limits, total)
                relative.append(PurePosixPath(*parts))
            _swap_into_place(staging, dest)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return [dest.joinpath(*rel.parts) for rel in relative]


def _swap_into_place(staging: Path, dest: Path) -> None:
    if not dest.exists() and not dest.is_symlink():
        os.rename(staging, dest)
        return
    old = partial_path(dest)
    os.rename(dest, old)
    try:
        os.rename(staging, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.rename(old, dest)
        raise
    if old.is_dir() and not old.is_symlink():
        shutil.rmtree(old, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            old.unlink()


def find_model(paths: list[Path]) -> Path:
    """The model among extracted files: ``avatar/model.glb`` when present, else the only
    ``.glb``, else the only ``.gltf``; ``InputError`` when there is none or it is ambiguous."""
    paths = [Path(p) for p in paths]
    for path in paths:
        if path.name.lower() == "model.glb" and path.parent.name.lower() == "avatar":
            return path
    for suffix in (".glb", ".gltf"):
        matches = [p for p in paths if p.suffix.lower() == suffix]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            names = ", ".join(sorted(p.name for p in matches))
            raise InputError(f"The export holds several {suffix} models ({names}); expected one")
    raise InputError("The export holds no .glb or .gltf model")
