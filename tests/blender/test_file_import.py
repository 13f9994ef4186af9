"""File > Import > Avatar export (.zip, .glb, .gltf) and Make portable, through the
operators of the enabled add-on."""

from __future__ import annotations

import os
import shutil
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import addon_utils
import bpy
import pytest
from avatar_samples import (
    OUTFIT,
    OUTFIT_TEXTURES,
    write_avaturn_avatar,
    write_gltf,
    write_sandbox_avatar,
)

from avatar_importer.blender.importing import file_import
from avatar_importer.blender.importing.file_import import import_avatar_file, static_cache_map
from avatar_importer.core.errors import InputError, UnsafeArchiveError

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "samples" / "metaperson"
SAMPLE_FILES = sorted(p.name for p in SAMPLES.glob("*")
                      if p.suffix.lower() in file_import.SUFFIXES) if SAMPLES.is_dir() else []


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("AVATAR_IMPORTER_CACHE", str(root))
    return root


@pytest.fixture
def addon(cache: Path) -> Iterator[None]:
    addon_utils.enable("avatar_importer", default_set=True, handle_error=None)
    assert hasattr(bpy.types, "IMPORT_SCENE_OT_avatar_export")
    yield
    addon_utils.disable("avatar_importer", default_set=True, handle_error=None)


def outfit_textures(folder: Path, make_png: Callable[..., bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index, name in enumerate(OUTFIT_TEXTURES):
        (folder / name).write_bytes(make_png((40 * index, 100, 200)))
    return folder


def run_import(path: Path, **options: object) -> file_import.ImportResult:
    assert bpy.ops.import_scene.avatar_export(filepath=str(path), **options) == {"FINISHED"}
    result = file_import.last_result()
    assert result is not None
    return result


def new_images(result: file_import.ImportResult) -> list[bpy.types.Image]:
    return [bpy.data.images[i["name"]] for i in result.images]


def test_menu_entries_follow_the_addon(cache: Path) -> None:
    def entries(menu: type) -> list[str]:
        return [getattr(f, "__name__", "") for f in getattr(menu.draw, "_draw_funcs", [])]

    addon_utils.enable("avatar_importer", default_set=True, handle_error=None)
    try:
        assert "_menu_import" in entries(bpy.types.TOPBAR_MT_file_import)
        assert "_menu_external_data" in entries(bpy.types.TOPBAR_MT_file_external_data)
    finally:
        addon_utils.disable("avatar_importer", default_set=True, handle_error=None)
    assert "_menu_import" not in entries(bpy.types.TOPBAR_MT_file_import)
    assert not hasattr(bpy.types, "IMPORT_SCENE_OT_avatar_export")
    assert not hasattr(bpy.types, "AVATAR_IMPORTER_OT_make_portable")


@pytest.mark.skipif(not SAMPLE_FILES, reason="the shared MetaPerson samples are not here")
@pytest.mark.parametrize("filename", SAMPLE_FILES)
def test_every_sample_through_file_import(addon: None, filename: str) -> None:
    result = run_import(SAMPLES / filename)
    messages = file_import.last_messages()
    if filename == OUTFIT:
        # nothing supplies the outfit's own five external textures: each is named
        assert sorted(result.missing_images) == OUTFIT_TEXTURES
        warnings = " ".join(text for level, text in messages if level == "WARNING")
        for name in OUTFIT_TEXTURES:
            assert name in warnings
        assert {i["source"] for i in result.images} == {"missing"}
        for image in new_images(result):  # placeholders point where the file was expected
            assert Path(image.filepath).parent == SAMPLES
    else:
        assert result.missing_images == []
        assert messages[-1][0] == "INFO"
        # the templates come without textures: only that may be warned about
        assert all("no eyelash texture" in text for level, text in messages[:-1]), messages
        assert all(i["resolved"] for i in result.images)
        assert all(tuple(img.size) != (0, 0) for img in new_images(result))
    assert result.armature == result.collection_name == filename.removesuffix(".glb")
    assert result.bone_count == 73


@pytest.mark.skipif(not SAMPLE_FILES, reason="the shared MetaPerson samples are not here")
def test_outfit_with_a_texture_folder(addon: None, tmp_path: Path,
                                      make_png: Callable[..., bytes]) -> None:
    folder = outfit_textures(tmp_path / "downloads", make_png)
    result = run_import(SAMPLES / OUTFIT, texture_folder=str(folder))
    assert result.missing_images == [] and result.warnings == []
    assert {i["source"] for i in result.images} == {"folder"}
    assert all(tuple(img.size) == (4, 4) for img in new_images(result))


@pytest.mark.skipif(not SAMPLE_FILES, reason="the shared MetaPerson samples are not here")
def test_outfit_from_the_static_cache(addon: None, cache: Path,
                                      make_png: Callable[..., bytes]) -> None:
    outfit_textures(cache / "static" / "static_resources" / "metaperson_2.0" / "textures"
                    / "outfits" / "ARPI", make_png)
    assert set(static_cache_map(cache)) == set(OUTFIT_TEXTURES)
    result = run_import(SAMPLES / OUTFIT)
    assert result.missing_images == []
    assert {i["source"] for i in result.images} == {"cache"}


@pytest.mark.skipif(not SAMPLE_FILES, reason="the shared MetaPerson samples are not here")
def test_missing_textures_can_be_found_later(addon: None, tmp_path: Path,
                                             make_png: Callable[..., bytes]) -> None:
    result = run_import(SAMPLES / OUTFIT, pack_images=False)
    assert len(result.missing_images) == 5
    folder = outfit_textures(tmp_path / "found", make_png)
    bpy.ops.file.find_missing_files(directory=str(folder))
    for image in new_images(result):
        image.reload()
        assert tuple(image.size) == (4, 4), image.name


@pytest.mark.parametrize("pack_images", [True, False])
def test_export_archive(addon: None, tmp_path: Path, cache: Path, pack_images: bool) -> None:
    export = write_sandbox_avatar(tmp_path / "sandbox").parent
    archive = tmp_path / "Ada_export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(export.iterdir()):
            zf.write(path, f"avatar/{path.name}")
    result = run_import(archive, pack_images=pack_images)
    assert result.collection_name == "Ada_export"
    assert result.missing_images == []
    assert {i["source"] for i in result.images} == {"archive"}
    for image in new_images(result):
        assert bool(image.packed_file) is pack_images
        assert tuple(image.size) == (64, 64)
    if pack_images:  # the temporary extraction is gone: named by where they came from
        assert all(i["filepath"].startswith("Ada_export.zip/avatar/") for i in result.images)
        assert all(img.filepath.startswith("//textures/") for img in new_images(result))
    else:  # referenced: the files stay where they were extracted
        for image in new_images(result):
            path = Path(bpy.path.abspath(image.filepath))
            assert path.is_file() and cache / "imports" in path.parents
            image.reload()
            assert tuple(image.size) == (64, 64)
    assert result.source_file == str(archive)


def test_unsafe_archive_is_refused(addon: None, tmp_path: Path,
                                   counts: Callable[[], dict[str, int]]) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../evil.glb", b"glTF")
    before = counts()
    with pytest.raises(RuntimeError, match="evil"):
        bpy.ops.import_scene.avatar_export(filepath=str(archive))
    assert file_import.last_messages()[0][0] == "ERROR"
    assert counts() == before
    with pytest.raises(UnsafeArchiveError):
        import_avatar_file(archive)
    with pytest.raises(InputError, match="expected one of"):
        import_avatar_file(Path(__file__))


def test_gltf_with_textures_beside(addon: None, tmp_path: Path) -> None:
    glb = write_sandbox_avatar(tmp_path / "sandbox")
    gltf = write_gltf(glb, tmp_path / "gltf")
    result = run_import(gltf)
    assert result.collection_name == "gltf"  # model.gltf: named after its folder
    assert result.missing_images == []
    assert {i["source"] for i in result.images} == {"beside"}
    assert result.shape_keys["AvatarHead"] == 66


def test_gltf_with_textures_elsewhere(addon: None, tmp_path: Path) -> None:
    glb = write_sandbox_avatar(tmp_path / "sandbox")
    gltf = write_gltf(glb, tmp_path / "gltf")
    textures = tmp_path / "textures"
    textures.mkdir()
    for png in (tmp_path / "gltf").glob("*.png"):
        png.rename(textures / png.name)
    result = run_import(gltf, texture_folder=str(textures), avatar_name="Named")
    assert result.collection_name == "Named" and result.missing_images == []
    assert {i["source"] for i in result.images} == {"folder"}


def test_avaturn_glb(addon: None, tmp_path: Path) -> None:
    result = run_import(write_avaturn_avatar(tmp_path))
    assert result.missing_images == []
    assert result.parts["avaturn_hair_0"] == "hair"
    assert bpy.data.materials["avaturn_hair_0_material"].surface_render_method == "DITHERED"


def test_options_reach_the_import(addon: None, tmp_path: Path) -> None:
    glb = write_sandbox_avatar(tmp_path / "sandbox")
    bpy.context.scene.cursor.location = (0.0, 3.0, 0.0)
    result = run_import(glb, at_cursor=True, fixups=False, transparent_bounces=False)
    assert tuple(bpy.data.objects[result.armature].location) == (0.0, 3.0, 0.0)
    assert all(not m["changes"] for m in result.materials)
    assert bpy.context.scene.cycles.transparent_max_bounces == 8


def test_make_portable(addon: None, tmp_path: Path) -> None:
    elsewhere = tmp_path / "downloads"
    glb = write_sandbox_avatar(elsewhere)
    result = run_import(glb, pack_images=False)
    project = tmp_path / "project"
    project.mkdir()
    blend = project / "scene.blend"
    assert not bpy.ops.avatar_importer.make_portable.poll()  # not saved yet
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    assert bpy.ops.avatar_importer.make_portable() == {"FINISHED"}
    images = new_images(result)
    assert images and all(img.filepath.startswith("//textures/") for img in images)
    assert len(list((project / "textures").iterdir())) == len(images)
    bpy.ops.wm.save_mainfile()
    # move the project and delete the originals: the textures still load
    shutil.rmtree(elsewhere)
    moved = tmp_path / "moved"
    os.rename(project, moved)
    bpy.ops.wm.open_mainfile(filepath=str(moved / "scene.blend"))
    for image in bpy.data.images:
        if image.source == "FILE":
            assert Path(bpy.path.abspath(image.filepath)).parent == moved / "textures"
            assert tuple(image.size) == (64, 64), image.name
    # a second run has nothing left to copy
    assert bpy.ops.avatar_importer.make_portable() == {"FINISHED"}
    assert len(list((moved / "textures").iterdir())) == len(images)


def test_make_portable_name_clash(tmp_path: Path, make_png: Callable[..., bytes]) -> None:
    blend = tmp_path / "p" / "scene.blend"
    blend.parent.mkdir()
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    a, b = tmp_path / "a" / "skin.png", tmp_path / "b" / "skin.png"
    for path, rgb in ((a, (1, 2, 3)), (b, (200, 0, 0))):
        path.parent.mkdir()
        path.write_bytes(make_png(rgb))
    first, second = bpy.data.images.load(str(a)), bpy.data.images.load(str(b))
    gone = bpy.data.images.load(str(a), check_existing=False)
    gone.filepath = str(tmp_path / "nowhere.png")
    done = file_import.make_portable([first, second, gone], blend)
    assert sorted(done.copied) == sorted([first.name, second.name])
    assert done.missing == [gone.name]
    assert {first.filepath, second.filepath} == {"//textures/skin.png", "//textures/skin_2.png"}


@pytest.mark.skipif(not SAMPLE_FILES, reason="the shared MetaPerson samples are not here")
def test_missing_textures_used_and_unused_named_apart(
        addon: None, capfd: pytest.CaptureFixture[str], fault: Any) -> None:
    row = fault.row("M04", "File > Import of the outfit with 5 external textures absent",
                    "warning names the 2 used (pink) apart from the 3 unused; no console "
                    "line names the temporary import folder")
    result = run_import(SAMPLES / OUTFIT)
    said = capfd.readouterr()
    temp_lines = [ln for ln in (said.out + said.err).splitlines() if "avatar_import_" in ln]
    row.saw(f"warnings {[t[:60] for lv, t in file_import.last_messages() if lv == 'WARNING']}"
            f"; temporary-folder lines {len(temp_lines)}")
    used = ["ARPI_Color_1K.jpg", "ARPI_Normal_1K.jpg"]  # what the outfit's material draws
    unused = sorted(set(OUTFIT_TEXTURES) - set(used))  # masks, Unity metallic-smoothness
    assert result.unused_missing_images == unused
    warnings = [text for level, text in file_import.last_messages() if level == "WARNING"]
    assert len(warnings) == 2, warnings
    assert "2 texture(s) the materials use are missing" in warnings[0]
    assert all(name in warnings[0] for name in used)
    assert not any(name in warnings[0] for name in unused)
    assert "3 more file(s)" in warnings[1] and "no material uses them" in warnings[1]
    assert all(name in warnings[1] for name in unused)
    # the glTF importer's own console lines name where the file was expected (the user's
    # folder), never the temporary staging folder that is gone after the import
    console = [ln for ln in (said.out + said.err).splitlines()
               if "ARPI_" in ln and ("Cannot read" in ln or "Missing image" in ln)]
    assert console, said.out + said.err  # the importer does say something
    assert all(str(SAMPLES / "ARPI_") in ln for ln in console), console
    assert "avatar_import_" not in said.out + said.err


@pytest.mark.skipif(not SAMPLE_FILES, reason="the shared MetaPerson samples are not here")
def test_untextured_eyelashes_say_what_is_drawn(addon: None, fault: Any) -> None:
    row = fault.row("M05", "File > Import of body_lod2_male_template (eyelashes: no "
                    "texture, base colour alpha 0)", "the warning says they are invisible")
    result = run_import(SAMPLES / "body_lod2_male_template.glb")
    row.saw(f"warnings {result.warnings}")
    lashes = bpy.data.materials["AvatarEyelashes"]
    principled = next(n for n in lashes.node_tree.nodes if n.type == "BSDF_PRINCIPLED")
    assert principled.inputs["Alpha"].default_value == 0  # the template's base colour
    assert result.warnings == ["AvatarEyelashes: the export has no eyelash texture: "
                               "eyelashes are invisible (base colour alpha 0)"]
