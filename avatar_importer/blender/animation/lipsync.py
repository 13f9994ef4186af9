"""Rhubarb Lip Sync cues played onto an avatar's viseme shape keys.

Each cue's visemes (the mapping table, :data:`core.mocap.rhubarb.VISEME_MAPS` or the
user's own) take effect exactly at the cue's start: keys at ``frame_start + start * fps``
(fractional frames kept) with constant interpolation, so at every frame the shape in
force is the cue that started last. Before the first cue the mouth is at rest (``X``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...core.errors import InputError
from ...core.mocap import rhubarb
from ...core.mocap.rhubarb import Cue
from . import avatar, keys
from .keys import ActionSession

GROUP = "Lip-sync"


def apply_lipsync(armature: Any, cues: list[Cue], *, scene: Any, frame_start: int,
                  session: ActionSession, source: str = "lip-sync",
                  table: Mapping[str, Mapping[str, float]] | None = None) -> dict[str, Any]:
    """Key the cues onto ``armature``'s avatar; returns the report's ``lipsync`` part."""
    meshes = [(m, avatar.shape_key_names(m)) for m in avatar.avatar_meshes(armature)]
    every_key = [k for _, names in meshes for k in names]
    family, _count = rhubarb.detect_viseme_set(every_key)
    if table is None:
        if family is None:
            raise InputError(f"{armature.name} has no viseme shape keys (MetaPerson "
                             "visemes_15 or Avaturn viseme_*): lip-sync cannot be applied")
        table = rhubarb.VISEME_MAPS[family]
    wanted = rhubarb.viseme_keys(table)
    targets: dict[str, list[tuple[Any, str]]] = {}
    for viseme in wanted:
        hits = [(mesh, name) for mesh, names in meshes for name in names
                if name.lower() == viseme.lower()]
        if hits:
            targets[viseme] = hits
    if not targets:
        raise InputError(f"{armature.name} has none of the viseme shape keys the mapping "
                         f"table uses ({', '.join(wanted)})")
    fps = avatar.scene_fps(scene)
    times = sorted({0.0, *(c.start for c in cues)})
    frames = [frame_start + t * fps for t in times]
    states = [rhubarb.weights_at(cues, table, t) for t in times]
    actions: dict[str, str] = {}
    driven: list[str] = []
    for viseme, hits in targets.items():
        values = [state[viseme] for state in states]
        for mesh, name in hits:
            key = mesh.data.shape_keys
            action = session.action_for(key, f"{mesh.name}_face")
            actions[f"{mesh.name} shape keys"] = action.name
            keys.write_keys(key, keys.shape_key_path(name), frames, values, group=GROUP,
                            constant=True)
            driven.append(f"{mesh.name}:{name}")
    end = max(c.end for c in cues)
    return {
        "file": source,
        "cues": len(cues),
        "viseme_set": family if table is rhubarb.VISEME_MAPS.get(family or "") else "custom",
        "scene_fps": fps,
        "frame_start": frame_start,
        "frame_end": int(frame_start + round(end * fps)),
        "actions": actions,
        "visemes_mapped": list(targets),
        "visemes_unmapped": [v for v in wanted if v not in targets],
        "shape_keys_driven": driven,
    }
