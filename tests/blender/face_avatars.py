"""Avatars for the animation tests: the sandbox's MetaPerson-like avatar and its Avaturn
split-head export, imported with the add-on's importer (plain helpers, no fixtures)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import bpy

ROOT = Path(__file__).resolve().parents[2]
for _path in (ROOT, ROOT / "tests"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from avatar_samples import write_sandbox_avatar  # noqa: E402

from avatar_importer.blender.importing.importer import import_avatar_glb  # noqa: E402
from avatar_importer.sandbox.avaturn_assets import build_avaturn_glb  # noqa: E402


def import_metaperson(folder: Path, name: str = "Ada") -> Any:
    """The sandbox's MetaPerson avatar (ARKit mobile_51 + visemes_15); its armature."""
    glb = write_sandbox_avatar(folder / "metaperson", texture_px=8)
    result = import_avatar_glb(glb, name=name)
    return bpy.data.objects[result.armature]


def import_avaturn(folder: Path, name: str = "Bob") -> Any:
    """The sandbox's Avaturn split-head avatar (ARKit 52 + viseme_*); its armature."""
    folder.mkdir(parents=True, exist_ok=True)
    glb = folder / "avaturn.glb"
    glb.write_bytes(build_avaturn_glb("split_head", texture_px=8))
    result = import_avatar_glb(glb, name=name)
    return bpy.data.objects[result.armature]
