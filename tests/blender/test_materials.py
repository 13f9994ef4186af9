"""Per-part material fix-ups, the tidy scene and the import report, in real Blender (the
4.2+ wheels: ``surface_render_method`` and friends; Blender 3.4's ``blend_method`` /
``shadow_method`` are checked by tests/blender34/run.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import bpy
import pytest
from avatar_samples import write_avaturn_avatar, write_sandbox_avatar

from avatar_importer.blender.importing import materials, scene_tidy
from avatar_importer.blender.importing.importer import import_avatar_glb, stored_report
from avatar_importer.blender.importing.materials import classify, is_clear_cornea
from avatar_importer.core.errors import ImportFailed
from avatar_importer.core.report import import_report, report_lines

# material -> (surface_render_method, use_transparent_shadow, use_backface_culling,
#              use_transparency_overlap or None when not asserted)
EXPECTED = {
    "haircut": ("DITHERED", True, False, None),
    "AvatarEyelashes": ("BLENDED", True, False, False),
    "AvatarLeftCornea": ("BLENDED", True, True, False),
    "AvatarRightCornea": ("BLENDED", True, True, False),
    "AvatarLeftEyeball": ("DITHERED", False, True, None),
    "AvatarRightEyeball": ("DITHERED", False, True, None),
    "AvatarHead": ("DITHERED", False, True, None),
    "AvatarBody": ("DITHERED", False, True, None),
    "AvatarTeethLower": ("DITHERED", False, True, None),
    "outfit": ("DITHERED", False, False, None),  # double-sided in the export
}


def surface(mat: bpy.types.Material) -> tuple[str, bool, bool, bool]:
    return (mat.surface_render_method, mat.use_transparent_shadow, mat.use_backface_culling,
            mat.use_transparency_overlap)


def principled(mat: bpy.types.Material) -> bpy.types.Node:
    return next(n for n in mat.node_tree.nodes if n.type == "BSDF_PRINCIPLED")


def alpha_source(mat: bpy.types.Material) -> tuple[str, str] | None:
    links = principled(mat).inputs["Alpha"].links
    return (links[0].from_node.type, links[0].from_socket.name) if links else None


@pytest.fixture
def sandbox_glb(tmp_path: Path) -> Path:
    return write_sandbox_avatar(tmp_path / "sandbox")


@pytest.mark.parametrize("name,kind", [
    ("haircut", "hair"), ("Haircut7", "hair"), ("HaircutGenerated", "hair"),
    ("AvatarEyelashes", "eyelashes"), ("AvatarLeftCornea", "cornea"),
    ("AvatarRightCornea.001", "cornea"), ("AvatarLeftEyeball", "eyeball"),
    ("AvatarTeethUpper", "teeth"), ("AvatarHead", "skin"), ("AvatarBody.002", "skin"),
    ("outfit", "outfit"), ("outfit_bottom", "outfit"), ("dress_Shaki", "outfit"),
    ("sneakers_ARPI", "outfit"), ("glasses_03", "glasses"), ("glasses", "glasses"),
    ("avaturn_hair_0", "hair"), ("avaturn_hair_1_material", "hair"),
    ("avaturn_glasses_0", "glasses"), ("Eyelash_Mesh", "eyelashes"), ("Eye_Mesh", "eyeball"),
    ("Head_Mesh", "skin"), ("Body_Mesh", "skin"), ("avaturn_body", "skin"),
    ("Teeth_Mesh", "teeth"), ("Tongue_Mesh", "teeth"), ("avaturn_look_0", "outfit"),
    ("avaturn_shoes_0", "outfit"), ("ARPI", "other"), ("Chair", "other"),
])
def test_part_names(name: str, kind: str) -> None:
    assert classify(name) == kind


def test_sandbox_avatar_materials_per_part(sandbox_glb: Path) -> None:
    result = import_avatar_glb(sandbox_glb, name="Ada")
    mats = bpy.data.materials
    for name, (method, shadow, culling, overlap) in EXPECTED.items():
        got = surface(mats[name])
        assert got[:3] == (method, shadow, culling), (name, got)
        if overlap is not None:
            assert got[3] is overlap, (name, got)
    # hair: the texture's own alpha straight into the BSDF, the MASK cut-off removed
    hair = mats["haircut"]
    assert alpha_source(hair) == ("TEX_IMAGE", "Alpha")
    assert not [n for n in hair.node_tree.nodes if n.type in ("MATH", "FRAME")]
    assert alpha_source(mats["AvatarEyelashes"]) == ("TEX_IMAGE", "Alpha")
    # corneas: a clear glossy shell that casts no shadow
    for side in ("Left", "Right"):
        cornea = mats[f"Avatar{side}Cornea"]
        assert is_clear_cornea(cornea)
        assert not [n for n in cornea.node_tree.nodes if n.type == "BSDF_PRINCIPLED"]
        assert bpy.data.objects[f"Avatar{side}Cornea"].visible_shadow is False
    assert alpha_source(mats["AvatarHead"]) is None
    # hair present: transparent bounces raised for stacked cards
    assert bpy.context.scene.cycles.transparent_max_bounces == 64
    assert any("transparent bounces" in c for c in result.scene_changes)
    # the report: every part, every material with what was set
    assert result.parts["haircut"] == "hair"
    assert result.parts["AvatarLeftCornea"] == "cornea"
    assert result.parts["outfit"] == "outfit"
    by_name = {m["name"]: m for m in result.materials}
    assert set(by_name) == {m.name for m in mats}
    assert all(m["changes"] for m in result.materials)
    assert "render method dithered" in by_name["haircut"]["changes"]
    assert any("clear glossy" in c for c in by_name["AvatarLeftCornea"]["changes"])
    assert result.warnings == [] and result.missing_images == []


def test_real_head_sample_materials(samples_dir: Path) -> None:
    result = import_avatar_glb(samples_dir / "head_lod2_female.glb", name="Head")
    mats = bpy.data.materials
    assert surface(mats["AvatarEyelashes"])[:3] == ("BLENDED", True, False)
    assert alpha_source(mats["AvatarEyelashes"]) == ("TEX_IMAGE", "Alpha")
    assert is_clear_cornea(mats["AvatarLeftCornea"]) and is_clear_cornea(mats["AvatarRightCornea"])
    assert surface(mats["AvatarLeftCornea"])[:3] == ("BLENDED", True, True)
    assert surface(mats["AvatarHead"])[:3] == ("DITHERED", False, True)
    # no hair: the scene's transparent bounces are left alone
    assert bpy.context.scene.cycles.transparent_max_bounces == 8
    assert result.shape_keys["AvatarHead"] == 66  # shape keys kept
    assert result.parts == {
        "AvatarEyelashes": "eyelashes", "AvatarHead": "skin", "AvatarLeftCornea": "cornea",
        "AvatarRightCornea": "cornea", "AvatarLeftEyeball": "eyeball",
        "AvatarRightEyeball": "eyeball", "AvatarTeethLower": "teeth",
        "AvatarTeethUpper": "teeth"}


def test_outfit_sample_is_an_outfit(samples_dir: Path, tmp_path: Path,
                                    make_png: Callable[..., bytes]) -> None:
    folder = tmp_path / "tex"
    folder.mkdir()
    for name in ("ARPI_Color_1K.jpg", "ARPI_LOD2_BodyVisibilityMask_1K.jpg",
                 "ARPI_LOD2_HeadVisibilityMask_1K.jpg", "ARPI_Normal_1K.jpg",
                 "ARPI_UnityMetallicSmoothness_1K.png"):
        (folder / name).write_bytes(make_png())
    result = import_avatar_glb(samples_dir / "outfit_ARPI_lod2_external_textures.glb",
                               name="Outfit", search=[folder])
    assert result.parts == {"ARPI": "outfit"}  # named by its code, in a MetaPerson export
    assert surface(bpy.data.materials["ARPI"])[:2] == ("DITHERED", False)


def test_avaturn_layout(tmp_path: Path) -> None:
    glb = write_avaturn_avatar(tmp_path)
    result = import_avatar_glb(glb, name="Turn")
    mats = bpy.data.materials
    assert result.parts["avaturn_hair_0"] == "hair"
    assert result.parts["Eyelash_Mesh"] == "eyelashes"
    assert result.parts["avaturn_look_0"] == "outfit"
    assert result.parts["avaturn_glasses_0"] == "glasses"
    hair = mats["avaturn_hair_0_material"]
    assert surface(hair)[:3] == ("DITHERED", True, False)
    assert alpha_source(hair) == ("TEX_IMAGE", "Alpha")
    assert surface(mats["Eyelash_Mesh_material"])[:3] == ("BLENDED", True, False)
    assert surface(mats["avaturn_glasses_0_material"]) == ("BLENDED", True, False, False)
    assert surface(mats["Head_Mesh_material"])[0] == "DITHERED"
    assert {i["source"] for i in result.images} == {"embedded"}
    assert result.armature == "Turn"
    assert bpy.context.scene.cycles.transparent_max_bounces == 64


def test_fixups_off_leaves_materials_as_imported(sandbox_glb: Path) -> None:
    result = import_avatar_glb(sandbox_glb, name="Raw", fixups=False,
                               transparent_bounces=False)
    mats = bpy.data.materials
    assert not is_clear_cornea(mats["AvatarLeftCornea"])
    assert any(n.type == "MATH" for n in mats["haircut"].node_tree.nodes)
    assert all(m["changes"] == [] for m in result.materials)
    assert result.parts["haircut"] == "hair"  # still reported
    assert bpy.context.scene.cycles.transparent_max_bounces == 8


def test_transparent_bounces_only_raised(sandbox_glb: Path) -> None:
    cycles = bpy.context.scene.cycles
    cycles.transparent_max_bounces = 200
    import_avatar_glb(sandbox_glb, name="A")
    assert cycles.transparent_max_bounces == 200
    cycles.transparent_max_bounces = 4
    import_avatar_glb(sandbox_glb, name="B", transparent_bounces=False)
    assert cycles.transparent_max_bounces == 4
    assert materials.raise_transparent_bounces(bpy.context.scene, 16) == (4, 16)
    assert materials.raise_transparent_bounces(bpy.context.scene, 16) is None


def test_failure_after_fixups_rolls_everything_back(
    sandbox_glb: Path, counts: Callable[[], dict[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    cycles = bpy.context.scene.cycles
    before = counts()

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(scene_tidy, "tag_images", broken)  # runs after bounces are raised
    with pytest.raises(ImportFailed, match="disk on fire"):
        import_avatar_glb(sandbox_glb, name="Doomed")
    assert counts() == before
    assert cycles.transparent_max_bounces == 8
    assert "Doomed" not in bpy.data.collections


def test_tidy_scene(sandbox_glb: Path) -> None:
    first = import_avatar_glb(sandbox_glb, name="Ada")
    arm = bpy.data.objects["Ada"]
    assert first.armature == "Ada" and arm.type == "ARMATURE"
    assert arm.data.name == "Ada"
    assert [c.name for c in arm.users_collection] == ["Ada"]
    meshes = [bpy.data.objects[n] for n in first.objects if bpy.data.objects[n].type == "MESH"]
    assert meshes and all(m.parent == arm for m in meshes)
    assert bpy.data.objects["AvatarHead"].data.shape_keys is not None
    assert first.shape_keys["AvatarHead"] == 66
    # a second avatar of the same name: both get suffixes from Blender, nothing clashes
    second = import_avatar_glb(sandbox_glb, name="Ada")
    assert second.collection_name == "Ada.001" and second.armature == "Ada.001"
    assert "AvatarHead.001" in second.shape_keys


def test_place_at_cursor_and_real_size(sandbox_glb: Path) -> None:
    scene = bpy.context.scene
    scene.cursor.location = (1.0, 2.0, 0.5)
    placed = import_avatar_glb(sandbox_glb, name="Here", at_cursor=True)
    arm = bpy.data.objects[placed.armature]
    assert tuple(round(v, 6) for v in arm.location) == (1.0, 2.0, 0.5)
    assert tuple(arm.scale) == (1.0, 1.0, 1.0)
    assert any("3D cursor" in c for c in placed.scene_changes)
    # a centimetre scene: the avatar keeps its real size unless asked not to
    scene.unit_settings.scale_length = 0.01
    real = import_avatar_glb(sandbox_glb, name="Real")
    assert tuple(round(v, 6) for v in bpy.data.objects[real.armature].scale) == (100.0,) * 3
    raw = import_avatar_glb(sandbox_glb, name="Raw", metre_scale=False)
    assert tuple(bpy.data.objects[raw.armature].scale) == (1.0, 1.0, 1.0)
    assert tuple(bpy.data.objects[raw.armature].location) == (0.0, 0.0, 0.0)


def test_report_lines_and_stored_report(sandbox_glb: Path) -> None:
    result = import_avatar_glb(sandbox_glb, name="Rep", pack_images=False)
    lines = report_lines(result)
    text = "\n".join(lines)
    assert "Parts:" in text and "hair" in text and "cornea x2" in text
    assert "Images: 19 resolved (19 beside)" in text
    assert "Materials: 11 of 11 adjusted" in text
    assert "Shape keys: AvatarHead 66" in text
    assert "Armature Rep: 73 bones" in text
    stored = stored_report(bpy.data.collections["Rep"])
    assert stored is not None and stored["parts"] == result.parts
    assert report_lines(stored) == lines
    body = import_report(result)
    assert json.loads(json.dumps(body)) == body
    assert set(body) >= {"parts", "materials", "images", "missing_images", "shape_keys",
                         "bone_count", "warnings"}
    # images are tagged with their avatar (Make portable uses it)
    assert all(img.get(scene_tidy.IMAGE_TAG) == "Rep" for img in bpy.data.images
               if img.source == "FILE")


def test_job_report_carries_the_import_report(sandbox_glb: Path) -> None:
    from avatar_importer.core.report import job_report
    from avatar_importer.core.stages import JobSpec, JobState, Stage

    result = import_avatar_glb(sandbox_glb, name="Job")
    state = JobState(id="j1", spec=JobSpec(photo=None, name="Job"), service="sandbox",
                     stage=Stage.DONE, result=result)
    body = job_report(state)
    assert body["parts"] == result.parts and body["materials"] == result.materials
    assert body["missing_images"] == [] and body["warnings"] == []
    assert body["scene_changes"] == result.scene_changes
    assert body["armature"] == "Job" and body["bone_count"] == 73


def test_batch_json_report(tmp_path: Path) -> None:
    """The batch script's JSON report (in process, against a local sandbox)."""
    from avatar_importer.blender import batch
    from avatar_importer.sandbox.assets import build_thumbnail

    photo = tmp_path / "Bea.png"
    photo.write_bytes(build_thumbnail("bea", 48))
    report = tmp_path / "report.json"
    rc = batch.main(["--service", "sandbox", "--photo", str(photo), "--cache-dir",
                     str(tmp_path / "cache"), "--report", str(report),
                     "--sandbox-compute-seconds", "0.3", "--poll-interval", "0.1"])
    assert rc == 0
    (avatar,) = json.loads(report.read_text())["avatars"]
    assert avatar["parts"]["haircut"] == "hair"
    assert avatar["parts"]["AvatarLeftCornea"] == "cornea"
    hair = next(m for m in avatar["materials"] if m["name"] == "haircut")
    assert hair["part"] == "hair" and "render method dithered" in hair["changes"]
    assert avatar["missing_images"] == [] and avatar["warnings"] == []
    assert {i["source"] for i in avatar["images"]} == {"cache"}
    assert avatar["armature"] == "Bea" and avatar["shape_keys"]["AvatarHead"] >= 51
