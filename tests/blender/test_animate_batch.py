"""Where users reach animation: the batch options (run as a user runs the script, against
the sandbox) and the Animate section's operators on the active avatar."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import addon_utils
import bpy
import pytest
from face_avatars import import_metaperson
from mocap_samples import livelink_csv, rhubarb_json, rhubarb_tsv
from test_batch import run_batch

from avatar_importer.blender import compat
from avatar_importer.sandbox.assets import build_thumbnail
from avatar_importer.sandbox.server import Sandbox, SandboxConfig


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    sb = Sandbox(SandboxConfig(compute_seconds=0.5, export_seconds=0.1)).start()
    yield sb
    sb.stop()


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    out = {"photo": tmp_path / "ada.png", "take": tmp_path / "take.csv",
           "tsv": tmp_path / "line.tsv", "json": tmp_path / "line.json"}
    out["photo"].write_bytes(build_thumbnail("ada", 48))
    out["take"].write_text(livelink_csv(seconds=1.0, fps=60))
    out["tsv"].write_text(rhubarb_tsv())
    out["json"].write_text(rhubarb_json())
    return out


def test_batch_face_capture_and_lipsync_on_every_avatar(tmp_path, sandbox, files):
    out, report = tmp_path / "out.blend", tmp_path / "r.json"
    proc = run_batch("--service", "sandbox", "--base-url", sandbox.base_url,
                     "--photo", str(files["photo"]), "--poll-interval", "0.2",
                     "--cache-dir", str(tmp_path / "cache"), "--out", str(out),
                     "--report", str(report), "--face-capture", str(files["take"]),
                     "--lipsync", str(files["json"]), tmp=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    avatar = json.loads(report.read_text())["avatars"][0]
    anim = avatar["animation"]
    assert anim["action_name"] and anim["shape_key_actions"]
    assert anim["frame_start"] == 1 and anim["frame_end"] >= 1 + 24  # 1 s take, 2 s cues
    assert {"Head", "LeftEye", "RightEye"} <= set(anim["bones_mapped"])
    assert anim["bones_unmapped"] == []
    assert "jawOpen" in anim["shape_key_channels_mapped"]
    assert "aa" in anim["shape_key_channels_mapped"]  # a viseme
    assert anim["shape_key_channels_unmapped"] == ["tongueOut"]
    assert anim["face"]["file"] == "take.csv" and anim["lipsync"]["file"] == "line.json"
    assert "No shape key: tongueOut" in proc.stdout

    bpy.ops.wm.open_mainfile(filepath=str(out))
    armature = bpy.data.objects[avatar["armature"]]
    assert compat.id_action(armature).name == anim["action_name"]
    head = next(o for o in bpy.data.objects if o.type == "MESH" and o.data.shape_keys
                and "aa" in o.data.shape_keys.key_blocks)
    assert compat.id_action(head.data.shape_keys).name in anim["shape_key_actions"]


@pytest.mark.parametrize(("option", "content", "message"), [
    ("--face-capture", "name,age\nada,36\n", "no ARKit columns"),
    ("--lipsync", '{"frames": []}', "no 'mouthCues'"),
    ("--animation", "HIERARCHY", r"expected a \.bvh or \.fbx file"),
    ("--face-capture", None, "does not exist"),
])
def test_bad_animation_options_exit_2_before_any_avatar_is_made(
        tmp_path, sandbox, files, option, content, message):
    suffix = {"--face-capture": ".csv", "--lipsync": ".json", "--animation": ".txt"}[option]
    bad = tmp_path / f"bad{suffix}"
    if content is not None:
        bad.write_text(content)
    proc = run_batch("--service", "sandbox", "--base-url", sandbox.base_url,
                     "--photo", str(files["photo"]), option, str(bad), tmp=tmp_path,
                     timeout=60)
    assert proc.returncode == 2
    assert bad.name in proc.stderr and __import__("re").search(message, proc.stderr)
    assert not [r for r in sandbox.requests_log if r.method == "POST"], "nothing created"


@pytest.fixture
def addon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AVATAR_IMPORTER_CACHE", str(tmp_path / "cache"))
    addon_utils.enable("avatar_importer", default_set=True, handle_error=None)
    yield
    addon_utils.disable("avatar_importer", default_set=True, handle_error=None)


def test_animate_operators_act_on_the_active_avatar(tmp_path, addon, files):
    assert hasattr(bpy.types, "VIEW3D_PT_avatar_importer_animate")
    armature = import_metaperson(tmp_path)
    view_layer = bpy.context.view_layer
    view_layer.objects.active = None
    assert not bpy.ops.avatar_importer.load_face_capture.poll()
    view_layer.objects.active = bpy.data.objects["AvatarHead"]  # a mesh of the avatar
    props = bpy.context.scene.avatar_importer_animate
    props.face_gain = 0.5
    assert bpy.ops.avatar_importer.load_face_capture(filepath=str(files["take"])) == \
        {"FINISHED"}
    assert bpy.ops.avatar_importer.load_lipsync(filepath=str(files["tsv"])) == {"FINISHED"}
    report = json.loads(armature["avatar_importer_animation"])
    assert report["lipsync"]["cues"] == 10
    # the result line keeps the take applied before the lip-sync
    assert [line.split(":")[0] for line in report["summary"][:2]] == ["Face", "Lip-sync"]
    bpy.context.scene.frame_set(1)
    jaw = bpy.data.objects["AvatarHead"].data.shape_keys.key_blocks["jawOpen"].value
    first = float(files["take"].read_text().splitlines()[1].split(",")[2 + 17])  # JawOpen
    assert jaw == pytest.approx(first * 0.5, abs=0.01)

    bad = tmp_path / "notes.csv"
    bad.write_text("name,age\nada,36\n")
    actions = sorted(bpy.data.actions.keys())
    with pytest.raises(RuntimeError, match="no ARKit columns"):
        bpy.ops.avatar_importer.load_face_capture(filepath=str(bad))
    assert "no ARKit columns" in props.last_error
    assert sorted(bpy.data.actions.keys()) == actions
    assert not bpy.ops.avatar_importer.save_bone_map.poll()  # no body animation yet
