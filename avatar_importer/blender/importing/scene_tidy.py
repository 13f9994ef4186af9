"""A tidy avatar in the scene: the armature named after the avatar with every mesh under
it, optional placement at the 3D cursor and real-size scaling. Shape keys, materials and
mesh names are left as imported. Main thread only; O(objects).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

IMAGE_TAG = "avatar_importer_avatar"  # custom property on images: the avatar they belong to


def main_armature(objects: Sequence[Any]) -> Any | None:
    """The avatar's armature: a top-level one first, else any."""
    armatures = [o for o in objects if o.type == "ARMATURE"]
    top = [o for o in armatures if o.parent is None]
    return (top or armatures or [None])[0]


def name_armature(armature: Any, name: str) -> list[str]:
    """Rename the armature object (and its data) after the avatar."""
    old = armature.name
    if old == name:
        return []
    armature.name = name
    if armature.data is not None and armature.data.users == 1:
        armature.data.name = name
    return [f"armature {old} renamed {armature.name}"]


def base(name: str) -> str:
    head, dot, tail = name.rpartition(".")
    return head if dot and tail.isdigit() else name


def parent_loose_objects(armature: Any, objects: Sequence[Any]) -> list[str]:
    """Parent every top-level object of the import to the armature, keeping where it is."""
    moved = []
    inverse = armature.matrix_world.inverted()
    for obj in objects:
        if obj is armature or obj.parent is not None:
            continue
        obj.parent = armature
        obj.matrix_parent_inverse = inverse
        moved.append(obj.name)
    return [f"parented to {armature.name}: {', '.join(sorted(moved))}"] if moved else []


def roots(objects: Sequence[Any]) -> list[Any]:
    return [o for o in objects if o.parent is None]


def scale_to_scene_units(objects: Sequence[Any], scene: Any) -> list[str]:
    """glTF is in metres. In a scene whose unit scale is not 1 (e.g. 0.01: one unit is a
    centimetre), scale the avatar by ``1 / unit scale`` so it keeps its real size."""
    unit = float(scene.unit_settings.scale_length) or 1.0
    if abs(unit - 1.0) < 1e-6:
        return []
    factor = 1.0 / unit
    for obj in roots(objects):
        obj.location = obj.location * factor
        obj.scale = obj.scale * factor
    return [f"scaled x{factor:g} for the scene's unit scale {unit:g} (real size in metres)"]


def place_at_cursor(objects: Sequence[Any], scene: Any) -> list[str]:
    """Move the avatar so its origin sits at the 3D cursor (location only)."""
    where = scene.cursor.location.copy()
    if where.length < 1e-9:
        return ["placed at the 3D cursor (0, 0, 0)"]
    for obj in roots(objects):
        obj.location = obj.location + where
    return [f"placed at the 3D cursor ({where.x:.3g}, {where.y:.3g}, {where.z:.3g})"]


def tag_images(images: Sequence[Any], avatar: str) -> None:
    for image in images:
        image[IMAGE_TAG] = avatar


def tidy(objects: Sequence[Any], *, name: str, scene: Any, at_cursor: bool,
         metre_scale: bool) -> list[str]:
    """All the above, in order; returns what changed, for the import report."""
    changes: list[str] = []
    armature = main_armature(objects)
    if armature is not None:
        changes += name_armature(armature, name)
        changes += parent_loose_objects(armature, objects)
    if metre_scale:
        changes += scale_to_scene_units(objects, scene)
    if at_cursor:
        changes += place_at_cursor(objects, scene)
    return changes
