"""Rhubarb Lip Sync mouth cues and the table that turns them into viseme shape keys.

Rhubarb writes either TSV (``rhubarb -f tsv``: one ``<start seconds>\\t<shape>`` line per
cue, the last one ``X`` at the end of the recording) or JSON (``-f json``:
``{"metadata": {...}, "mouthCues": [{"start": 0.0, "end": 0.05, "value": "X"}, ...]}``).
Shapes ``A``-``F`` are the basic mouth shapes, ``G``, ``H`` and ``X`` the extended ones.

:data:`VISEME_MAPS` says which viseme shape keys (and how strongly) each cue sets, for the
two viseme sets avatars carry: MetaPerson's ``visemes_15`` (``CH DD E FF PP RR SS TH aa ih
kk nn oh ou sil``) and the Oculus names with a ``viseme_`` prefix that Avaturn uses. A
user's own table (JSON, same shape as one entry of :data:`VISEME_MAPS`) replaces the
built-in one: :func:`load_viseme_map`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError

SHAPES: tuple[str, ...] = ("A", "B", "C", "D", "E", "F", "G", "H", "X")
MAX_BYTES = 20 * 1024 * 1024

#: What each shape means (Rhubarb's documentation, abridged).
SHAPE_MEANING: dict[str, str] = {
    "A": "closed mouth: P, B, M",
    "B": "slightly open, clenched teeth: most consonants (K, S, T), EE",
    "C": "open mouth: EH, AE",
    "D": "wide open mouth: AA",
    "E": "slightly rounded: AO, ER",
    "F": "puckered lips: UW, OW, W",
    "G": "upper teeth on lower lip: F, V",
    "H": "tongue raised behind the teeth: long L",
    "X": "idle, mouth at rest",
}

#: cue -> {viseme shape key: weight}, per viseme set. Keys not listed for a cue are 0.
VISEME_MAPS: dict[str, dict[str, dict[str, float]]] = {
    "visemes_15": {
        "A": {"PP": 1.0},
        "B": {"kk": 0.7, "SS": 0.3},
        "C": {"E": 1.0},
        "D": {"aa": 1.0},
        "E": {"oh": 1.0},
        "F": {"ou": 1.0},
        "G": {"FF": 1.0},
        "H": {"nn": 1.0},
        "X": {"sil": 1.0},
    },
    "oculus": {
        "A": {"viseme_PP": 1.0},
        "B": {"viseme_kk": 0.7, "viseme_SS": 0.3},
        "C": {"viseme_E": 1.0},
        "D": {"viseme_aa": 1.0},
        "E": {"viseme_O": 1.0},
        "F": {"viseme_U": 1.0},
        "G": {"viseme_FF": 1.0},
        "H": {"viseme_nn": 1.0},
        "X": {"viseme_sil": 1.0},
    },
}
#: every shape key of each viseme set (detection: the set whose names the avatar has most)
VISEME_SETS: dict[str, tuple[str, ...]] = {
    "visemes_15": ("CH", "DD", "E", "FF", "PP", "RR", "SS", "TH", "aa", "ih", "kk", "nn",
                   "oh", "ou", "sil"),
    "oculus": tuple(f"viseme_{v}" for v in ("sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS",
                                            "nn", "RR", "aa", "E", "I", "O", "U")),
}


@dataclass(frozen=True)
class Cue:
    start: float  # seconds
    end: float
    shape: str  # A-H or X


def read_cues(path: Path) -> list[Cue]:
    """The mouth cues of a Rhubarb ``.tsv`` or ``.json`` file, in time order."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Lip-sync file {path} does not exist or is not a file")
    if path.stat().st_size > MAX_BYTES:
        raise InputError(f"Lip-sync file {path.name} is larger than {MAX_BYTES >> 20} MB")
    return parse_cues(path.read_bytes(), source=path.name)


def parse_cues(data: bytes, *, source: str = "lip-sync") -> list[Cue]:
    if b"\x00" in data[:4096]:
        raise InputError(f"{source} is not Rhubarb Lip Sync output (it is binary)")
    try:
        text = data.decode("utf-8-sig").strip()
    except UnicodeDecodeError:
        raise InputError(f"{source} is not Rhubarb Lip Sync output (not UTF-8 text)") from None
    if not text:
        raise InputError(f"{source} is empty")
    cues = _json_cues(text, source) if text[0] in "{[" else _tsv_cues(text, source)
    if not cues:
        raise InputError(f"{source} has no mouth cues")
    return cues


def _shape(value: object, source: str, where: str) -> str:
    shape = str(value).strip().upper()
    if shape not in SHAPES:
        raise InputError(f"{source} {where}: mouth shape {value!r} is not one of "
                         f"{' '.join(SHAPES)} (Rhubarb Lip Sync output expected)")
    return shape


def _time(value: object, source: str, where: str) -> float:
    try:
        t = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"{source} {where}: time {value!r} is not a number") from None
    if not math.isfinite(t) or t < 0:
        raise InputError(f"{source} {where}: time {value!r} is not a time in seconds")
    return t


def _tsv_cues(text: str, source: str) -> list[Cue]:
    starts: list[tuple[float, str]] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split("\t") if "\t" in line else line.split()
        if len(parts) != 2:
            raise InputError(f"{source} line {line_no}: expected '<seconds><TAB><shape>' "
                             "(Rhubarb Lip Sync TSV)")
        where = f"line {line_no}"
        starts.append((_time(parts[0], source, where), _shape(parts[1], source, where)))
    starts.sort(key=lambda item: item[0])
    cues = []
    for i, (start, shape) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else start
        cues.append(Cue(start, end, shape))
    return cues


def _json_cues(text: str, source: str) -> list[Cue]:
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{source} is not valid JSON: {exc.msg} (line {exc.lineno})") from None
    raw = body.get("mouthCues") if isinstance(body, dict) else None
    if not isinstance(raw, list):
        raise InputError(f"{source} has no 'mouthCues' list (Rhubarb Lip Sync JSON expected)")
    cues = []
    for i, item in enumerate(raw):
        where = f"mouthCues[{i}]"
        if not isinstance(item, dict):
            raise InputError(f"{source} {where} is not an object")
        start = _time(item.get("start"), source, where)
        end = _time(item.get("end", start), source, where)
        cues.append(Cue(start, max(start, end), _shape(item.get("value"), source, where)))
    cues.sort(key=lambda c: c.start)
    return cues


# --- the mapping table -----------------------------------------------------------------------


def detect_viseme_set(shape_keys: Iterable[str]) -> tuple[str | None, int]:
    """The viseme set most of whose names are among ``shape_keys`` (case-insensitive), and
    how many it has; (None, 0) when none."""
    have = {k.lower() for k in shape_keys}
    best: tuple[str | None, int] = (None, 0)
    for name, keys in VISEME_SETS.items():
        count = sum(1 for k in keys if k.lower() in have)
        if count > best[1]:
            best = (name, count)
    return best


def check_viseme_map(table: Any, source: str = "viseme map") -> dict[str, dict[str, float]]:
    """Validate a cue -> {shape key: weight} table; every cue must be present."""
    if not isinstance(table, Mapping):
        raise InputError(f"{source}: expected an object mapping each mouth shape "
                         f"({' '.join(SHAPES)}) to {{shape key: weight}}")
    out: dict[str, dict[str, float]] = {}
    for shape, targets in table.items():
        key = _shape(shape, source, "entry")
        if not isinstance(targets, Mapping) or not all(
                isinstance(k, str) and isinstance(v, int | float) for k, v in targets.items()):
            raise InputError(f"{source}: {shape} must map shape-key names to weights")
        out[key] = {k: float(v) for k, v in targets.items()}
    missing = [s for s in SHAPES if s not in out]
    if missing:
        raise InputError(f"{source}: no entry for mouth shape(s) {' '.join(missing)}")
    return out


def load_viseme_map(path: Path) -> dict[str, dict[str, float]]:
    """A user's mapping table from a JSON file (validated)."""
    path = Path(path)
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"Viseme map {path} does not exist") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"Viseme map {path.name} is not a JSON file: {exc}") from None
    return check_viseme_map(table, path.name)


def viseme_keys(table: Mapping[str, Mapping[str, float]]) -> list[str]:
    """Every shape key the table drives, in first-use order."""
    out: list[str] = []
    for shape in SHAPES:
        for key in table.get(shape, {}):
            if key not in out:
                out.append(key)
    return out


def weights_at(cues: list[Cue], table: Mapping[str, Mapping[str, float]],
               t: float) -> dict[str, float]:
    """The viseme weights in force at time ``t``: those of the last cue started by ``t``
    (before the first cue: the rest shape X)."""
    current = "X"
    for cue in cues:
        if cue.start <= t + 1e-9:
            current = cue.shape
        else:
            break
    targets = table.get(current, {})
    return {k: float(targets.get(k, 0.0)) for k in viseme_keys(table)}
