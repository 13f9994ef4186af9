"""A manifest row's animation: the columns ``animation``, ``face_capture``, ``lipsync`` and
``bone_map_preset`` (the batch script's ``--animation``, ``--face-capture``, ``--lipsync``
and ``--bone-map-preset``, per row). No bpy here.

* Paths are relative to the manifest's folder (as its photos are). A face capture or a
  lip-sync file is read when the manifest is checked, so a take that cannot be read fails
  its row before the avatar is created (and paid for).
* ``none`` in ``animation``, ``face_capture`` or ``lipsync`` says "not for this row" even
  when the command line gives that option.
* The command line's options are the defaults of every row, column by column (a row's
  column wins). ``--bone-map-preset`` goes with ``--animation``: a row naming its own
  ``animation`` uses its own ``bone_map_preset`` (or detection), never the command line's.
* :meth:`RowAnimation.fingerprint` (file names, content digests, preset) is recorded in the
  row's state when its asset is saved: a rerun redoes a finished row only when that
  fingerprint changed (from its recorded avatar: nothing is created twice).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InputError
from .file_digest import file_sha256
from .library_rows import RowPlan
from .mocap import BODY_KINDS, FACE_KINDS, LIPSYNC_KINDS, bonemaps, livelink, rhubarb

COLUMNS = ("animation", "face_capture", "lipsync", "bone_map_preset")
_KINDS = {"animation": BODY_KINDS, "face_capture": FACE_KINDS, "lipsync": LIPSYNC_KINDS}
_NONE = "none"


class AnimationColumnError(Exception):
    """One animation column of a row is bad (the manifest turns it into a row problem)."""

    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column
        self.message = message


@dataclass(frozen=True)
class RowAnimation:
    """What to apply to a row's avatar. A file ``None``: not given (or, when its column
    is in ``cleared``, set to ``none``: the command line's option is not taken)."""

    animation: Path | None = None
    face_capture: Path | None = None
    lipsync: Path | None = None
    bone_map_preset: str = ""
    cleared: frozenset[str] = frozenset()  # columns the row set to "none"

    def empty(self) -> bool:
        return self.animation is None and self.face_capture is None and self.lipsync is None

    def merged(self, defaults: RowAnimation | None) -> RowAnimation:
        """This row's columns over ``defaults`` (the command line's), column by column."""
        if defaults is None:
            return RowAnimation(self.animation, self.face_capture, self.lipsync,
                                self.bone_map_preset)

        def pick(column: str) -> Path | None:
            own = getattr(self, column)
            if own is not None or column in self.cleared:
                return own  # type: ignore[no-any-return]
            return getattr(defaults, column)  # type: ignore[no-any-return]

        body = pick("animation")
        own_body = self.animation is not None or "animation" in self.cleared
        preset = self.bone_map_preset or ("" if own_body else defaults.bone_map_preset)
        return RowAnimation(body, pick("face_capture"), pick("lipsync"),
                            preset if body is not None else "")

    def files(self) -> dict[str, Path]:
        return {c: p for c in ("animation", "face_capture", "lipsync")
                if (p := getattr(self, c)) is not None}

    def describe(self) -> str:
        parts = [f"{c}={p.name}" for c, p in self.files().items()]
        if self.bone_map_preset:
            parts.append(f"bone_map_preset={Path(self.bone_map_preset).name}")
        return ", ".join(parts) or "none"

    def fingerprint(self) -> dict[str, Any]:
        """File names and content digests (and the preset): ``{}`` when there is nothing."""
        out: dict[str, Any] = {c: {"file": p.name, "sha256": file_sha256(p)}
                               for c, p in self.files().items()}
        if out and self.bone_map_preset:
            out["bone_map_preset"] = self.bone_map_preset
        return out


def same_animation(recorded: Any, wanted: dict[str, Any]) -> bool:
    """Whether a row's recorded fingerprint is the wanted one (content, not file names)."""
    def key(fp: Any) -> Any:
        if not isinstance(fp, dict):
            return {}
        return {c: (v.get("sha256") if isinstance(v, dict) else v) for c, v in fp.items()}
    return bool(key(recorded) == key(wanted))


def parse_columns(item: dict[str, Any], base: Path, *, user_presets: Path | None = None,
                  read: dict[Path, str] | None = None) -> RowAnimation:
    """The row's animation columns checked (``AnimationColumnError`` naming the column).
    ``read``: files already read in this manifest (path -> problem or ""), so a take shared
    by many rows is parsed once."""
    memo = read if read is not None else {}
    values: dict[str, Path | None] = {}
    cleared: set[str] = set()
    for column, kinds in _KINDS.items():
        text = _text(item.get(column))
        if not text:
            values[column] = None
        elif text.casefold() == _NONE:
            values[column] = None
            cleared.add(column)
        else:
            values[column] = _file(base, text, column, kinds, memo)
    preset = _text(item.get("bone_map_preset"))
    if preset:
        problem = preset_problem(preset, user_presets, base)
        if problem:
            raise AnimationColumnError("bone_map_preset", problem)
        if preset.lower().endswith(".json"):
            preset = str(_resolve(base, preset))
    return RowAnimation(values["animation"], values["face_capture"], values["lipsync"],
                        preset, frozenset(cleared))


def check_merged(row: RowAnimation) -> None:
    """A preset needs a body animation (the row's own or the command line's)."""
    if row.bone_map_preset and row.animation is None:
        raise AnimationColumnError("bone_map_preset", "a bone-map preset without a body "
                                   "animation (give the row's animation, or --animation)")


def preset_problem(preset: str, user_presets: Path | None, base: Path | None = None) -> str:
    """Why ``preset`` names no bone-map preset ("" when it does): a built-in family, a
    preset saved from the panel (in ``user_presets``) or a preset file (.json)."""
    if preset in bonemaps.FAMILIES:
        return ""
    if preset.lower().endswith(".json"):
        path = _resolve(base or Path.cwd(), preset)
        try:
            bonemaps.load_preset_file(path)
        except InputError as exc:
            return str(exc)
        return ""
    try:
        saved = user_presets is not None and \
            (Path(user_presets) / bonemaps.preset_filename(preset)).is_file()
    except InputError as exc:
        return str(exc)
    if saved:
        return ""
    where = f"; saved presets: {user_presets}" if user_presets is not None else ""
    return (f"unknown bone-map preset {preset!r} (built-in: {', '.join(bonemaps.FAMILIES)}"
            f"{where}; or a preset file .json)")


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _resolve(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _file(base: Path, value: str, column: str, kinds: tuple[str, ...],
          memo: dict[Path, str]) -> Path:
    path = _resolve(base, value)
    if path.suffix.lower() not in kinds:
        raise AnimationColumnError(column, f"{value}: expected a {' or '.join(kinds)} file")
    if not path.is_file():
        raise AnimationColumnError(column, f"{value} does not exist or is not a file "
                                           f"(looked for {path})")
    path = path.resolve()
    if path not in memo:
        memo[path] = _readable(path, column)
    if memo[path]:
        raise AnimationColumnError(column, memo[path])
    return path


def _readable(path: Path, column: str) -> str:
    """"" when the take can be read, else why not (the body animation is read by Blender's
    importer when it is applied)."""
    try:
        if column == "face_capture":
            livelink.read_livelink_csv(path)
        elif column == "lipsync":
            rhubarb.read_cues(path)
    except InputError as exc:
        return str(exc)
    return ""


def defaults_from(animation: Path | None, face_capture: Path | None, lipsync: Path | None,
                  bone_map_preset: str | None) -> RowAnimation | None:
    """The command line's options as every row's defaults (None when none is given)."""
    if animation is None and face_capture is None and lipsync is None:
        return None
    return RowAnimation(Path(animation).resolve() if animation else None,
                        Path(face_capture).resolve() if face_capture else None,
                        Path(lipsync).resolve() if lipsync else None,
                        str(bone_map_preset or ""))


def redo_plan(state: dict[str, Any], wanted: dict[str, Any], *, base_url: str,
              service: str) -> tuple[RowPlan | None, str]:
    """For a finished row: None when its recorded animation is the wanted one (skip), else
    the plan that redoes it from its recorded avatar. The text says why (or why not)."""
    recorded = state.get("animation") or {}
    if same_animation(recorded, wanted):
        return None, ""
    code = str(state.get("avatar_code") or "")
    if not code:
        return None, ("its animation changed, but its state records no avatar code: not "
                      "redone; remove its asset to remake it")
    if state.get("service") not in (None, service) or \
            state.get("base_url") not in (None, base_url):
        return None, ("its animation changed, but its avatar was made elsewhere (another "
                      "service or address): not redone; remove its asset to remake it")
    return (RowPlan("import", avatar_code=code, export_code=str(state.get("export_code") or ""),
                    player=str(state.get("player") or ""),
                    why=f"animation changed ({_names(recorded)} -> {_names(wanted)}): "
                        f"importing avatar {code} again to re-animate it"), "")


def _names(fingerprint: dict[str, Any]) -> str:
    parts = [f"{c}={v.get('file')}" for c, v in fingerprint.items() if isinstance(v, dict)]
    return ", ".join(parts) or "none"
