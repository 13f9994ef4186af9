"""One entry point for bringing an avatar to life, used by the panel and the batch script.

Every file is read and checked before the avatar is touched; if anything fails after
that, everything this call did is undone (:class:`keys.ActionSession`), so bad input
leaves the avatar as it was.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import bpy

from ...core.errors import InputError
from ...core.mocap import BODY_KINDS, FACE_KINDS, LIPSYNC_KINDS, livelink, rhubarb
from ...core.mocap.livelink import FaceOptions, FaceTake
from ...core.mocap.rhubarb import Cue
from ...core.mocap.summary import summary_lines
from .keys import ActionSession

ANIMATION_KINDS = BODY_KINDS
#: custom property on the armature: the last apply's report (JSON), read by the panel
REPORT_PROPERTY = "avatar_importer_animation"


def check_kind(path: Path | str, kinds: tuple[str, ...], what: str) -> Path:
    """``path`` as a Path if it is an existing file of one of ``kinds`` (InputError if not)."""
    path = Path(path)
    if path.suffix.lower() not in kinds:
        raise InputError(f"{what} {path.name}: expected a {' or '.join(kinds)} file")
    if not path.is_file():
        raise InputError(f"{what} {path} does not exist or is not a file")
    return path


def read_face(path: Path | str, options: FaceOptions | None = None) -> FaceTake:
    return livelink.read_livelink_csv(check_kind(path, FACE_KINDS, "Face capture"), options)


def read_lipsync(path: Path | str) -> list[Cue]:
    return rhubarb.read_cues(check_kind(path, LIPSYNC_KINDS, "Lip-sync file"))


def apply_animation_files(
    armature_obj: Any, animation: Path | str | None = None,
    face_capture: Path | str | FaceTake | None = None,
    lipsync: Path | str | list[Cue] | None = None, preset: str | None = None, *,
    bone_map: Mapping[str, str] | None = None, face_options: FaceOptions | None = None,
    viseme_map: Mapping[str, Mapping[str, float]] | None = None,
    frame_start: int | None = None, scene: Any = None, user_presets: Path | None = None,
) -> dict[str, Any]:
    """Apply a body animation (.bvh/.fbx, retargeted), a Live Link Face take and/or Rhubarb
    cues to the avatar whose armature is ``armature_obj``. Returns a report (JSON-ready):
    ``action_name``, ``frame_start``/``frame_end``, ``bones_mapped``/``bones_unmapped``,
    ``shape_key_channels_mapped``/``_unmapped`` and the parts ``body``, ``face``,
    ``lipsync``; ``summary``: short lines. ``preset``/``bone_map``/``user_presets``: see
    ``retarget.retarget``. InputError for bad input (nothing changed)."""
    if armature_obj is None or getattr(armature_obj, "type", None) != "ARMATURE":
        raise InputError("Select the avatar (its armature or one of its meshes) first")
    if animation is None and face_capture is None and lipsync is None:
        raise InputError("Nothing to apply: give a body animation, a face capture or a "
                         "lip-sync file")
    scene = scene or bpy.context.scene
    options = face_options or FaceOptions()
    body_path = check_kind(animation, ANIMATION_KINDS, "Animation") if animation else None
    take = face_capture if isinstance(face_capture, FaceTake) or face_capture is None \
        else read_face(face_capture, options)
    cues: list[Cue] | None
    if lipsync is None or isinstance(lipsync, list):
        cues = lipsync
        lips_source = "lip-sync"
    else:
        cues = read_lipsync(lipsync)
        lips_source = Path(lipsync).name

    session = ActionSession()
    session.keep_scene(scene)  # the body's bake may set the scene's rate and range
    report: dict[str, Any] = {"avatar": armature_obj.name, "body": None, "face": None,
                              "lipsync": None}
    try:
        if body_path is not None:
            report["body"] = _retarget(armature_obj, body_path, preset, bone_map,
                                       user_presets, session)
        # face and lips start with the body (its bake may have set the scene's range)
        start = scene.frame_start if frame_start is None else int(frame_start)
        if frame_start is None and report["body"]:
            start = int(report["body"]["frame_start"])
        if take is not None:
            from .face import apply_face
            report["face"] = apply_face(armature_obj, take, options, scene=scene,
                                        frame_start=start, session=session)
        if cues is not None:
            from .lipsync import apply_lipsync
            report["lipsync"] = apply_lipsync(armature_obj, cues, scene=scene,
                                              frame_start=start, session=session,
                                              source=lips_source, table=viseme_map)
        _finish(report, armature_obj, scene, session)
    except BaseException:
        session.rollback()
        raise
    _store(armature_obj, report)
    return report


def _store(armature: Any, report: dict[str, Any]) -> None:
    """Keep the report on the armature for the panel, with the parts earlier applies left
    in place (a lip-sync after a face take still shows the take)."""
    kept = dict(report)
    earlier = stored_report(armature) or {}
    for part in ("body", "face", "lipsync"):
        if kept.get(part) is None and earlier.get(part):
            kept[part] = earlier[part]
    parts = [p for p in (kept["body"], kept["face"], kept["lipsync"]) if p]
    kept["frame_start"] = min(int(p["frame_start"]) for p in parts)
    kept["frame_end"] = max(math.ceil(float(p["frame_end"])) for p in parts)
    kept["summary"] = summary_lines(kept)
    armature[REPORT_PROPERTY] = json.dumps(kept, default=str, separators=(",", ":"))


def _retarget(armature: Any, path: Path, preset: str | None,
              bone_map: Mapping[str, str] | None, user_presets: Path | None,
              session: ActionSession) -> dict[str, Any]:
    try:
        from .retarget import retarget
    except ImportError:
        raise InputError("Body animation is not available in this build (no retargeting "
                         "module)") from None
    session.remember(armature)
    before = set(bpy.data.actions.keys())
    result = retarget(armature, path, preset=preset,
                      bone_map=dict(bone_map) if bone_map is not None else None,
                      user_presets=user_presets)
    action = bpy.data.actions.get(result.action_name)
    if action is not None and result.action_name not in before:
        session.adopt(action)
    body: dict[str, Any] = dict(result.as_report())
    body.setdefault("action_name", result.action_name)
    body.setdefault("frame_start", result.frame_start)
    body.setdefault("frame_end", result.frame_end)
    return body


def _finish(report: dict[str, Any], armature: Any, scene: Any,
            session: ActionSession) -> None:
    parts = [p for p in (report["body"], report["face"], report["lipsync"]) if p]
    first = min(int(p["frame_start"]) for p in parts)
    last = max(math.ceil(float(p["frame_end"])) for p in parts)
    if last > scene.frame_end:
        session.set_scene(scene, "frame_end", last)
        report["scene_frame_end"] = last
    from .. import compat
    action = compat.id_action(armature)
    body, face, lips = report["body"] or {}, report["face"] or {}, report["lipsync"] or {}
    key_actions = sorted({*face.get("actions", {}).values(), *lips.get("actions", {}).values()}
                         - {action.name if action else ""})
    report.update({
        "action_name": action.name if action is not None else None,
        "shape_key_actions": key_actions,
        "frame_start": first,
        "frame_end": last,
        "bones_mapped": _bone_names(body.get("mapped")) + list(face.get("bones", {})),
        "bones_unmapped": list(body.get("unmapped_target", [])),
        "shape_key_channels_mapped": [*face.get("channels_mapped", []),
                                      *lips.get("visemes_mapped", [])],
        "shape_key_channels_unmapped": [*face.get("channels_unmapped", []),
                                        *lips.get("visemes_unmapped", [])],
    })
    report["summary"] = summary_lines(report)


def _bone_names(mapped: Any) -> list[str]:
    """Target bone names of the body's bone map (a dict source -> target, or a list)."""
    if isinstance(mapped, Mapping):
        return [str(v) for v in mapped.values()]
    if isinstance(mapped, list | tuple):
        return [str(v) for v in mapped]
    return []


def stored_report(armature: Any) -> dict[str, Any] | None:
    """The last apply's report kept on the armature (no I/O: for ``draw``)."""
    text = armature.get(REPORT_PROPERTY) if armature is not None else None
    if not isinstance(text, str):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
