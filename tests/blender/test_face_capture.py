"""A Live Link Face take on imported avatars, in real Blender: shape-key values, the head and
eye bones, unmatched channels, and bad input leaving the avatar as it was."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import bpy
import pytest
from face_avatars import import_avaturn, import_metaperson
from mathutils import Matrix, Vector
from mocap_samples import ANGLES, livelink_csv

from avatar_importer.blender import compat
from avatar_importer.blender.animation.apply import apply_animation_files
from avatar_importer.core.errors import InputError
from avatar_importer.core.mocap.arkit import ARKIT_52
from avatar_importer.core.mocap.livelink import ChannelSettings, FaceOptions

SAMPLED_FRAMES = (0, 7, 23, 41, 60)  # scene frames after the start, at 30 fps
ANGLE_TOLERANCE = 1e-3  # radians


def rows_of(text: str) -> list[dict[str, str]]:
    """The CSV read independently of the add-on (the oracle)."""
    return list(csv.DictReader(io.StringIO(text)))


def write_take(folder: Path, **kwargs: object) -> tuple[Path, list[dict[str, str]]]:
    text = livelink_csv(**kwargs)  # type: ignore[arg-type]
    path = folder / "take.csv"
    path.write_text(text)
    return path, rows_of(text)


def head_delta(armature, bone: str):
    """The bone's armature-space rotation relative to its rest orientation."""
    pose = armature.pose.bones[bone].matrix.to_quaternion()
    rest = armature.data.bones[bone].matrix_local.to_quaternion()
    return pose @ rest.inverted()


def expected_rotation(yaw: float, pitch: float, roll: float):
    """Yaw about up (+Z), pitch about the avatar's left (+X), roll about its forward (-Y),
    right-hand rule, applied in that order: written out independently of the add-on."""
    return (Matrix.Rotation(yaw, 4, "Z") @ Matrix.Rotation(pitch, 4, "X")
            @ Matrix.Rotation(-roll, 4, "Y")).to_quaternion()


def state_of(armature) -> dict[str, object]:
    """What an apply may change: every action assignment, the actions, the scene range."""
    objects = [armature, *[o for o in bpy.data.objects if o.type == "MESH"]]
    return {
        "actions": sorted(bpy.data.actions.keys()),
        "armature": compat.id_action(armature),
        "keys": {o.name: (compat.id_action(o.data.shape_keys),
                          o.data.shape_keys.animation_data is not None) for o in objects
                 if o.type == "MESH" and o.data.shape_keys},
        "frame_end": bpy.context.scene.frame_end,
        "pose": [tuple(b.rotation_quaternion) for b in armature.pose.bones],
        "report": armature.get("avatar_importer_animation"),
    }


@pytest.fixture
def metaperson(tmp_path):
    bpy.context.scene.render.fps = 30
    return import_metaperson(tmp_path)


def test_shape_keys_follow_the_csv_after_the_gain(tmp_path, metaperson):
    take, rows = write_take(tmp_path, seconds=2.0, fps=60)
    options = FaceOptions(channels={"JawOpen": ChannelSettings(gain=0.8),
                                    "eyeBlinkLeft": ChannelSettings(gain=1.5)})
    report = apply_animation_files(metaperson, face_capture=take, face_options=options)
    face = report["face"]
    assert face["source_fps"] == 60 and face["scene_fps"] == 30
    assert (face["frame_start"], face["frame_end"], face["frames"]) == (1, 61, 61)
    assert face["channels_unmapped"] == ["tongueOut"]  # MetaPerson mobile_51 has none
    assert report["shape_key_channels_unmapped"] == ["tongueOut"]
    assert len(face["channels_mapped"]) == 51
    head = bpy.data.objects["AvatarHead"]
    keys = head.data.shape_keys.key_blocks
    gains = {"jawOpen": 0.8, "eyeBlinkLeft": 1.5}
    scene = bpy.context.scene
    for offset in SAMPLED_FRAMES:
        scene.frame_set(1 + offset)
        row = rows[2 * offset]  # 60 fps rows, 30 fps scene
        for name in ARKIT_52[:-1]:
            column = name[0].upper() + name[1:]
            want = min(1.0, float(row[column]) * gains.get(name, 1.0))
            assert keys[name].value == pytest.approx(want, abs=0.01), (offset, name)
    # every mesh carrying an ARKit key is driven (eyelashes blink with the lids)
    driven_meshes = {d.split(":")[0] for d in face["shape_keys_driven"]}
    carriers = {o.name for o in bpy.data.objects if o.type == "MESH" and o.data.shape_keys
                and "eyeBlinkLeft" in o.data.shape_keys.key_blocks}
    assert carriers <= driven_meshes and "AvatarHead" in driven_meshes
    assert scene.frame_end >= 61
    assert report["action_name"] == face["actions"][metaperson.name]


def test_head_and_eye_bones_follow_the_angles(tmp_path, metaperson):
    take, rows = write_take(tmp_path, seconds=2.0, fps=60)
    report = apply_animation_files(metaperson, face_capture=take)
    assert set(report["face"]["bones"]) == {"Head", "LeftEye", "RightEye"}
    scene = bpy.context.scene
    for offset in SAMPLED_FRAMES:
        scene.frame_set(1 + offset)
        row = {k: float(v) for k, v in rows[2 * offset].items() if k in ANGLES}
        head = expected_rotation(row["HeadYaw"], row["HeadPitch"], row["HeadRoll"])
        for bone in ("Head", "LeftEye", "RightEye"):
            want = expected_rotation(row[f"{bone}Yaw"], row[f"{bone}Pitch"], row[f"{bone}Roll"])
            if bone != "Head":  # eye angles are relative to the face: the eyes turn with it
                want = head @ want
            got = head_delta(metaperson, bone)
            assert got.rotation_difference(want).angle < ANGLE_TOLERANCE, (offset, bone)


@pytest.mark.parametrize(("column", "check"), [
    ("HeadYaw", lambda fwd, up: fwd.x > 0.2),    # turns toward the avatar's left (+X)
    ("HeadPitch", lambda fwd, up: fwd.z < -0.2),  # looks down
    ("HeadRoll", lambda fwd, up: up.x < -0.2),    # top of the head toward its right (-X)
])
def test_axis_conventions(tmp_path, metaperson, column, check):
    """One positive angle at a time: the face turns the way the module says."""
    lines = ["Timecode,BlendShapeCount,JawOpen," + column]
    lines += [f"00:00:01:{i:02d}.000,1,0.0,{0.5 * i / 29:.5f}" for i in range(30)]
    (tmp_path / "one.csv").write_text("\n".join(lines) + "\n")
    apply_animation_files(metaperson, face_capture=tmp_path / "one.csv")
    bpy.context.scene.frame_set(1 + 29)  # 0.5 rad at the end (30 fps take, 30 fps scene)
    delta = head_delta(metaperson, "Head")
    fwd, up = delta @ Vector((0, -1, 0)), delta @ Vector((0, 0, 1))
    assert check(fwd, up), (column, fwd, up)
    assert math.isclose(delta.angle, 0.5, abs_tol=ANGLE_TOLERANCE)


def test_avaturn_split_head_gets_tongue_out(tmp_path):
    bpy.context.scene.render.fps = 30
    armature = import_avaturn(tmp_path)
    take, rows = write_take(tmp_path, seconds=1.0, fps=60)
    report = apply_animation_files(armature, face_capture=take)
    face = report["face"]
    assert face["channels_unmapped"] == []
    assert {"Head_Mesh:tongueOut", "Tongue_Mesh:tongueOut", "Teeth_Mesh:jawOpen"} <= \
        set(face["shape_keys_driven"])
    bpy.context.scene.frame_set(1 + 12)
    for mesh in ("Head_Mesh", "Tongue_Mesh"):
        value = bpy.data.objects[mesh].data.shape_keys.key_blocks["tongueOut"].value
        assert value == pytest.approx(float(rows[24]["TongueOut"]), abs=0.01)


def test_bad_input_leaves_the_avatar_as_it_was(tmp_path, metaperson, make_png):
    good, _ = write_take(tmp_path, seconds=0.5, fps=30)
    apply_animation_files(metaperson, face_capture=good)  # earlier work to keep
    before = state_of(metaperson)
    no_arkit = tmp_path / "notes.csv"
    no_arkit.write_text("name,age\nada,36\n")
    picture = tmp_path / "photo.csv"
    picture.write_bytes(make_png())
    text = tmp_path / "take.txt"
    text.write_text("hello")
    cases = [(no_arkit, "notes.csv has no ARKit columns"), (picture, "not a CSV file"),
             (text, r"take\.txt: expected a \.csv file")]
    for path, message in cases:
        with pytest.raises(InputError, match=message):
            apply_animation_files(metaperson, face_capture=path)
        assert state_of(metaperson) == before, path.name
    # a failure after the face keys were written (lip-sync table naming no key) is undone
    table = {s: {"no_such_viseme": 1.0} for s in "ABCDEFGHX"}
    (tmp_path / "cues.tsv").write_text("0.00\tA\n0.50\tX\n")
    with pytest.raises(InputError, match="none of the viseme shape keys"):
        apply_animation_files(metaperson, face_capture=good, lipsync=tmp_path / "cues.tsv",
                              viseme_map=table)
    assert state_of(metaperson) == before


def test_reapplying_keeps_earlier_keys_and_adds_to_body_keys(tmp_path, metaperson):
    """A lip-sync applied after a face take keeps the take's keys (the action is copied,
    the original untouched); head keys add to a body animation already on the bone."""
    take, rows = write_take(tmp_path, seconds=1.0, fps=30)
    arm = metaperson
    body = bpy.data.actions.new("walk")
    compat.id_action_assign(arm, body)
    path = 'pose.bones["Head"].rotation_quaternion'
    tilt = Matrix.Rotation(0.3, 4, "X").to_quaternion()  # bone-local tilt from the body
    for k in range(4):
        fc = compat.id_fcurve_new(arm, path, k, "Head")
        fc.keyframe_points.insert(1, tilt[k])
        fc.keyframe_points.insert(31, tilt[k])
    apply_animation_files(arm, face_capture=take)
    first_key_action = compat.id_action(bpy.data.objects["AvatarHead"].data.shape_keys).name
    (tmp_path / "cues.tsv").write_text("0.00\tX\n0.30\tD\n0.60\tX\n")
    apply_animation_files(arm, lipsync=tmp_path / "cues.tsv")
    key = bpy.data.objects["AvatarHead"].data.shape_keys
    paths = {fc.data_path for fc in compat.id_fcurves(key)}
    assert 'key_blocks["jawOpen"].value' in paths and 'key_blocks["aa"].value' in paths
    assert compat.id_action(key).name != first_key_action
    assert first_key_action in bpy.data.actions  # the earlier action is still there
    assert "walk" in bpy.data.actions  # the body's own action is untouched
    scene = bpy.context.scene
    scene.frame_set(1 + 15)
    row = {k: float(v) for k, v in rows[15].items() if k in ANGLES}
    rest = arm.data.bones["Head"].matrix_local.to_quaternion()
    face = expected_rotation(row["HeadYaw"], row["HeadPitch"], row["HeadRoll"])
    body_tilt = rest @ tilt @ rest.inverted()  # the body's tilt in armature space
    want = body_tilt @ face  # the face turns the head about axes the body has moved
    got = head_delta(arm, "Head")
    assert got.rotation_difference(want).angle < ANGLE_TOLERANCE


def test_real_metaperson_export_eyelashes_and_teeth_follow(tmp_path, samples_dir):
    """The real MetaPerson head (shared samples; skipped without them): the ARKit keys on
    the eyelashes and teeth are driven with the head's, tongueOut is reported."""
    from avatar_importer.blender.importing.importer import import_avatar_glb
    bpy.context.scene.render.fps = 30
    result = import_avatar_glb(samples_dir / "head_lod2_female.glb", name="Real")
    armature = bpy.data.objects[result.armature]
    take, rows = write_take(tmp_path, seconds=0.5, fps=60)
    report = apply_animation_files(armature, face_capture=take)
    assert report["face"]["channels_unmapped"] == ["tongueOut"]
    bpy.context.scene.frame_set(1 + 10)
    want = float(rows[20]["EyeBlinkLeft"])
    for mesh in ("AvatarHead", "AvatarEyelashes"):
        value = bpy.data.objects[mesh].data.shape_keys.key_blocks["eyeBlinkLeft"].value
        assert value == pytest.approx(want, abs=0.01), mesh


def test_avatar_without_shape_keys_gets_head_and_eyes_only(tmp_path):
    """Avaturn's classic layout: no shape keys, so every channel is reported unmatched,
    and the head and eyes still turn."""
    from avatar_importer.blender.importing.importer import import_avatar_glb
    from avatar_importer.sandbox.avaturn_assets import build_avaturn_glb
    glb = tmp_path / "classic.glb"
    glb.write_bytes(build_avaturn_glb("classic", texture_px=8))
    armature = bpy.data.objects[import_avatar_glb(glb, name="Classic").armature]
    take, _ = write_take(tmp_path, seconds=0.5, fps=30)
    report = apply_animation_files(armature, face_capture=take)
    assert report["face"]["channels_unmapped"] == list(ARKIT_52)
    assert report["face"]["shape_keys_driven"] == []
    assert set(report["face"]["bones"]) == {"Head", "LeftEye", "RightEye"}
    assert f"No shape key: {ARKIT_52[0]}" in report["summary"][-1]
