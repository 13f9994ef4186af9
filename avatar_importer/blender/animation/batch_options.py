"""The batch script's animation options: every avatar imported in the run gets them.

    --animation FILE      body animation (.bvh, or .fbx such as a Mixamo download)
    --face-capture FILE   Live Link Face take (.csv)
    --lipsync FILE        Rhubarb Lip Sync output (.tsv or .json)
    --bone-map-preset N   bone-map preset for --animation: a family (mixamo, bvh_cmu...),
                          a preset saved from the panel, or a preset file (.json)

Files are checked when the options are parsed (a wrong kind, a missing file or a take
that cannot be read is exit code 2, before any avatar is created or paid for). After the
imports each avatar's report gains ``animation``: the action name, frame range,
mapped/unmapped bones and shape-key channels (or ``animation_error``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...core.errors import AvatarImporterError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("animation (applied to every imported avatar)")
    group.add_argument("--animation", type=Path, metavar="FILE",
                       help="body animation to retarget: .bvh or .fbx (e.g. Mixamo)")
    group.add_argument("--face-capture", type=Path, metavar="FILE",
                       help="Live Link Face take (.csv): ARKit shape keys, head and eyes")
    group.add_argument("--lipsync", type=Path, metavar="FILE",
                       help="Rhubarb Lip Sync output (.tsv or .json): visemes")
    group.add_argument("--bone-map-preset", default=None, metavar="NAME",
                       help="bone-map preset for --animation (default: detected)")


def check(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Read and check the files now (parser.error: exit 2 with the cause)."""
    from .apply import ANIMATION_KINDS, check_kind, read_face, read_lipsync
    args.face_take = None
    args.lipsync_cues = None
    try:
        if args.animation is not None:
            args.animation = check_kind(args.animation, ANIMATION_KINDS, "--animation")
        if args.face_capture is not None:
            args.face_take = read_face(args.face_capture)
        if args.lipsync is not None:
            args.lipsync_cues = read_lipsync(args.lipsync)
    except AvatarImporterError as exc:
        parser.error(str(exc))


def export_with_needed_shapes(args: argparse.Namespace,
                              export: dict[str, Any]) -> dict[str, Any]:
    """Avatar SDK export parameters asking for the shape keys the options drive: with
    ``--lipsync``, the ``visemes_15`` set (unless a viseme set is already listed); with
    ``--face-capture``, ``mobile_51``. Other services ignore these parameters."""
    return export_with_shapes_for(export, face=getattr(args, "face_take", None) is not None,
                                  lipsync=getattr(args, "lipsync_cues", None) is not None)


def export_with_shapes_for(export: dict[str, Any], *, face: bool, lipsync: bool
                           ) -> dict[str, Any]:
    """``export`` asking for the shape keys a face take / lip-sync cues drive (as above;
    the manifest mode calls it per row)."""
    needed: list[tuple[str, tuple[str, ...]]] = []
    if lipsync:
        needed.append(("visemes_15", ("visemes_15", "visemes_14")))
    if face:
        needed.append(("mobile_51", ("mobile_51",)))
    shapes = export.get("blendshapes")
    if not needed or not isinstance(shapes, dict) or not isinstance(shapes.get("list"), list):
        return export
    names = list(shapes["list"])
    for name, any_of in needed:
        if not any(n in names for n in any_of):
            names.append(name)
    return {**export, "blendshapes": {**shapes, "list": names}}


def presets_folder(args: argparse.Namespace) -> Path:
    """Saved bone-map presets: ``bone_maps`` in the run's cache root (the panel's too)."""
    from ...core.cache import default_cache_root
    return Path(getattr(args, "cache_dir", None) or default_cache_root()) / "bone_maps"


def wanted(args: argparse.Namespace) -> bool:
    return any(getattr(args, k, None) is not None
               for k in ("animation", "face_take", "lipsync_cues"))


def animate_reports(args: argparse.Namespace, reports: list[dict[str, Any]],
                    say: Callable[[str], None],
                    error: Callable[[str], None] | None = None) -> bool:
    """Apply the run's animation files to every imported avatar; each report gains
    ``animation`` (or ``animation_error``). False when any avatar could not be animated."""
    if not wanted(args):
        return True
    import bpy

    from .apply import apply_animation_files
    ok = True
    for rep in reports:
        if rep.get("status") != "done":
            continue
        armature = bpy.data.objects.get(rep.get("armature") or "")
        try:
            if armature is None:
                raise AvatarImporterError(f"{rep.get('name')}: no armature to animate")
            result = apply_animation_files(
                armature, animation=args.animation, face_capture=args.face_take,
                lipsync=args.lipsync_cues, preset=args.bone_map_preset,
                user_presets=presets_folder(args))
        except AvatarImporterError as exc:
            rep["animation_error"] = str(exc)
            (error or say)(f"{rep.get('name')}: animation failed: {exc}")
            ok = False
            continue
        if args.face_take is not None:
            result["face"]["file"] = args.face_capture.name
        if args.lipsync_cues is not None:
            result["lipsync"]["file"] = args.lipsync.name
        rep["animation"] = result
        say(f"{rep.get('name')}: " + "; ".join(result["summary"]))
    return ok
