"""The bpy-free motion helpers: BVH reading and forward kinematics, format sniffing, skeleton
families and bone maps, user presets."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

from avatar_importer.core.errors import InputError
from avatar_importer.core.mocap import bonemaps
from avatar_importer.core.mocap.bvh import joint_positions, parse_bvh, read_bvh, sniff_format
from avatar_importer.core.mocap.result import RetargetResult
from avatar_importer.sandbox.avaturn_assets import AVATURN_JOINTS
from avatar_importer.sandbox.skeleton import skeleton_joints

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "blender"))
import animation_data  # the generator of the test motions (plain Python)

TWO_JOINTS = """HIERARCHY
ROOT Hips
{
  OFFSET 0 100 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Arm
  {
    OFFSET 10 0 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 10 0 0
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.04
0 100 0 0 0 0 0 0 0
5 100 0 90 0 0 0 0 0
"""


def test_bvh_parse_and_forward_kinematics() -> None:
    bvh = parse_bvh(TWO_JOINTS)
    assert bvh.names == ["Hips", "Arm"] and bvh.frame_count == 2 and bvh.fps == 25.0
    assert bvh.joints[1].end_site == (10.0, 0.0, 0.0)
    assert joint_positions(bvh, 0)["Arm"] == pytest.approx((10.0, 100.0, 0.0))
    # the root turned 90 degrees about Z and moved 5 along X: the arm now points up
    assert joint_positions(bvh, 1)["Arm"] == pytest.approx((5.0, 110.0, 0.0))


@pytest.mark.parametrize(("text", "words"), [
    ("HIERARCHY\nROOT Hips\n{\n OFFSET 0 0 0\n CHANNELS 5 a b c d e\n}\n", "5 channels"),
    (TWO_JOINTS.replace("Frames: 2", "Frames: 3"), "announces 3"),
    (TWO_JOINTS.replace("Frame Time: 0.04", "Frame Time: 0"), "frame time"),
    (TWO_JOINTS.replace("0 100 0 0 0 0 0 0 0", "0 100 x 0 0 0 0 0 0"), "not a number"),
    (TWO_JOINTS.replace("OFFSET 10 0 0\n    CHANNELS", "OFFSET 10 nan 0\n    CHANNELS"),
     "finite"),
    ("HIERARCHY\nROOT Hips\n{\n", "ends early"),
])
def test_bvh_malformed_is_refused_with_the_cause(text: str, words: str) -> None:
    with pytest.raises(InputError, match=words):
        parse_bvh(text)


def test_sniff_format(tmp_path: Path) -> None:
    bvh = tmp_path / "a.dat"
    bvh.write_text("\ufeff\n  HIERARCHY\nROOT x\n")
    assert sniff_format(bvh) == "bvh"  # by content, not by name
    fbx = tmp_path / "b.bin"
    fbx.write_bytes(b"Kaydara FBX Binary  \x00" + bytes(10))
    assert sniff_format(fbx) == "fbx"
    for content, words in [(b"", "empty"), (b"; FBX 7.4.0 project file", "ASCII FBX"),
                           (b"\x89PNG\r\n", "neither a BVH")]:
        other = tmp_path / "c.bvh"
        other.write_bytes(content)
        with pytest.raises(InputError, match=words):
            sniff_format(other)
    with pytest.raises(InputError, match="not found"):
        sniff_format(tmp_path / "missing.bvh")


def test_generated_bvhs_read_back(tmp_path: Path) -> None:
    walk = read_bvh(animation_data.mixamo_bvh(tmp_path / "walk.bvh"))
    assert walk.frame_count == animation_data.FRAMES and walk.fps == pytest.approx(30.0)
    rest = joint_positions(walk, 0)
    # frame 0 is the rest pose: the hand is where the figure's skeleton puts it (cm)
    figure = {n: p for n, _, p in skeleton_joints(1.0, 1.0)}
    scale = 100.0 * animation_data.SOURCE_HEIGHT_SCALE
    assert rest["mixamorig:LeftHand"] == pytest.approx(
        tuple(c * scale for c in figure["LeftHand"]), abs=1e-3)
    last = joint_positions(walk, walk.frame_count - 1)
    assert last["mixamorig:Hips"][2] > rest["mixamorig:Hips"][2] + 50  # walked forward
    assert last["mixamorig:RightHand"][1] > rest["mixamorig:RightHand"][1] + 10  # waving
    cmu = read_bvh(animation_data.cmu_bvh(tmp_path / "cmu.bvh"))
    assert {"LHipJoint", "LowerBack", "LThumb"} <= set(cmu.names)


def test_families_detected_from_bone_names() -> None:
    metaperson = [n for n, _, _ in skeleton_joints(1.0, 1.0)]
    assert bonemaps.detect_family(metaperson) == "metaperson"
    assert bonemaps.detect_family(AVATURN_JOINTS) == "avaturn"
    assert bonemaps.detect_family(AVATURN_JOINTS, ["Body_Mesh", "Head_Mesh.001"]) \
        == "avaturn_split_head"
    mixamo = [f"mixamorig:{n}" for n in AVATURN_JOINTS]
    assert bonemaps.detect_family(mixamo) == "mixamo"
    assert bonemaps.detect_family([f"mixamorig1:{n}" for n in AVATURN_JOINTS]) == "mixamo"
    assert bonemaps.detect_family([*AVATURN_JOINTS, "HeadTop_End", "LeftHandIndex4"]) \
        == "mixamo"
    assert bonemaps.detect_family(bonemaps.FAMILIES["bvh_cmu"].values()) == "bvh_cmu"
    assert bonemaps.detect_family(bonemaps.FAMILIES["bvh_classic"].values()) == "bvh_classic"
    assert bonemaps.detect_family(["root", "pelvis", "spine_01", "thigh_l"]) == "unknown"
    assert bonemaps.detect_family(["Hips", "Spine", "Head", "LeftArm"]) == "unknown"


def test_bone_map_and_resolve() -> None:
    mapping = bonemaps.bone_map("mixamo", "metaperson")
    assert mapping["mixamorig:LeftUpLeg"] == "LeftUpLeg"
    assert mapping["mixamorig:LeftHandIndex3"] == "LeftHandIndex3"
    cmu = bonemaps.bone_map("bvh_cmu", "avaturn")
    assert cmu["LowerBack"] == "Spine" and cmu["Spine1"] == "Spine2" and cmu["LThumb"] \
        == "LeftHandThumb1"
    # a different namespace prefix and case still match; extra bones are listed
    sources = ["mixamorig2:Hips", "mixamorig2:LeftArm", "mixamorig2:Prop"]
    matched = bonemaps.resolve(mapping, sources, ["Hips", "leftarm", "Neck1"])
    assert matched.mapped == {"mixamorig2:Hips": "Hips", "mixamorig2:LeftArm": "leftarm"}
    assert matched.unmapped_source == ["mixamorig2:Prop"]
    assert matched.unmapped_target == ["Neck1"]
    slots = bonemaps.slot_names(matched.mapped, "metaperson", "mixamo")
    assert slots == {"hips": "Hips", "upper_arm.L": "leftarm"}
    with pytest.raises(InputError, match="no recognisable humanoid skeleton"):
        bonemaps.check_skeleton(slots, "x.bvh")
    with pytest.raises(InputError, match="unknown skeleton family"):
        bonemaps.bone_map("mixamo", "robot")


def test_user_presets_round_trip(tmp_path: Path) -> None:
    folder = tmp_path / "presets"
    assert bonemaps.list_presets(folder) == []
    preset = bonemaps.Preset("My rig / v2", "custom", "metaperson", {"pelvis": "Hips"})
    path = bonemaps.save_preset(folder, preset)
    assert path.parent == folder and "/" not in path.name[:-5]
    assert bonemaps.load_preset(folder, "My rig / v2") == preset
    assert bonemaps.list_presets(folder) == ["My rig / v2"]
    (folder / "broken.json").write_text("{not json")
    (folder / "other.json").write_text(json.dumps({"map": {"a": 1}}))
    assert bonemaps.list_presets(folder) == ["My rig / v2"]  # unreadable ones are skipped
    with pytest.raises(InputError, match="not readable JSON"):
        bonemaps.load_preset_file(folder / "broken.json")
    with pytest.raises(InputError, match="every map entry"):
        bonemaps.load_preset_file(folder / "other.json")
    with pytest.raises(InputError, match="cannot be used"):
        bonemaps.preset_filename(" ./ ")
    assert not list(folder.glob(".preset-*"))  # no temporary file left
    assert bonemaps.delete_preset(folder, "My rig / v2") is True
    assert bonemaps.delete_preset(folder, "My rig / v2") is False


def test_result_report_is_json() -> None:
    result = RetargetResult("Avatar|walk", 1, 40, 30.0, {"a": "b"}, ["c"], ["d"], "mixamo",
                            "metaperson", root_scale=math.pi)
    report = json.loads(json.dumps(result.as_report()))
    assert report["frame_count"] == 40 and report["mapped"] == {"a": "b"}
    assert "40" in result.summary() or "1-40" in result.summary()
