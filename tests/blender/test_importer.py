"""The avatar importer in real Blender: everything imports, or nothing is left behind."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import bpy
import pytest

from avatar_importer.blender.importing.importer import import_avatar_glb
from avatar_importer.core.errors import GlbFormatError, ImportFailed, UnsafeUriError
from avatar_importer.core.glb import external_image_uris, read_glb, write_glb

OUTFIT = "outfit_ARPI_lod2_external_textures.glb"
OUTFIT_TEXTURES = [
    "ARPI_Color_1K.jpg",
    "ARPI_LOD2_BodyVisibilityMask_1K.jpg",
    "ARPI_LOD2_HeadVisibilityMask_1K.jpg",
    "ARPI_Normal_1K.jpg",
    "ARPI_UnityMetallicSmoothness_1K.png",
]
SELF_CONTAINED = [
    "head_lod2_female.glb",
    "head_lod2_male.glb",
    "body_lod1_female_template.glb",
    "body_lod2_male_template.glb",
]


def texture_folder(tmp_path: Path, make_png: Callable[..., bytes]) -> Path:
    folder = tmp_path / "textures"
    folder.mkdir()
    for index, name in enumerate(OUTFIT_TEXTURES):
        (folder / name).write_bytes(make_png((40 * index, 100, 200)))
    return folder


def assert_only_in(collection_name: str, object_names: list[str]) -> None:
    for name in object_names:
        users = [c.name for c in bpy.data.objects[name].users_collection]
        assert users == [collection_name], (name, users)
    assert not bpy.context.scene.collection.objects


@pytest.mark.parametrize("filename", SELF_CONTAINED)
def test_sample_imports_into_its_own_collection(samples_dir: Path, filename: str) -> None:
    result = import_avatar_glb(samples_dir / filename, name="Avatar")
    assert result.collection_name == "Avatar"
    assert bpy.data.collections["Avatar"].name in bpy.context.scene.collection.children
    assert_only_in("Avatar", result.objects)
    assert all(image["resolved"] for image in result.images)
    for image in bpy.data.images:
        assert tuple(image.size) != (0, 0), image.name
    assert result.armature == "Avatar"  # the armature is named after the avatar
    assert result.bone_count == 73
    assert result.seconds > 0
    # the avatar is selected, the armature active, the active collection restored
    view_layer = bpy.context.view_layer
    assert view_layer.objects.active.name == "Avatar"
    assert sorted(o.name for o in view_layer.objects if o.select_get()) == sorted(result.objects)
    assert view_layer.active_layer_collection.collection == bpy.context.scene.collection


def test_head_shape_keys_and_bones(samples_dir: Path) -> None:
    result = import_avatar_glb(samples_dir / "head_lod2_female.glb", name="Head")
    assert result.shape_keys["AvatarHead"] == 66
    assert result.shape_keys["AvatarEyelashes"] == 33
    assert result.shape_keys["AvatarTeethLower"] == 19
    assert result.bone_count == 73
    assert len(bpy.data.objects[result.armature].data.bones) == 73
    assert {i["source"] for i in result.images} == {"embedded"}
    assert len(result.images) == 10


def test_two_avatars_side_by_side(samples_dir: Path) -> None:
    first = import_avatar_glb(samples_dir / "head_lod2_female.glb", name="Avatar")
    second = import_avatar_glb(samples_dir / "head_lod2_male.glb", name="Avatar")
    assert first.collection_name == "Avatar"
    assert second.collection_name != "Avatar"
    assert_only_in(second.collection_name, second.objects)
    assert bpy.context.view_layer.objects.active.name == second.armature


@pytest.mark.parametrize("pack_images", [True, False])
def test_outfit_with_textures_from_search_folder(
    samples_dir: Path, tmp_path: Path, make_png: Callable[..., bytes], pack_images: bool
) -> None:
    folder = texture_folder(tmp_path, make_png)
    result = import_avatar_glb(samples_dir / OUTFIT, name="Outfit", search=[folder],
                               pack_images=pack_images)
    # Blender creates the images its materials use (colour and normal map)
    used = sorted(Path(i["filepath"]).name for i in result.images)
    assert {"ARPI_Color_1K.jpg", "ARPI_Normal_1K.jpg"} <= set(used) <= set(OUTFIT_TEXTURES)
    assert {i["source"] for i in result.images} == {"folder"}
    for info in result.images:
        image = bpy.data.images[info["name"]]
        assert tuple(image.size) == (4, 4)
        assert Path(bpy.path.abspath(image.filepath)) == folder / Path(info["filepath"]).name
        assert bool(image.packed_file) is pack_images
    if not pack_images:
        # the staged copies are gone; reloading reads the resolved files themselves
        for info in result.images:
            image = bpy.data.images[info["name"]]
            image.reload()
            assert tuple(image.size) == (4, 4)
    assert_only_in("Outfit", result.objects)


def test_outfit_with_textures_from_cache_map(
    samples_dir: Path, tmp_path: Path, make_png: Callable[..., bytes]
) -> None:
    folder = texture_folder(tmp_path, make_png)
    cache_map = {name: folder / name for name in OUTFIT_TEXTURES}
    before = {name: (folder / name).read_bytes() for name in OUTFIT_TEXTURES}
    result = import_avatar_glb(samples_dir / OUTFIT, name="Outfit", search=[cache_map])
    assert {i["source"] for i in result.images} == {"cache"}
    assert len(result.images) >= 2
    assert {name: (folder / name).read_bytes() for name in OUTFIT_TEXTURES} == before


def test_outfit_without_textures_fails_cleanly(
    samples_dir: Path, counts: Callable[[], dict[str, int]]
) -> None:
    before = counts()
    with pytest.raises(ImportFailed) as info:
        import_avatar_glb(samples_dir / OUTFIT, name="Outfit")
    for name in OUTFIT_TEXTURES:
        assert name in str(info.value)
    assert counts() == before
    assert "Outfit" not in bpy.data.collections


def test_unloadable_texture_rolls_back(
    samples_dir: Path, tmp_path: Path, make_png: Callable[..., bytes],
    counts: Callable[[], dict[str, int]],
) -> None:
    folder = texture_folder(tmp_path, make_png)
    (folder / "ARPI_Normal_1K.jpg").write_bytes(b"this is not an image at all")
    bpy.ops.mesh.primitive_cube_add()
    cube = bpy.context.view_layer.objects.active
    before = counts()
    with pytest.raises(ImportFailed, match=r"ARPI_Normal_1K\.jpg"):
        import_avatar_glb(samples_dir / OUTFIT, name="Outfit", search=[folder])
    assert counts() == before
    assert bpy.context.view_layer.objects.active == cube
    assert cube.select_get()


def test_unsafe_uri_is_refused_before_import(
    samples_dir: Path, tmp_path: Path, make_png: Callable[..., bytes],
    counts: Callable[[], dict[str, int]],
) -> None:
    folder = texture_folder(tmp_path, make_png)
    glb = read_glb(samples_dir / OUTFIT)
    glb.json["images"][0]["uri"] = "../../etc/hostname"
    evil = tmp_path / "export" / "avatar" / "model.glb"
    evil.parent.mkdir(parents=True)
    write_glb(glb, evil)
    before = counts()
    with pytest.raises(UnsafeUriError, match="hostname"):
        import_avatar_glb(evil, name="Evil", search=[folder])
    assert counts() == before


def test_truncated_glb_leaves_nothing(
    samples_dir: Path, tmp_path: Path, counts: Callable[[], dict[str, int]]
) -> None:
    data = (samples_dir / "head_lod2_female.glb").read_bytes()
    broken = tmp_path / "broken.glb"
    broken.write_bytes(data[: len(data) // 2])
    before = counts()
    with pytest.raises((GlbFormatError, ImportFailed), match=r"broken\.glb"):
        import_avatar_glb(broken, name="Broken")
    assert counts() == before


def test_importer_error_mid_way_rolls_back(
    samples_dir: Path, tmp_path: Path, counts: Callable[[], dict[str, int]]
) -> None:
    """A GLB our checks accept but Blender's importer chokes on, after creating data."""
    glb = read_glb(samples_dir / "head_lod2_female.glb")
    assert external_image_uris(glb.json) == []
    last_mesh = glb.json["meshes"][-1]
    last_mesh["primitives"][0]["attributes"]["POSITION"] = len(glb.json["accessors"]) + 5
    bad = tmp_path / "bad.glb"
    write_glb(glb, bad)
    bpy.ops.mesh.primitive_cube_add()
    before = counts()
    with pytest.raises(ImportFailed) as info:
        import_avatar_glb(bad, name="Bad")
    assert "Bad" in str(info.value)
    assert counts() == before


def test_not_a_glb(tmp_path: Path, counts: Callable[[], dict[str, int]]) -> None:
    path = tmp_path / "page.glb"
    path.write_bytes(b"<html>" + struct.pack("<I", 7) * 10)
    before = counts()
    with pytest.raises(GlbFormatError, match=r"page\.glb"):
        import_avatar_glb(path, name="Page")
    assert counts() == before


def test_textures_beside_the_glb(
    samples_dir: Path, tmp_path: Path, make_png: Callable[..., bytes]
) -> None:
    export = texture_folder(tmp_path, make_png)
    glb_path = export / "model.glb"
    glb_path.write_bytes((samples_dir / OUTFIT).read_bytes())  # a scratch copy in tmp
    result = import_avatar_glb(glb_path, name="Outfit", pack_images=False)
    assert {i["source"] for i in result.images} == {"beside"}
    for info in result.images:
        assert Path(info["filepath"]).parent == export
        assert tuple(bpy.data.images[info["name"]].size) == (4, 4)


def test_user_active_collection_is_kept(samples_dir: Path) -> None:
    mine = bpy.data.collections.new("Mine")
    bpy.context.scene.collection.children.link(mine)
    view_layer = bpy.context.view_layer
    view_layer.active_layer_collection = view_layer.layer_collection.children["Mine"]
    result = import_avatar_glb(samples_dir / "body_lod2_male_template.glb", name="Avatar")
    assert view_layer.active_layer_collection.collection == mine
    assert not mine.objects
    assert_only_in("Avatar", result.objects)
