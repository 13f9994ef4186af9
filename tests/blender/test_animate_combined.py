"""Body animation, face capture and lip-sync together on one avatar (one apply, the panel,
the batch): the face's head rotation adds to the body's, a late failure undoes the body's
bake too, bone-map presets are saved from the panel."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import addon_utils
import bpy
import pytest
from animation_data import mixamo_bvh
from face_avatars import import_metaperson
from mocap_samples import livelink_csv, rhubarb_tsv
from test_batch import run_batch

from avatar_importer.blender import compat
from avatar_importer.blender.animation.apply import apply_animation_files
from avatar_importer.blender.animation.face import yaw_pitch_roll
from avatar_importer.core.errors import InputError
from avatar_importer.sandbox.assets import build_thumbnail
from avatar_importer.sandbox.server import Sandbox, SandboxConfig


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    out = {"bvh": mixamo_bvh(tmp_path / "walk.bvh"), "take": tmp_path / "take.csv",
           "tsv": tmp_path / "line.tsv"}
    out["take"].write_text(livelink_csv(seconds=1.0, fps=30))
    out["tsv"].write_text(rhubarb_tsv())
    return out


def head_quaternions(armature, frames):
    scene = bpy.context.scene
    out = []
    for frame in frames:
        scene.frame_set(frame)
        out.append(armature.pose.bones["Head"].rotation_quaternion.copy())
    return out


def test_face_head_rotation_adds_to_the_body_animation(tmp_path, files):
    armature = import_metaperson(tmp_path)
    body = apply_animation_files(armature, animation=files["bvh"])
    assert body["body"]["mapped"] and body["action_name"] == body["body"]["action_name"]
    frames = [5, 17, 29]
    body_head = head_quaternions(armature, frames)
    hips_before = []
    for frame in frames:
        bpy.context.scene.frame_set(frame)
        hips_before.append(armature.pose.bones["Hips"].matrix.translation.copy())
    fps = bpy.context.scene.render.fps / bpy.context.scene.render.fps_base
    report = apply_animation_files(armature, face_capture=files["take"], frame_start=1)
    assert report["face"]["scene_fps"] == fps
    rest = armature.data.bones["Head"].matrix_local.to_quaternion()
    from avatar_importer.core.mocap.livelink import read_livelink_csv, sample
    take = read_livelink_csv(files["take"])
    for i, frame in enumerate(frames):
        t = (frame - 1) / fps
        angles = [sample(take.times, take.rotations[c], t)
                  for c in ("HeadYaw", "HeadPitch", "HeadRoll")]
        face_local = rest.inverted() @ yaw_pitch_roll(*angles) @ rest
        want = body_head[i] @ face_local
        bpy.context.scene.frame_set(frame)
        got = armature.pose.bones["Head"].rotation_quaternion
        assert got.rotation_difference(want).angle < 1e-3, frame
        # the rest of the body still walks as before
        assert (armature.pose.bones["Hips"].matrix.translation - hips_before[i]).length < 1e-5


def test_a_late_failure_undoes_the_body_bake_too(tmp_path, files):
    armature = import_metaperson(tmp_path)
    scene = bpy.context.scene
    before = (sorted(bpy.data.actions.keys()), sorted(bpy.data.objects.keys()),
              compat.id_action(armature), scene.render.fps, scene.frame_start,
              scene.frame_end)
    table = {s: {"no_such_viseme": 1.0} for s in "ABCDEFGHX"}
    with pytest.raises(InputError, match="none of the viseme shape keys"):
        apply_animation_files(armature, animation=files["bvh"], face_capture=files["take"],
                              lipsync=files["tsv"], viseme_map=table)
    after = (sorted(bpy.data.actions.keys()), sorted(bpy.data.objects.keys()),
             compat.id_action(armature), scene.render.fps, scene.frame_start,
             scene.frame_end)
    assert after == before


def test_everything_in_one_call(tmp_path, files):
    armature = import_metaperson(tmp_path)
    report = apply_animation_files(armature, animation=files["bvh"],
                                   face_capture=files["take"], lipsync=files["tsv"])
    assert report["action_name"] == report["body"]["action_name"]
    assert compat.id_action(armature).name == report["action_name"]  # one armature action
    assert {"Hips", "Head", "LeftEye"} <= set(report["bones_mapped"])
    assert report["shape_key_channels_unmapped"] == ["tongueOut"]
    assert report["summary"][0].startswith("Body: ")
    # face and lips start with the body
    assert report["face"]["frame_start"] == report["lipsync"]["frame_start"] == \
        report["body"]["frame_start"] == report["frame_start"]
    # the face's head keys live in the body's action
    paths = {fc.data_path for fc in compat.id_fcurves(armature)}
    assert 'pose.bones["Hips"].location' in paths
    assert 'pose.bones["Head"].rotation_quaternion' in paths


@pytest.fixture
def addon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("AVATAR_IMPORTER_CACHE", str(tmp_path / "cache"))
    addon_utils.enable("avatar_importer", default_set=True, handle_error=None)
    from avatar_importer.blender.animation import operators
    operators._FOLDER.clear()
    yield tmp_path / "cache"
    operators._FOLDER.clear()
    addon_utils.disable("avatar_importer", default_set=True, handle_error=None)


def test_panel_loads_a_body_animation_and_saves_its_bone_map(tmp_path, addon, files):
    armature = import_metaperson(tmp_path)
    bpy.context.view_layer.objects.active = armature
    assert bpy.ops.avatar_importer.load_animation(filepath=str(files["bvh"])) == {"FINISHED"}
    stored = json.loads(armature["avatar_importer_animation"])
    assert stored["body"]["mapped"]
    assert bpy.ops.avatar_importer.save_bone_map(name="My walk") == {"FINISHED"}
    saved = json.loads((addon / "bone_maps" / "My walk.json").read_text())
    assert saved["map"] == stored["body"]["mapped"]
    props = bpy.context.scene.avatar_importer_animate
    assert props.preset == "My walk"
    from avatar_importer.blender.animation.operators import preset_names
    assert ("My walk", "My walk") in preset_names()
    # the saved preset is used for the next animation
    assert bpy.ops.avatar_importer.load_animation(filepath=str(files["bvh"])) == {"FINISHED"}


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    sb = Sandbox(SandboxConfig(compute_seconds=0.5, export_seconds=0.1)).start()
    yield sb
    sb.stop()


def test_batch_body_and_face(tmp_path, sandbox, files):
    photo = tmp_path / "ada.png"
    photo.write_bytes(build_thumbnail("ada", 48))
    report = tmp_path / "r.json"
    proc = run_batch("--service", "sandbox", "--base-url", sandbox.base_url,
                     "--photo", str(photo), "--poll-interval", "0.2",
                     "--cache-dir", str(tmp_path / "cache"), "--report", str(report),
                     "--animation", str(files["bvh"]), "--face-capture", str(files["take"]),
                     tmp=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    anim = json.loads(report.read_text())["avatars"][0]["animation"]
    assert anim["action_name"] == anim["body"]["action_name"]
    assert anim["body"]["source_family"] == "mixamo"
    assert (anim["frame_start"], anim["frame_end"]) == (anim["body"]["frame_start"],
                                                        anim["body"]["frame_end"])
    assert {"Hips", "LeftHand", "Head"} <= set(anim["bones_mapped"])
    assert isinstance(anim["bones_unmapped"], list)
