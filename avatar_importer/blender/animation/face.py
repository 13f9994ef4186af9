"""A Live Link Face take played onto an avatar: shape-key weights and head and eye bones.

Timing: the take's rows (at its own capture rate, from the timecodes) are resampled to the
scene's frame rate, one key per scene frame from ``frame_start``.

Axis conventions (armature space of an imported glTF avatar: up +Z, the avatar faces -Y,
its left is +X). ``Yaw`` turns about up, ``Pitch`` about the avatar's left axis, ``Roll``
about its forward axis, each counter-clockwise when looking down that axis (right-hand
rule), applied yaw, then pitch, then roll. So positive yaw turns the face toward the
avatar's left, positive pitch tilts it down, positive roll tips the top of the head toward
the avatar's right. A take recorded with the opposite sense is flipped with a gain of -1
on that channel. The rotation is about the bone's own pivot and adds to any body
animation already keyed on the bone (about the axes the body has moved it to). Eye angles
are relative to the face, as ARKit gives them: the eye bones, children of the head, turn
with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import bpy
from mathutils import Quaternion, Vector

from ...core.errors import InputError
from ...core.mocap import livelink
from ...core.mocap.arkit import match_shape_keys
from ...core.mocap.livelink import FaceOptions, FaceTake
from .. import compat
from . import avatar, keys
from .keys import ActionSession

UP = Vector((0.0, 0.0, 1.0))
LEFT = Vector((1.0, 0.0, 0.0))
FORWARD = Vector((0.0, -1.0, 0.0))
GROUP = "Face capture"  # F-curve group of every key written here
ROTATION_CHANNELS: dict[str, tuple[str, str, str]] = {
    "head": ("HeadYaw", "HeadPitch", "HeadRoll"),
    "left_eye": ("LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll"),
    "right_eye": ("RightEyeYaw", "RightEyePitch", "RightEyeRoll"),
}


@dataclass
class FacePlan:
    """What a take will drive on one avatar (computed before anything is written)."""

    targets: dict[str, list[tuple[Any, str]]]  # channel -> [(mesh object, shape key)]
    unmatched: list[str]  # ARKit channels with no shape key on the avatar
    bones: dict[str, str]  # role -> bone name
    bones_missing: list[str]  # roles whose channels are in the take but no bone exists


def yaw_pitch_roll(yaw: float, pitch: float, roll: float) -> Quaternion:
    """The armature-space rotation for these angles (see the module's conventions)."""
    return (Quaternion(UP, yaw) @ Quaternion(LEFT, pitch)
            @ Quaternion(FORWARD, roll))


def plan(armature: Any, take: FaceTake) -> FacePlan:
    meshes = [(m, avatar.shape_key_names(m)) for m in avatar.avatar_meshes(armature)]
    targets: dict[str, list[tuple[Any, str]]] = {}
    for channel in take.shapes:
        hits = [(mesh, key) for mesh, names in meshes for key in match_shape_keys(channel, names)]
        if hits:
            targets[channel] = hits
    bones: dict[str, str] = {}
    missing: list[str] = []
    for role, channels in ROTATION_CHANNELS.items():
        if not any(c in take.rotations for c in channels):
            continue
        bone = avatar.find_bone(armature, role)
        if bone is None:
            missing.append(role)
        else:
            bones[role] = bone
    unmatched = [c for c in take.shapes if c not in targets]
    return FacePlan(targets, unmatched, bones, missing)


def apply_face(armature: Any, take: FaceTake, options: FaceOptions, *, scene: Any,
               frame_start: int, session: ActionSession) -> dict[str, Any]:
    """Key the take onto ``armature``'s avatar; returns the report's ``face`` part."""
    the_plan = plan(armature, take)
    if not the_plan.targets and not the_plan.bones:
        raise InputError(f"{take.source}: none of its {len(take.shapes)} ARKit channels has "
                         f"a shape key on {armature.name}, and it has no head or eye bone")
    fps = avatar.scene_fps(scene)
    count = livelink.frame_count(take.duration, fps)
    frames = [float(frame_start + i) for i in range(count)]
    actions: dict[str, str] = {}
    driven: list[str] = []
    for channel, hits in the_plan.targets.items():
        values = livelink.processed(take, channel, options)
        per_frame = [livelink.sample(take.times, values, i / fps) for i in range(count)]
        for mesh, key_name in hits:
            key = mesh.data.shape_keys
            action = session.action_for(key, f"{mesh.name}_face")
            actions[f"{mesh.name} shape keys"] = action.name
            keys.write_keys(key, keys.shape_key_path(key_name), frames, per_frame,
                            group=GROUP)
            driven.append(f"{mesh.name}:{key_name}")
    if the_plan.bones:
        action = session.action_for(armature, f"{armature.name}_face")
        actions[armature.name] = action.name
        for role, bone in the_plan.bones.items():
            _key_bone(armature, bone, role, take, options, fps, frames)
    return {
        "file": take.source,
        "start_timecode": take.start_timecode,
        "source_fps": take.fps,
        "timecode_rate": take.timecode_rate,
        "scene_fps": fps,
        "frame_start": frame_start,
        "frame_end": frame_start + count - 1,
        "frames": count,
        "actions": actions,
        "channels_mapped": list(the_plan.targets),
        "channels_unmapped": the_plan.unmatched,
        "shape_keys_driven": driven,
        "bones": {the_plan.bones[r]: list(ROTATION_CHANNELS[r]) for r in the_plan.bones},
        "bones_missing": the_plan.bones_missing,
        "ignored_columns": take.ignored_columns,
        "angle_unit": take.angle_unit,
    }


def _key_bone(armature: Any, bone_name: str, role: str, take: FaceTake,
              options: FaceOptions, fps: float, frames: list[float]) -> None:
    pose_bone = armature.pose.bones[bone_name]
    rest = armature.data.bones[bone_name].matrix_local.to_quaternion()
    rest_inv = rest.inverted()
    series = []
    for channel in ROTATION_CHANNELS[role]:
        if channel in take.rotations:
            series.append(livelink.processed(take, channel, options))
        else:
            series.append([0.0] * len(take.times))
    path = f'pose.bones["{bpy.utils.escape_identifier(bone_name)}"].rotation_quaternion'
    body = [compat.id_fcurve_find(armature, path, i) for i in range(4)]
    # keys of an earlier face capture are replaced, a body animation's are added to
    has_body = all(fc is not None and (fc.group is None or fc.group.name != GROUP)
                   for fc in body)
    out: list[list[float]] = [[], [], [], []]
    prev: Quaternion | None = None
    for i, frame in enumerate(frames):
        t = i / fps
        yaw, pitch, roll = (livelink.sample(take.times, s, t) for s in series)
        local = rest_inv @ yaw_pitch_roll(yaw, pitch, roll) @ rest
        if has_body:
            local = Quaternion([fc.evaluate(frame) for fc in body]) @ local
        if prev is not None and prev.dot(local) < 0:
            local.negate()
        prev = local
        for k in range(4):
            out[k].append(local[k])
    pose_bone.rotation_mode = "QUATERNION"
    for k in range(4):
        keys.write_keys(armature, path, frames, out[k], index=k, group=GROUP)
