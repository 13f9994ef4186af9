"""The sandbox's generated Avaturn-style GLBs look like the two documented export layouts."""

from __future__ import annotations

import struct
from typing import Any

import pytest

from avatar_importer.core.glb import read_glb
from avatar_importer.sandbox.avaturn_assets import (
    ARKIT_52,
    AVATURN_JOINTS,
    CLASSIC_MESHES,
    LAYOUTS,
    OCULUS_VISEMES,
    SPLIT_HEAD_MESHES,
    build_avaturn_glb,
    mesh_target_names,
)

MIXAMO_SAMPLE = ["Hips", "Spine", "Spine1", "Spine2", "Neck", "Head", "LeftShoulder", "LeftArm",
                 "LeftForeArm", "LeftHand", "LeftHandThumb1", "LeftHandThumb3",
                 "LeftHandIndex1", "LeftHandPinky3", "LeftUpLeg", "LeftLeg", "LeftFoot",
                 "LeftToeBase", "RightShoulder", "RightHandMiddle2", "RightToeBase"]


@pytest.fixture(scope="module", params=[(lay, bt) for lay in LAYOUTS for bt in ("male", "female")])
def glb(request: pytest.FixtureRequest) -> tuple[str, str, dict[str, Any], bytes]:
    layout, body_type = request.param
    parsed = read_glb(build_avaturn_glb(layout, body_type=body_type))
    assert parsed.bin is not None
    return layout, body_type, parsed.json, parsed.bin


def names(doc: dict[str, Any], key: str) -> list[str]:
    return [item.get("name", "") for item in doc.get(key, [])]


def test_root_and_skeleton(glb: tuple[str, str, dict[str, Any], bytes]) -> None:
    _, _, doc, _ = glb
    root = doc["nodes"][doc["scenes"][0]["nodes"][0]]
    assert root["name"] == "Armature"
    skin = doc["skins"][0]
    joints = [doc["nodes"][i]["name"] for i in skin["joints"]]
    assert joints == list(AVATURN_JOINTS) and len(joints) == 54
    assert set(MIXAMO_SAMPLE) <= set(joints)
    assert not any(":" in j or j.endswith("_End") or j.endswith("4") for j in joints)
    assert doc["nodes"][skin["skeleton"]]["name"] == "Hips"
    assert doc["nodes"][root["children"][0]]["name"] == "Hips"
    # every joint is reachable from Hips and has exactly one parent
    parents: dict[int, int] = {}
    for i, node in enumerate(doc["nodes"]):
        for child in node.get("children", []):
            assert child not in parents
            parents[child] = i
    assert all(j in parents for j in skin["joints"])


def test_meshes_and_materials(glb: tuple[str, str, dict[str, Any], bytes]) -> None:
    layout, _, doc, _ = glb
    expected = CLASSIC_MESHES if layout == "classic" else SPLIT_HEAD_MESHES
    assert names(doc, "meshes") == list(expected)
    root = doc["nodes"][0]
    mesh_nodes = [doc["nodes"][i] for i in root["children"][1:]]
    assert [n["name"] for n in mesh_nodes] == list(expected)
    assert all(n["skin"] == 0 for n in mesh_nodes)
    mats = {m["name"]: m for m in doc["materials"]}
    assert sorted(mats) == sorted(f"{m}_material" for m in expected)
    assert all(m["doubleSided"] is True for m in mats.values())
    assert mats["avaturn_hair_0_material"]["alphaMode"] == "MASK"
    assert mats["avaturn_hair_1_material"]["alphaMode"] == "BLEND"
    if layout == "split_head":
        assert mats["Eyelash_Mesh_material"]["alphaMode"] == "BLEND"
    for mesh in doc["meshes"]:
        prim = mesh["primitives"][0]
        assert doc["materials"][prim["material"]]["name"] == f"{mesh['name']}_material"
        assert {"POSITION", "NORMAL", "TEXCOORD_0", "JOINTS_0", "WEIGHTS_0"} <= set(
            prim["attributes"])


def test_textures_embedded(glb: tuple[str, str, dict[str, Any], bytes]) -> None:
    _, _, doc, binary = glb
    assert doc["images"]
    for image in doc["images"]:
        assert "uri" not in image and image["mimeType"] == "image/png"
        view = doc["bufferViews"][image["bufferView"]]
        data = binary[view["byteOffset"]: view["byteOffset"] + view["byteLength"]]
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert "uri" not in doc["buffers"][0]
    for mat in doc["materials"]:
        tex = mat["pbrMetallicRoughness"]["baseColorTexture"]["index"]
        assert doc["textures"][tex]["source"] < len(doc["images"])


def test_skinning_indices_in_range(glb: tuple[str, str, dict[str, Any], bytes]) -> None:
    _, _, doc, binary = glb
    count = len(doc["skins"][0]["joints"])
    for mesh in doc["meshes"]:
        acc = doc["accessors"][mesh["primitives"][0]["attributes"]["JOINTS_0"]]
        view = doc["bufferViews"][acc["bufferView"]]
        values = struct.unpack_from(f"<{acc['count'] * 4}H", binary, view["byteOffset"])
        assert max(values) < count


def test_shape_keys(glb: tuple[str, str, dict[str, Any], bytes]) -> None:
    layout, _, doc, _ = glb
    targets = {m["name"]: m.get("extras", {}).get("targetNames", []) for m in doc["meshes"]}
    for mesh in doc["meshes"]:
        prim = mesh["primitives"][0]
        assert len(prim.get("targets", [])) == len(targets[mesh["name"]])
        assert len(mesh.get("weights", [])) == len(targets[mesh["name"]])
    if layout == "classic":
        assert not any(targets.values())
        return
    head = targets["Head_Mesh"]
    assert head == [*ARKIT_52, *OCULUS_VISEMES]
    assert len(ARKIT_52) == 52 and "tongueOut" in ARKIT_52 and tuple(sorted(
        ARKIT_52, key=str)) == ARKIT_52
    assert len(OCULUS_VISEMES) == 15 and OCULUS_VISEMES[0] == "viseme_sil"
    assert targets["Teeth_Mesh"] == ["jawOpen"]
    assert targets["Tongue_Mesh"] == ["jawOpen", "tongueOut"]
    assert {k: v for k, v in targets.items() if v} == mesh_target_names("split_head")


def test_body_types_differ_and_build_is_deterministic() -> None:
    male = build_avaturn_glb("classic", body_type="male")
    assert male == build_avaturn_glb("classic", body_type="male")
    assert male != build_avaturn_glb("classic", body_type="female")


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="layout"):
        build_avaturn_glb("fancy")
    with pytest.raises(ValueError, match="body type"):
        build_avaturn_glb("classic", body_type="robot")
