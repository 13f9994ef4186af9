"""Blender's asset catalog file, ``blender_assets.cats.txt``, read and merged safely.

The format (what Blender itself writes)::

    # This is an Asset Catalog Definition file for Blender.
    # ...comments...

    VERSION 1

    <UUID>:<catalog/path>:<simple name>

The simple name is the path with ``/`` replaced by ``-`` (as Blender derives it). Every
parent of a catalog gets its own line, as Blender writes them.

:func:`ensure_catalogs` adds the catalogs a writer needs and returns their UUIDs. It holds
an exclusive lock (``<folder>/.avatar_importer/locks/catalogs.lock``) while it reads,
merges and atomically replaces the file, so writers in several processes (farm workers
on one share) lose no line; lines it does not understand and existing catalogs (with
their UUIDs) are kept as they are. No bpy here.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from .cache import write_atomic
from .errors import InputError
from .row_lock import exclusive_file_lock

CATALOG_FILE = "blender_assets.cats.txt"
HEADER = (
    "# This is an Asset Catalog Definition file for Blender.\n"
    "#\n"
    "# Empty lines and lines starting with `#` will be ignored.\n"
    "# The first non-ignored line should be the version indicator.\n"
    '# Other lines are of the format "UUID:catalog/path/for/assets:simple catalog name"\n'
    "\n"
    "VERSION 1\n"
    "\n"
)
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                   r"[0-9a-fA-F]{12}$")


@dataclass(frozen=True)
class Catalog:
    uuid: str
    path: str
    simple_name: str


def normalize_path(path: str) -> str:
    """``/Cast//Leads/`` -> ``Cast/Leads`` (Blender trims slashes and blank levels)."""
    parts = [p.strip() for p in path.replace("\\", "/").split("/")]
    return "/".join(p for p in parts if p)


def simple_name(path: str) -> str:
    return normalize_path(path).replace("/", "-")


def parse(text: str) -> list[Catalog]:
    """The catalogs of a catalog file (first definition of a UUID wins, as in Blender)."""
    out: list[Catalog] = []
    seen: set[str] = set()
    version_seen = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not version_seen and line.startswith("VERSION "):
            version_seen = True
            if line.split()[1] != "1":
                raise InputError(f"Asset catalog file has {line!r}; only VERSION 1 "
                                 "is understood")
            continue
        ident, _, rest = line.partition(":")
        path, _, name = rest.partition(":")
        ident = ident.strip()
        if not _UUID.match(ident) or ident.lower() in seen:
            continue
        seen.add(ident.lower())
        out.append(Catalog(ident.lower(), normalize_path(path), name.strip()))
    return out


def read(folder: Path) -> list[Catalog]:
    path = Path(folder) / CATALOG_FILE
    try:
        return parse(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []


def with_parents(path: str) -> list[str]:
    parts = normalize_path(path).split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]


def ensure_catalogs(folder: Path, paths: list[str]) -> dict[str, str]:
    """Make sure ``folder``'s catalog file defines every path in ``paths`` (and their
    parents); returns {path: UUID} for ``paths``. Existing catalogs keep their UUIDs."""
    folder = Path(folder)
    wanted = [normalize_path(p) for p in paths]
    if any(not p for p in wanted):
        raise InputError("An asset catalog path cannot be empty")
    lock = folder / ".avatar_importer" / "locks" / "catalogs.lock"
    with exclusive_file_lock(lock):
        target = folder / CATALOG_FILE
        try:
            text = target.read_text(encoding="utf-8")
        except FileNotFoundError:
            text = ""
        catalogs = parse(text)
        by_path: dict[str, str] = {}
        for cat in catalogs:
            by_path.setdefault(cat.path, cat.uuid)
        new_lines: list[str] = []
        for path in wanted:
            for level in with_parents(path):
                if level not in by_path:
                    by_path[level] = str(uuid.uuid4())
                    new_lines.append(f"{by_path[level]}:{level}:{simple_name(level)}\n")
        if new_lines:
            if not text.strip():
                text = HEADER
            elif not text.endswith("\n"):
                text += "\n"
            write_atomic(target, (text + "".join(new_lines)).encode("utf-8"))
    return {path: by_path[path] for path in wanted}
