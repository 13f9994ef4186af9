"""Shared by the retarget tests in tests/blender (pytest) and tests/blender34 (plain script):
building the avatars and the sources, and measuring where the avatar's hands and feet are.
No pytest here."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import bpy
from mathutils import Matrix, Vector

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for entry in (str(ROOT), str(HERE)):
    if entry not in sys.path:
        sys.path.insert(0, entry)

import animation_data  # noqa: E402
from avatar_samples import write_sandbox_avatar  # noqa: E402

from avatar_importer.blender.importing.importer import import_avatar_glb  # noqa: E402
from avatar_importer.core.mocap.bvh import joint_positions, read_bvh  # noqa: E402
from avatar_importer.sandbox.avaturn_assets import build_avaturn_glb  # noqa: E402

#: how far (metres: 5 mm) the avatar's hands and feet may be from where the source's are,
#: scaled to the avatar. Source and avatar share proportions (animation_data), so a right
#: retarget is exact up to float error: measured under 0.1 mm for BVH and FBX (exported
#: with curve simplification off; Blender's default simplification alone moves the feet
#: by up to 7 mm).
TOLERANCE = 0.005
ENDS = ("LeftHand", "RightHand", "LeftFoot", "RightFoot")
SAMPLED_FRAMES = (1, 9, 17, 25, 33, 40)


def metaperson_avatar(folder: Path) -> Any:
    result = import_avatar_glb(write_sandbox_avatar(folder), name="Avatar")
    return bpy.data.objects[result.armature]


def avaturn_avatar(folder: Path, layout: str = "split_head") -> Any:
    folder.mkdir(parents=True, exist_ok=True)
    glb = folder / "avaturn.glb"
    glb.write_bytes(build_avaturn_glb(layout, body_type="female", texture_px=16))
    result = import_avatar_glb(glb, name="Avaturn")
    return bpy.data.objects[result.armature]


def bone_heads(armature: Any, names: tuple[str, ...] = ENDS) -> dict[str, Vector]:
    return {n: armature.matrix_world @ armature.pose.bones[n].head for n in names}


def rest_heads(armature: Any, names: tuple[str, ...] = ENDS) -> dict[str, Vector]:
    return {n: armature.matrix_world @ armature.data.bones[n].head_local for n in names}


def bvh_expected(bvh_path: Path, names: dict[str, str], avatar: Any, scale: float,
                 frames: tuple[int, ...] = SAMPLED_FRAMES) -> dict[int, dict[str, Vector]]:
    """Where the avatar's bones ``names`` (avatar bone -> BVH joint) should be at each
    Blender frame (BVH frame 0 = Blender frame 1): the BVH's own joint positions (computed
    by the core's forward kinematics, not by Blender), turned to Blender's axes, moved
    from the source's hips rest position to the avatar's and scaled, in the avatar's
    armature space, then placed where the avatar's armature object is."""
    bvh = read_bvh(bvh_path)
    rest = joint_positions(bvh, 0)
    hips_rest = Vector(animation_data.to_blender(rest[bvh.joints[0].name]))
    avatar_hips = avatar.data.bones["Hips"].head_local
    placed = avatar.matrix_world
    out = {}
    for frame in frames:
        pos = joint_positions(bvh, frame - 1)
        out[frame] = {bone: placed @ (avatar_hips + (Vector(animation_data.to_blender(pos[j]))
                                                     - hips_rest) * scale)
                      for bone, j in names.items()}
    return out


def worst_error(avatar: Any, expected: dict[int, dict[str, Vector]]) -> tuple[float, str]:
    worst, where = 0.0, ""
    for frame, bones in expected.items():
        bpy.context.scene.frame_set(frame)
        got = bone_heads(avatar, tuple(bones))
        for bone, want in bones.items():
            err = (got[bone] - want).length
            if err > worst:
                worst, where = err, f"{bone} at frame {frame}: {tuple(got[bone])} vs {tuple(want)}"
    return worst, where


def pose_snapshot(armature: Any) -> dict[str, tuple[Vector, Vector]]:
    """World head and tail of every bone as posed now."""
    m = armature.matrix_world
    return {pb.name: (m @ pb.head, m @ pb.tail) for pb in armature.pose.bones}


def max_pose_change(a: dict[str, tuple[Vector, Vector]],
                    b: dict[str, tuple[Vector, Vector]]) -> float:
    return max(max((a[n][0] - b[n][0]).length, (a[n][1] - b[n][1]).length) for n in a)


def armature_objects() -> list[str]:
    return sorted(o.name for o in bpy.data.objects if o.type == "ARMATURE")


# --- the FBX source, built and exported with Blender's own exporter ---------------------------


def _bvh_rotation(zxy: tuple[float, float, float]) -> Matrix:
    z, x, y = (math.radians(v) for v in zxy)
    r = (Matrix.Rotation(z, 3, "Z") @ Matrix.Rotation(x, 3, "X") @ Matrix.Rotation(y, 3, "Y"))
    c = Matrix(((1, 0, 0), (0, 0, -1), (0, 1, 0)))  # BVH axes -> Blender axes
    return c @ r @ c.transposed()


def build_mixamo_fbx(path: Path, *, a_pose_degrees: float = 0.0, skin: bool = True,
                     turn_degrees: float = 0.0) -> dict[int, dict[str, Vector]]:
    """Build a Mixamo-named armature (``mixamorig:``), animate it with the test motion
    (BVH-style world-axis rotations at each joint), give it a skinned mesh when ``skin``,
    export it with ``export_scene.fbx``, and return the world positions of its hands and
    feet at SAMPLED_FRAMES as the importer will number them (the armature's frame f - 1),
    with the hips' rest position under key ``0``. ``turn_degrees`` turns the figure about
    Z: a source facing another way than the avatar."""
    joints = animation_data.source_joints(a_pose_degrees=a_pose_degrees)
    scene = bpy.context.scene
    scene.render.fps = animation_data.FPS
    data = bpy.data.armatures.new("Armature")
    rig = bpy.data.objects.new("Armature", data)
    scene.collection.objects.link(rig)
    bpy.context.view_layer.objects.active = rig
    bpy.ops.object.mode_set(mode="EDIT")
    kids: dict[str, list[str]] = {}
    for name, parent, _ in joints:
        kids.setdefault(parent or "", []).append(name)
    # a turned source is built turned (bones, motion and path), not placed turned: Blender's
    # FBX round trip of a rotated armature object changes its rest pose
    turn = Matrix.Rotation(math.radians(turn_degrees), 3, "Z")
    pos = {name: turn @ Vector(p) for name, _, p in joints}
    for name, parent, _ in joints:
        bone = data.edit_bones.new(name)
        bone.head = pos[name]
        children = kids.get(name, [])
        tail = pos[children[0]] if children else pos[name] + Vector((0.0, 0.0, 0.04))
        if (tail - bone.head).length < 1e-3:
            tail = bone.head + Vector((0.0, 0.0, 0.04))
        bone.tail = tail
        if parent:
            bone.parent = data.edit_bones[parent]
    bpy.ops.object.mode_set(mode="OBJECT")
    prefix = "mixamorig:"
    rest = {b.name: b.matrix_local.to_3x3() for b in data.bones}
    hips_rest = pos[prefix + "Hips"]
    unturned = turn.transposed() @ hips_rest
    rest_bvh = (unturned.x, unturned.z, -unturned.y)
    for frame in range(animation_data.FRAMES):
        for pb in rig.pose.bones:
            plain = pb.name[len(prefix):]
            world = turn @ _bvh_rotation(animation_data.motion(plain, frame)) @ turn.transposed()
            r = rest[pb.name]
            pb.rotation_quaternion = (r.inverted() @ world @ r).to_quaternion()
            pb.keyframe_insert("rotation_quaternion", frame=frame)
        root = turn @ Vector(animation_data.to_blender(
            animation_data.root_position(frame, rest_bvh)))
        hips = rig.pose.bones[prefix + "Hips"]
        hips.location = rest[hips.name].inverted() @ (root - hips_rest)
        hips.keyframe_insert("location", frame=frame)
    if skin:
        mesh = bpy.data.meshes.new("Body")
        mesh.from_pydata([(-0.2, -0.1, 0.0), (0.2, -0.1, 0.0), (0.0, 0.1, 1.7)], [],
                         [(0, 1, 2)])
        body = bpy.data.objects.new("Body", mesh)
        scene.collection.objects.link(body)
        body.parent = rig
        body.modifiers.new("Armature", "ARMATURE").object = rig
        group = body.vertex_groups.new(name=prefix + "Hips")
        group.add([0, 1, 2], 1.0, "REPLACE")
    # keys from frame 0: the FBX's times start at 0 s, which Blender's FBX importer puts on
    # the scene's first frame (1), as with the BVH
    scene.frame_start, scene.frame_end = 0, animation_data.FRAMES - 1
    expected: dict[int, dict[str, Vector]] = {0: {"Hips": hips_rest.copy()}}
    for frame in SAMPLED_FRAMES:
        scene.frame_set(frame - 1)
        expected[frame] = {n: rig.matrix_world @ rig.pose.bones[prefix + n].head for n in ENDS}
    # the bones' default transforms in the file are the pose at export time, and without a
    # skin (no bind pose) they are the importer's rest pose: export at frame 0, the rest pose
    scene.frame_set(0)
    bpy.ops.export_scene.fbx(filepath=str(path), add_leaf_bones=False, bake_anim=True,
                             bake_anim_use_nla_strips=False, bake_anim_use_all_actions=False,
                             bake_anim_simplify_factor=0.0,
                             object_types={"ARMATURE", "MESH"})
    return expected


def fbx_expected(recorded: dict[int, dict[str, Vector]], avatar: Any, scale: float,
                 turn_degrees: float = 0.0) -> dict[int, dict[str, Vector]]:
    """What ``build_mixamo_fbx`` recorded, as the avatar should reproduce it: turned back
    by ``turn_degrees`` (to face the avatar's way), scaled, moved onto the avatar's hips."""
    back = Matrix.Rotation(math.radians(-turn_degrees), 3, "Z")
    hips_rest = recorded[0]["Hips"]
    avatar_hips = avatar.data.bones["Hips"].head_local
    placed = avatar.matrix_world
    return {frame: {n: placed @ (avatar_hips + back @ (p - hips_rest) * scale)
                    for n, p in bones.items()}
            for frame, bones in recorded.items() if frame != 0}


def figure_of(armature: Any) -> list[tuple[str, str | None, tuple[float, float, float]]]:
    """The armature's rest skeleton as animation_data figures are given: (name, parent,
    head position in glTF/BVH axes)."""
    return [(b.name, b.parent.name if b.parent else None,
             animation_data.from_blender(tuple(b.head_local)))
            for b in armature.data.bones]
