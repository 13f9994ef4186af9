"""What of an imported avatar animation drives: its meshes with shape keys, its face bones.

Meshes are found by what they carry (shape-key names), never by object name: MetaPerson's
ARKit and viseme keys sit on ``AvatarHead`` (and some on eyelashes and teeth), Avaturn's
split-head layout has them on ``Head_Mesh`` (``jawOpen`` also on teeth and tongue).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import bpy

#: face bones, by role: names tried in order (exact, then case-insensitive)
FACE_BONES: dict[str, tuple[str, ...]] = {
    "head": ("Head", "head", "mixamorig:Head", "CC_Base_Head", "DEF-spine.006"),
    "left_eye": ("LeftEye", "eye.L", "Eye_L", "mixamorig:LeftEye", "CC_Base_L_Eye"),
    "right_eye": ("RightEye", "eye.R", "Eye_R", "mixamorig:RightEye", "CC_Base_R_Eye"),
}


def active_avatar(context: Any) -> Any | None:
    """The armature of the avatar the user is working on: the active object when it is an
    armature, else the armature the active mesh is parented to or deformed by."""
    obj = getattr(context, "active_object", None)
    if obj is None:
        return None
    if obj.type == "ARMATURE":
        return obj
    if obj.parent is not None and obj.parent.type == "ARMATURE":
        return obj.parent
    for mod in getattr(obj, "modifiers", ()):
        if mod.type == "ARMATURE" and getattr(mod, "object", None) is not None:
            return mod.object  # type: ignore[attr-defined]
    return None


def avatar_meshes(armature: Any) -> list[Any]:
    """The avatar's mesh objects: children of the armature, meshes it deforms, and the
    meshes of its own collection (the importer puts each avatar in one)."""
    found: dict[int, Any] = {}

    def add(objs: Iterable[Any]) -> None:
        for o in objs:
            if o.type == "MESH":
                found.setdefault(o.as_pointer(), o)

    add(armature.children_recursive)
    add(o for o in bpy.data.objects if o.type == "MESH" and any(
        m.type == "ARMATURE" and getattr(m, "object", None) == armature for m in o.modifiers))
    scene_root = {s.collection.as_pointer() for s in bpy.data.scenes}
    for coll in armature.users_collection:
        if coll.as_pointer() not in scene_root:
            add(coll.all_objects)
    return sorted(found.values(), key=lambda o: o.name)


def shape_key_names(mesh: Any) -> list[str]:
    """The mesh's shape keys, without the reference (basis) key."""
    keys = mesh.data.shape_keys
    if keys is None:
        return []
    ref = keys.reference_key
    return [k.name for k in keys.key_blocks if k != ref]


def find_bone(armature: Any, role: str) -> str | None:
    """The pose bone playing ``role`` (see :data:`FACE_BONES`), or None."""
    bones = armature.pose.bones
    for name in FACE_BONES[role]:
        if name in bones:
            return name
    lowered = {b.name.lower(): b.name for b in bones}
    for name in FACE_BONES[role]:
        if name.lower() in lowered:
            return lowered[name.lower()]
    return None


def scene_fps(scene: Any) -> float:
    return float(scene.render.fps) / float(scene.render.fps_base or 1.0)
