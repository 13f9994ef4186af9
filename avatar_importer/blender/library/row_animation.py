"""The studio mode's animation: a manifest row's ``animation``, ``face_capture``, ``lipsync``
and ``bone_map_preset`` (or the run's ``--animation``... options) applied to the row's
avatar before its asset is saved. Main thread only (called from the manifest run's pump).

What a rerun does when a finished row's animation changed (``core.manifest_animation``'s
fingerprint: file contents and preset): the row is redone from the avatar its state
recorded (imported again, nothing created or paid twice), animated anew, and its asset
replaced whole; a row whose animation did not change is skipped, as before.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ...core.errors import AvatarImporterError, InputError
from ...core.manifest_animation import RowAnimation, defaults_from, preset_problem
from ...core.manifest_animation import redo_plan as redo_plan
from ...core.manifest_animation import same_animation as same_animation
from ..animation.batch_options import presets_folder as presets_folder


def run_defaults(args: argparse.Namespace) -> RowAnimation | None:
    """The command line's animation options as every row's defaults; an unknown
    ``--bone-map-preset`` is an ``InputError`` (exit code 2, before any row runs)."""
    defaults = defaults_from(getattr(args, "animation", None),
                             getattr(args, "face_capture", None),
                             getattr(args, "lipsync", None),
                             getattr(args, "bone_map_preset", None))
    preset = getattr(args, "bone_map_preset", None)
    if preset:
        problem = preset_problem(preset, presets_folder(args))
        if problem:
            raise InputError(f"--bone-map-preset: {problem}")
        if defaults is None:
            raise InputError("--bone-map-preset goes with --animation (a row's own "
                             "animation uses its bone_map_preset column)")
    return defaults


def armature_of(collection: Any) -> Any | None:
    return next((o for o in collection.all_objects if o.type == "ARMATURE"), None)


def animate(collection: Any, animation: RowAnimation, user_presets: Path) -> dict[str, Any]:
    """Apply the row's animation to the avatar in ``collection``; returns what was applied
    (for the row's state and the report). ``AvatarImporterError`` when it cannot be (the
    avatar is left as it was: ``apply_animation_files`` undoes its own changes)."""
    from ..animation.apply import apply_animation_files
    armature = armature_of(collection)
    if armature is None:
        raise InputError("the avatar has no armature to animate")
    result = apply_animation_files(armature, animation=animation.animation,
                                   face_capture=animation.face_capture,
                                   lipsync=animation.lipsync,
                                   preset=animation.bone_map_preset or None,
                                   user_presets=user_presets)
    return {
        "action": result.get("action_name"),
        "shape_key_actions": list(result.get("shape_key_actions") or []),
        "frame_start": result.get("frame_start"), "frame_end": result.get("frame_end"),
        "bones_mapped": len(result.get("bones_mapped") or []),
        "bones_unmapped": list(result.get("bones_unmapped") or []),
        "summary": list(result.get("summary") or []),
    }


def failure_text(animation: RowAnimation, exc: AvatarImporterError) -> str:
    return f"animation failed ({animation.describe()}): {exc.message}"
