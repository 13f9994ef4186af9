"""The sandbox's generated sample avatar looks like a MetaPerson 2.0 export."""

from __future__ import annotations

import json
import posixpath
import re
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest

from avatar_importer.sandbox.assets import (
    ARKIT_MOBILE_51,
    VISEMES_15,
    build_sample_avatar,
    build_thumbnail,
    parse_glb,
    png_bytes,
    textures_for_glb,
)

SAMPLES = Path("/work/shared/samples/metaperson")
PARTS = ["AvatarBody", "AvatarHead", "AvatarEyelashes", "AvatarLeftCornea", "AvatarRightCornea",
         "AvatarLeftEyeball", "AvatarRightEyeball", "AvatarTeethLower", "AvatarTeethUpper"]
STATIC_RE = re.compile(
    r"^/static_resources/metaperson_2\.0/textures/(avatar|haircuts|outfits)/([^/]+)/"
    r"\2_[A-Za-z0-9]+_(1K|2K|4K|512)\.(png|jpg|webp)$"
)


def nodes_by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["name"]: n for n in doc["nodes"]}


def read_floats(doc: dict[str, Any], binary: bytes, accessor: int) -> list[float]:
    acc = doc["accessors"][accessor]
    view = doc["bufferViews"][acc["bufferView"]]
    width = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT4": 16}[acc["type"]]
    assert acc["componentType"] == 5126
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    return list(struct.unpack_from(f"<{acc['count'] * width}f", binary, start))


def decode_png(data: bytes) -> tuple[int, int, bytes]:
    """Width, height and raw scanlines of an 8-bit RGBA PNG (filter bytes included)."""
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    pos, idat, size = 8, b"", (0, 0)
    while pos < len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        chunk = data[pos + 8 : pos + 8 + length]
        crc = struct.unpack_from(">I", data, pos + 8 + length)[0]
        assert zlib.crc32(kind + chunk) & 0xFFFFFFFF == crc
        if kind == b"IHDR":
            w, h, depth, color = struct.unpack(">IIBB", chunk[:10])
            assert (depth, color) == (8, 6)
            size = (w, h)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    assert len(raw) == size[1] * (1 + 4 * size[0])
    return size[0], size[1], raw


@pytest.fixture(scope="module")
def female() -> tuple[Any, dict[str, Any], bytes]:
    sample = build_sample_avatar()
    doc, binary = parse_glb(sample.glb)
    return sample, doc, binary


def test_root_and_skeleton(female: tuple[Any, dict[str, Any], bytes]) -> None:
    _, doc, _ = female
    assert doc["asset"]["version"] == "2.0"
    root = doc["nodes"][doc["scenes"][doc["scene"]]["nodes"][0]]
    assert root["name"] == "AvatarRoot"
    (skin,) = doc["skins"]
    names = [doc["nodes"][j]["name"] for j in skin["joints"]]
    assert doc["nodes"][skin["skeleton"]]["name"] == "Hips" == names[0]
    assert len(names) == 73 and len(set(names)) == 73
    for name in ["Spine2", "Neck2", "Head", "LeftEye", "RightEye", "HeadTop_End", "LeftForeArm1",
                 "RightForeArm2", "LeftHandThumb4", "RightHandPinky4", "LeftToe_End",
                 "RightToeBase"]:
        assert name in names
    assert doc["accessors"][skin["inverseBindMatrices"]]["count"] == 73


def test_every_part_is_a_skinned_mesh_with_its_material(
    female: tuple[Any, dict[str, Any], bytes],
) -> None:
    _, doc, _ = female
    nodes = nodes_by_name(doc)
    for part in [*PARTS, "haircut", "outfit"]:
        node = nodes[part]
        assert node["skin"] == 0
        (prim,) = doc["meshes"][node["mesh"]]["primitives"]
        assert {"POSITION", "NORMAL", "TEXCOORD_0", "JOINTS_0", "WEIGHTS_0"} <= set(
            prim["attributes"])
        assert doc["materials"][prim["material"]]["name"] == part


def test_figure_stands_about_1_7_m_tall_facing_plus_z(
    female: tuple[Any, dict[str, Any], bytes],
) -> None:
    _, doc, _ = female
    lows, highs = [], []
    for mesh in doc["meshes"]:
        acc = doc["accessors"][mesh["primitives"][0]["attributes"]["POSITION"]]
        lows.append(acc["min"])
        highs.append(acc["max"])
    assert min(lo[1] for lo in lows) == pytest.approx(0.0, abs=0.02)
    assert 1.6 < max(hi[1] for hi in highs) < 1.9
    assert max(hi[0] for hi in highs) > 0.7  # T-pose: arms out
    nodes = nodes_by_name(doc)
    eye = doc["accessors"][doc["meshes"][nodes["AvatarLeftEyeball"]["mesh"]]["primitives"][0]
                           ["attributes"]["POSITION"]]
    assert eye["min"][0] > 0 and eye["max"][2] > 0.05  # avatar's left is +X, it looks at +Z


def test_head_shape_keys(female: tuple[Any, dict[str, Any], bytes]) -> None:
    _, doc, binary = female
    head = doc["meshes"][nodes_by_name(doc)["AvatarHead"]["mesh"]]
    names = head["extras"]["targetNames"]
    assert len(ARKIT_MOBILE_51) == 51 and "tongueOut" not in ARKIT_MOBILE_51
    assert list(ARKIT_MOBILE_51) == sorted(ARKIT_MOBILE_51)
    assert names == [*ARKIT_MOBILE_51, *VISEMES_15]
    assert names[-15:] == ["CH", "DD", "E", "FF", "PP", "RR", "SS", "TH", "aa", "ih", "kk",
                           "nn", "oh", "ou", "sil"]
    targets = head["primitives"][0]["targets"]
    assert len(targets) == 66 == len(head["weights"])
    for name, target in zip(names, targets, strict=True):
        assert any(abs(v) > 1e-4 for v in read_floats(doc, binary, target["POSITION"])), name


def test_blendshape_options() -> None:
    doc, _ = parse_glb(build_sample_avatar(blendshapes=("visemes_14",)).glb)
    head = doc["meshes"][nodes_by_name(doc)["AvatarHead"]["mesh"]]
    assert head["extras"]["targetNames"] == list(VISEMES_15[:-1])
    doc, _ = parse_glb(build_sample_avatar(blendshapes=()).glb)
    head = doc["meshes"][nodes_by_name(doc)["AvatarHead"]["mesh"]]
    assert "targets" not in head["primitives"][0] and "extras" not in head


def test_images_and_static_files_match_one_to_one(
    female: tuple[Any, dict[str, Any], bytes],
) -> None:
    sample, doc, _ = female
    uris = [img["uri"] for img in doc["images"]]
    assert all("bufferView" not in img for img in doc["images"])
    assert len(uris) == len(set(uris))
    assert all("/" not in u for u in uris)
    basenames = [posixpath.basename(p) for p in sample.static_files]
    assert sorted(uris) == sorted(basenames)
    for path in sample.static_files:
        assert STATIC_RE.match(path), path
    assert "/static_resources/metaperson_2.0/textures/avatar/AvatarBodyFemale/" \
           "AvatarBodyFemale_Color_1K.png" in sample.static_files
    used = {t["source"] for t in doc["textures"]}
    assert used == set(range(len(uris)))


def test_textures_are_small_pngs(female: tuple[Any, dict[str, Any], bytes]) -> None:
    sample, _, _ = female
    for path, data in sample.static_files.items():
        width, height, raw = decode_png(data)
        assert (width, height) == (64, 64), path
        if "_Normal" in path:
            assert raw[1:5] == bytes((128, 128, 255, 255))


def test_transparent_materials(female: tuple[Any, dict[str, Any], bytes]) -> None:
    sample, doc, _ = female
    mats = {m["name"]: m for m in doc["materials"]}
    for name in ("AvatarLeftCornea", "AvatarRightCornea", "AvatarEyelashes"):
        assert mats[name]["alphaMode"] == "BLEND"
    for name in ("AvatarLeftCornea", "AvatarRightCornea"):
        assert mats[name]["pbrMetallicRoughness"]["baseColorFactor"][3] == 0
    assert mats["haircut"]["alphaMode"] in ("BLEND", "MASK")
    hair_image = doc["images"][mats["haircut"]["pbrMetallicRoughness"]["baseColorTexture"]
                               ["index"]]["uri"]
    (hair_png,) = [d for p, d in sample.static_files.items() if p.endswith("/" + hair_image)]
    width, _, raw = decode_png(hair_png)
    alphas = {raw[row * (1 + 4 * width) + 1 + 4 * x + 3] for row in range(width)
              for x in range(width)}
    assert 0 in alphas and 255 in alphas
    assert mats["AvatarBody"].get("alphaMode", "OPAQUE") == "OPAQUE"


def test_profile_subtype_and_optional_assets() -> None:
    sample = build_sample_avatar("male", profile="2K.jpg", haircut=None, outfit="ARPI",
                                 texture_px=16)
    doc, _ = parse_glb(sample.glb)
    nodes = nodes_by_name(doc)
    assert "haircut" not in nodes and "outfit" in nodes
    paths = list(sample.static_files)
    assert not any("/haircuts/" in p for p in paths)
    assert any(p.endswith("/outfits/ARPI/ARPI_Color_2K.jpg") for p in paths)
    assert any(p.endswith("/AvatarBodyMale/AvatarBodyMale_Normal1_2K.jpg") for p in paths)
    assert any(p.endswith("/AvatarEyes/AvatarEyes_Color_512.jpg") for p in paths)
    # colour maps that carry alpha stay PNG whatever the profile
    assert any(p.endswith("/AvatarEyelashes/AvatarEyelashes_Color_512.png") for p in paths)
    for data in sample.static_files.values():
        assert decode_png(data)[:2] == (16, 16)  # the bytes are PNG even when named .jpg
    doc_none, _ = parse_glb(build_sample_avatar(haircut=None, outfit=None).glb)
    names = set(nodes_by_name(doc_none))
    assert set(PARTS) <= names and not {"haircut", "outfit"} & names


def test_generation_is_deterministic_and_validates_input() -> None:
    assert build_sample_avatar().glb == build_sample_avatar().glb
    with pytest.raises(ValueError):
        build_sample_avatar(profile="8K.png")
    with pytest.raises(ValueError):
        build_sample_avatar("robot")
    with pytest.raises(ValueError):
        build_sample_avatar(outfit="../../etc")


def test_png_encoder_and_thumbnail() -> None:
    data = png_bytes(3, 2, lambda x, y: (x * 80, y * 100, 7, 255))
    width, height, raw = decode_png(data)
    assert (width, height) == (3, 2)
    assert raw[0] == 0 and raw[1:5] == bytes((0, 0, 7, 255))
    assert raw[14:18] == bytes((0, 100, 7, 255))  # row 1 starts at 13 with its filter byte
    assert decode_png(build_thumbnail("abc", 32))[:2] == (32, 32)
    assert build_thumbnail("abc") != build_thumbnail("abd")


def _tiny_glb(images: list[dict[str, str]]) -> bytes:
    js = json.dumps({"asset": {"version": "2.0"}, "images": images}).encode()
    js += b" " * (-len(js) % 4)
    return struct.pack("<4sII", b"glTF", 2, 20 + len(js)) + struct.pack("<II", len(js),
                                                                          0x4E4F534A) + js


def test_textures_for_any_glb() -> None:
    glb = _tiny_glb([{"uri": "Shirt_Color_1K.jpg"}, {"uri": "Shirt_Normal_1K.jpg"},
                     {"uri": "data:image/png;base64,AAAA"}, {"uri": "../secret.png"},
                     {"uri": "sub/dir.png"}, {"uri": "http://example.com/x.png"}])
    files = textures_for_glb(glb, "/static_resources/x/")
    assert sorted(files) == ["/static_resources/x/Shirt_Color_1K.jpg",
                             "/static_resources/x/Shirt_Normal_1K.jpg"]
    assert decode_png(files["/static_resources/x/Shirt_Normal_1K.jpg"])[2][1:5] == bytes(
        (128, 128, 255, 255))
    sample = build_sample_avatar()
    prefix = "/static_resources/metaperson_2.0/textures/custom"
    assert {posixpath.basename(p) for p in textures_for_glb(sample.glb, prefix)} == {
        posixpath.basename(p) for p in sample.static_files}


@pytest.mark.skipif(not (SAMPLES / "outfit_ARPI_lod2_external_textures.glb").exists(),
                    reason="shared MetaPerson samples not available")
def test_textures_for_a_real_export_and_same_layout_as_real_samples() -> None:
    real = (SAMPLES / "outfit_ARPI_lod2_external_textures.glb").read_bytes()
    files = textures_for_glb(real, "/s")
    assert "/s/ARPI_Color_1K.jpg" in files and len(files) == 5
    real_doc, _ = parse_glb((SAMPLES / "body_lod1_female_template.glb").read_bytes())
    ours, _ = parse_glb(build_sample_avatar().glb)
    real_joints = [real_doc["nodes"][j]["name"] for j in real_doc["skins"][0]["joints"]]
    our_joints = [ours["nodes"][j]["name"] for j in ours["skins"][0]["joints"]]
    assert our_joints == real_joints
    assert set(PARTS) <= set(nodes_by_name(real_doc))
