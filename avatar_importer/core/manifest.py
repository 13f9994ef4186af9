"""A studio's list of people to turn into avatars: the batch script's ``--manifest FILE``.

A manifest is a CSV file with a header row, or a JSON file holding a list of objects. Each
row (object) is one avatar; its columns (keys) are :data:`COLUMNS`. Only ``name`` is
required; ``photo`` (or ``avatar_id``) says where the avatar comes from.

Errors come in two sizes:

* :class:`ManifestError` (an ``InputError``): the file as a whole is unusable (unreadable,
  not CSV/JSON, no ``name`` column, unknown columns). The run stops with exit code 2.
* :class:`RowProblem`: one row is bad (a missing photo, an unknown option value, a
  duplicate name). That row fails with a message naming the row and the column; the
  other rows run.

Rows are numbered from 1 in file order (the CSV header is not a row); ``--rows 3-7`` and
``--rows 5`` select by that number (:func:`parse_row_range`). No bpy here.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputError
from .library_names import MAX_NAME_BYTES, name_key, name_problem
from .manifest_animation import COLUMNS as ANIMATION_COLUMNS
from .manifest_animation import AnimationColumnError, RowAnimation, check_merged, parse_columns
from .options import BLENDSHAPE_SETS, LODS, NONE, PROFILES, AvatarChoices

COLUMNS = ("name", "photo", "side_photo_1", "side_photo_2", "service", "subtype",
           "avatar_id", "lod", "profile", "haircut", "outfit", "glasses", "blendshapes",
           "catalog", "tags", "description", *ANIMATION_COLUMNS)
SERVICE_NAMES = ("avatarsdk", "sandbox", "avaturn")
SUBTYPES = ("male", "female")
MAX_NAME = MAX_NAME_BYTES  # a row's name names its library file (core.library_names)
_CATALOG_SEGMENT_BAD = re.compile(r"[:\\\x00-\x1f]")
_EXTRA = "\x00extra"  # a CSV row with more cells than the header


class ManifestError(InputError):
    """The manifest file as a whole cannot be used (exit code 2)."""

    kind = "manifest"


@dataclass(frozen=True)
class RowProblem:
    """Why one row cannot run."""

    row: int
    name: str
    column: str
    message: str

    def __str__(self) -> str:
        who = f" ({self.name})" if self.name else ""
        return f"row {self.row}{who}, column {self.column!r}: {self.message}"


@dataclass
class ManifestRow:
    row: int  # 1-based, in file order
    name: str
    photo: Path | None = None
    side_photos: tuple[Path, ...] = ()
    service: str = ""  # empty: the run's --service
    subtype: str = ""  # empty: the run's --subtype
    avatar_id: str = ""
    lod: str = ""
    profile: str = ""
    haircut: str = ""
    outfit: str = ""
    glasses: str = ""
    blendshapes: list[str] = field(default_factory=list)
    catalog: str = ""
    tags: list[str] = field(default_factory=list)
    description: str = ""
    animation: RowAnimation = field(default_factory=RowAnimation)  # merged with the run's

    def choices(self) -> AvatarChoices:
        """The export options this row asks for; empty columns keep the defaults."""
        choices = AvatarChoices()
        if self.lod:
            choices.lod = self.lod
        if self.profile:
            choices.profile = self.profile
        if self.haircut:
            choices.haircut = self.haircut
        if self.outfit:
            choices.outfit = self.outfit
        if self.glasses:
            choices.glasses = self.glasses
        if self.blendshapes:
            choices.blendshapes = list(self.blendshapes)
        return choices

    def export_parameters(self) -> dict[str, Any]:
        return self.choices().export_parameters()

    def catalog_path(self, service: str, subtype: str) -> str:
        """The asset catalog: the row's own, else ``Avatars/<service>/<subtype>``."""
        return self.catalog or f"Avatars/{service}/{subtype}"


@dataclass
class Manifest:
    path: Path
    rows: list[ManifestRow]
    problems: list[RowProblem]
    total: int  # rows in the file, good and bad

    def select(self, first: int, last: int) -> tuple[list[ManifestRow], list[RowProblem]]:
        """Rows ``first``..``last`` (1-based, inclusive) and the problems among them."""
        return ([r for r in self.rows if first <= r.row <= last],
                [p for p in self.problems if first <= p.row <= last])


def parse_row_range(text: str, total: int | None = None) -> tuple[int, int]:
    """``"3-7"`` -> (3, 7); ``"5"`` -> (5, 5). With ``total``, an end past the last row
    is cut to it (a farm's last chunk), but a start past it is an error."""
    value = str(text).strip()
    match = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", value)
    if not match:
        raise InputError(f"--rows {text!r}: give a row number (5) or a range (3-7), "
                         "counted from 1")
    first = int(match[1])
    last = int(match[2]) if match[2] else first
    if first < 1 or last < first:
        raise InputError(f"--rows {text!r}: rows count from 1 and a range goes upwards")
    if total is not None:
        if first > total:
            raise InputError(f"--rows {text!r}: the manifest has only {total} row(s)")
        last = min(last, total)
    return first, last


def chunk_starts(total: int, per_task: int) -> list[int]:
    """First row of each farm task of ``per_task`` rows: ``chunk_starts(7, 3) == [1, 4, 7]``."""
    if per_task < 1:
        raise InputError("rows per task must be at least 1")
    return list(range(1, total + 1, per_task))


# --- reading --------------------------------------------------------------------------


def load_manifest(path: Path, *, default_service: str = "", default_subtype: str = "",
                  animation_defaults: RowAnimation | None = None,
                  user_presets: Path | None = None) -> Manifest:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ManifestError(f"Manifest {path} cannot be read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ManifestError(f"Manifest {path} is not UTF-8 text") from None
    raw = _read_json(path, text) if _looks_json(path, text) else _read_csv(path, text)
    return parse_rows(raw, base=path.parent, source=path, default_service=default_service,
                      default_subtype=default_subtype, animation_defaults=animation_defaults,
                      user_presets=user_presets)


def _looks_json(path: Path, text: str) -> bool:
    if path.suffix.lower() == ".json":
        return True
    if path.suffix.lower() == ".csv":
        return False
    return text.lstrip().startswith(("[", "{"))


def _read_json(path: Path, text: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ManifestError(f"Manifest {path} is not valid JSON: {exc}") from None
    if not isinstance(data, list):
        raise ManifestError(f"Manifest {path} must hold a JSON list of objects, one per "
                            "avatar")
    for i, item in enumerate(data, 1):
        if not isinstance(item, dict):
            raise ManifestError(f"Manifest {path}: item {i} is not an object "
                                f"({type(item).__name__})")
    unknown = sorted({str(k) for item in data for k in item} - set(COLUMNS))
    if unknown:
        raise ManifestError(_unknown_text(path, unknown, "key"))
    if data and not any("name" in item for item in data):
        raise ManifestError(f"Manifest {path}: no item has a \"name\" (required)")
    return data


def _read_csv(path: Path, text: str) -> list[dict[str, Any]]:
    if not text.strip():
        raise ManifestError(f"Manifest {path} is empty: it needs a header row "
                            f"(at least \"name\") and one row per avatar")
    try:
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        lines = list(reader)
    except csv.Error as exc:
        raise ManifestError(f"Manifest {path} is not valid CSV: {exc}") from None
    header = [h.strip() for h in lines[0]]
    unknown = sorted({h for h in header if h not in COLUMNS})
    if unknown:
        raise ManifestError(_unknown_text(path, unknown, "column"))
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise ManifestError(f"Manifest {path}: column(s) given twice: {', '.join(dupes)}")
    if "name" not in header:
        raise ManifestError(f"Manifest {path}: the header row has no \"name\" column "
                            "(required)")
    rows: list[dict[str, Any]] = []
    for cells in lines[1:]:
        if not any(c.strip() for c in cells):
            continue  # blank lines are not rows (a trailing newline, spacing)
        item: dict[str, Any] = {h: c for h, c in zip(header, cells, strict=False)}
        if len(cells) > len(header):
            item[_EXTRA] = len(cells) - len(header)
        rows.append(item)
    return rows


def _unknown_text(path: Path, unknown: list[str], what: str) -> str:
    return (f"Manifest {path}: unknown {what}(s) {', '.join(repr(u) for u in unknown)}; "
            f"known: {', '.join(COLUMNS)}")


# --- checking -------------------------------------------------------------------------


class _Bad(Exception):
    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column
        self.message = message


def parse_rows(raw: list[dict[str, Any]], *, base: Path, source: Path | None = None,
               default_service: str = "", default_subtype: str = "",
               animation_defaults: RowAnimation | None = None,
               user_presets: Path | None = None) -> Manifest:
    """Check every row; good rows become :class:`ManifestRow`, bad ones
    :class:`RowProblem`. ``base``: the folder relative photo (and animation) paths start
    from. ``animation_defaults``: the run's animation options, under every row's own
    columns (``core.manifest_animation``); ``user_presets``: saved bone-map presets."""
    rows: list[ManifestRow] = []
    problems: list[RowProblem] = []
    seen: dict[str, int] = {}
    takes_read: dict[Path, str] = {}
    for number, item in enumerate(raw, 1):
        name = _text(item.get("name"))
        try:
            row = _row(number, item, base, default_service, default_subtype)
            try:
                row.animation = parse_columns(item, base, user_presets=user_presets,
                                              read=takes_read).merged(animation_defaults)
                check_merged(row.animation)
            except AnimationColumnError as bad:
                raise _Bad(bad.column, bad.message) from None
            key = name_key(row.name)
            if key in seen:
                raise _Bad("name", f"{row.name!r} is already row {seen[key]}'s name; names "
                                   "must be unique (they name the library's files)")
            seen[key] = number
            rows.append(row)
        except _Bad as bad:
            problems.append(RowProblem(number, name, bad.column, bad.message))
    return Manifest(path=Path(source or base), rows=rows, problems=problems, total=len(raw))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def _list(value: Any, column: str) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        items = [_text(v) for v in value]
    elif isinstance(value, str):
        items = [v.strip() for v in value.split(";")]
    else:
        raise _Bad(column, f"expected ';'-separated text or a list, got {value!r}")
    return [v for v in items if v]


def _row(number: int, item: dict[str, Any], base: Path, default_service: str,
         default_subtype: str) -> ManifestRow:
    if _EXTRA in item:
        raise _Bad("(end of row)", f"{item[_EXTRA]} cell(s) more than the header has "
                                   "columns (a comma inside a value needs quotes)")
    for key, value in item.items():
        if isinstance(value, dict) or (isinstance(value, list)
                                       and key not in ("blendshapes", "tags")):
            raise _Bad(key, f"expected text, got {type(value).__name__}")
    name = _text(item.get("name"))
    _check_name(name)
    row = ManifestRow(row=number, name=name)
    row.service = _text(item.get("service")).lower() or default_service
    if row.service and row.service not in SERVICE_NAMES:
        raise _Bad("service", f"unknown service {row.service!r}; choose one of "
                              f"{', '.join(SERVICE_NAMES)}")
    row.subtype = _text(item.get("subtype")).lower() or default_subtype
    if row.subtype and row.subtype not in SUBTYPES:
        raise _Bad("subtype", f"{row.subtype!r} is not one of {', '.join(SUBTYPES)}")
    row.avatar_id = _text(item.get("avatar_id"))
    if row.avatar_id and not re.fullmatch(r"[A-Za-z0-9_.-]{1,128}", row.avatar_id):
        raise _Bad("avatar_id", f"{row.avatar_id!r} is not an avatar id (letters, digits, "
                                "'-', '_', '.')")
    photo = _text(item.get("photo"))
    if photo:
        row.photo = _existing(base, photo, "photo")
    sides = [_text(item.get("side_photo_1")), _text(item.get("side_photo_2"))]
    if any(sides):
        column = "side_photo_2" if sides[0] else "side_photo_1"
        if not all(sides):
            raise _Bad(column, "give both side photos, or neither")
        if row.service and row.service != "avaturn":
            raise _Bad("side_photo_1", "side photos are for the avaturn service")
        row.side_photos = tuple(_existing(base, s, f"side_photo_{i}")
                                for i, s in enumerate(sides, 1))
    if row.avatar_id and row.photo:
        raise _Bad("avatar_id", "give a photo (create an avatar) or an avatar_id (import an "
                                "existing one), not both")
    if not row.avatar_id and row.photo is None:
        raise _Bad("photo", "empty: give a photo (relative to the manifest) or an avatar_id")
    if row.service == "avaturn" and row.photo is not None and not row.side_photos:
        raise _Bad("side_photo_1", "Avaturn needs two side photos with the frontal photo")
    row.lod = _choice(item, "lod", LODS)
    row.profile = _choice(item, "profile", PROFILES)
    row.haircut = _option_name(item, "haircut")
    row.outfit = _option_name(item, "outfit")
    row.glasses = _option_name(item, "glasses")
    row.blendshapes = _list(item.get("blendshapes"), "blendshapes")
    unknown = [b for b in row.blendshapes if b not in BLENDSHAPE_SETS]
    if unknown:
        raise _Bad("blendshapes", f"unknown set(s) {', '.join(unknown)}; known: "
                                  f"{', '.join(BLENDSHAPE_SETS)}")
    row.catalog = _catalog(_text(item.get("catalog")))
    row.tags = _list(item.get("tags"), "tags")
    for tag in row.tags:
        if len(tag) > 63:
            raise _Bad("tags", f"tag {tag[:20]!r}... is longer than 63 characters")
    row.description = _text(item.get("description"))
    return row


def _check_name(name: str) -> None:
    """The row's name is its library file's name as it is (``core.library_names``: the
    rule Back Up All and Save to Library make names with)."""
    problem = name_problem(name)
    if problem:
        raise _Bad("name", problem)


def _existing(base: Path, value: str, column: str) -> Path:
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = base / path
    if not path.is_file():
        raise _Bad(column, f"{value} does not exist or is not a file (looked for {path})")
    return path.resolve()


def _choice(item: dict[str, Any], column: str, allowed: tuple[str, ...]) -> str:
    value = _text(item.get(column))
    if not value:
        return ""
    by_fold = {a.casefold(): a for a in allowed}
    if value.casefold() not in by_fold:
        raise _Bad(column, f"{value!r} is not one of {', '.join(allowed)}")
    return by_fold[value.casefold()]


def _option_name(item: dict[str, Any], column: str) -> str:
    value = _text(item.get(column))
    if not value:
        return ""
    if value.casefold() == "none":
        return NONE
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", value):
        raise _Bad(column, f"{value!r} is not an option name (letters, digits, '-', '_')")
    return value


def _catalog(value: str) -> str:
    if not value:
        return ""
    if "\\" in value:
        raise _Bad("catalog", f"{value!r}: use '/' between levels, not a backslash")
    parts = [p.strip() for p in value.split("/")]
    if any(not p for p in parts):
        raise _Bad("catalog", f"{value!r} has an empty level (e.g. 'Cast//Leads')")
    for part in parts:
        if _CATALOG_SEGMENT_BAD.search(part):
            raise _Bad("catalog", f"{value!r}: ':' and control characters are not allowed")
    return "/".join(parts)
