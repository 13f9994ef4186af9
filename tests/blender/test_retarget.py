"""Body retargeting in real Blender: BVH (Mixamo and CMU names) and FBX (Blender's own
exporter, with skin, T-pose and A-pose) onto the sandbox avatar (MetaPerson layout) and an
Avaturn-layout avatar. The avatar's hands and feet must be where the source's are, scaled
to the avatar (within retarget_checks.TOLERANCE); bad input changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import animation_data
import bpy
import pytest
import retarget_checks as rc

from avatar_importer.blender.animation.retarget import retarget
from avatar_importer.core.errors import InputError

MIXAMO_ENDS = {n: f"mixamorig:{n}" for n in rc.ENDS}
CMU_ENDS = {n: n for n in rc.ENDS}
# source leg length (cm) -> avatar's (m): the figures differ only in size
BVH_SCALE = 1.0 / (100.0 * animation_data.SOURCE_HEIGHT_SCALE)


def test_mixamo_bvh_onto_metaperson_follows_hands_and_feet(tmp_path: Path) -> None:
    avatar = rc.metaperson_avatar(tmp_path / "mp")
    rest = rc.pose_snapshot(avatar)
    source = animation_data.mixamo_bvh(tmp_path / "walk_wave.bvh")
    result = retarget(avatar, source)

    assert result.source_family == "mixamo" and result.target_family == "metaperson"
    assert result.mapped["mixamorig:LeftHand"] == "LeftHand"
    assert "Neck1" in result.unmapped_target and "LeftForeArm1" in result.unmapped_target
    assert (result.frame_start, result.frame_end, result.fps) == (1, 40, 30.0)
    assert result.root_scale == pytest.approx(BVH_SCALE, rel=0.01)
    assert result.rest_corrected == []  # both stand in a T-pose
    assert rc.armature_objects() == [avatar.name]  # the source armature is gone
    assert [a.name for a in bpy.data.actions] == [result.action_name]
    assert avatar.animation_data.action.name == result.action_name
    from avatar_importer.blender import compat
    fcurves = compat.action_fcurves(avatar.animation_data.action)
    assert len(fcurves) == 4 * len(result.mapped) + 3  # quaternions, and the hips' location
    assert {len(fc.keyframe_points) for fc in fcurves} == {40}  # one key per source frame
    scene = bpy.context.scene
    assert (scene.render.fps, scene.frame_start, scene.frame_end) == (30, 1, 40)
    json.dumps(result.as_report())

    for frame in (0, 1):  # the source starts in its rest pose: so does the avatar
        scene.frame_set(frame)
        assert rc.max_pose_change(rest, rc.pose_snapshot(avatar)) < 1e-3
    expected = rc.bvh_expected(source, MIXAMO_ENDS, avatar, result.root_scale)
    worst, where = rc.worst_error(avatar, expected)
    assert worst < rc.TOLERANCE, where
    # and it really moved: the hips walked forward, the right hand was raised
    scene.frame_set(40)
    moved = rc.bone_heads(avatar, ("Hips", "RightHand"))
    start = rc.rest_heads(avatar, ("Hips", "RightHand"))
    assert (start["Hips"] - moved["Hips"]).y > 0.3  # walked towards -Y (its front)
    assert moved["RightHand"].z > start["RightHand"].z + 0.1


def test_cmu_bvh_onto_avaturn_split_head(tmp_path: Path) -> None:
    avatar = rc.avaturn_avatar(tmp_path / "av", "split_head")
    source = animation_data.cmu_bvh(tmp_path / "cmu.bvh")
    result = retarget(avatar, source)
    assert result.source_family == "bvh_cmu"
    assert result.target_family == "avaturn_split_head"
    assert result.mapped["LowerBack"] == "Spine" and "LHipJoint" in result.unmapped_source
    assert rc.armature_objects() == [avatar.name]
    expected = rc.bvh_expected(source, CMU_ENDS, avatar, result.root_scale)
    worst, where = rc.worst_error(avatar, expected)
    assert worst < rc.TOLERANCE, where


@pytest.mark.parametrize("a_pose", [0.0, 45.0], ids=["t_pose", "a_pose"])
def test_mixamo_fbx_with_skin(tmp_path: Path, a_pose: float) -> None:
    fbx = tmp_path / "mixamo.fbx"
    recorded = rc.build_mixamo_fbx(fbx, a_pose_degrees=a_pose, skin=True)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    avatar = rc.avaturn_avatar(tmp_path / "av", "classic") if a_pose else \
        rc.metaperson_avatar(tmp_path / "mp")
    meshes_before = sorted(o.name for o in bpy.data.objects if o.type == "MESH")
    result = retarget(avatar, fbx)
    assert result.source_family == "mixamo" and result.source_format == "fbx"
    assert (result.frame_start, result.frame_end, result.fps) == (1, 40, 30.0)
    assert rc.armature_objects() == [avatar.name]
    # the FBX's skinned mesh, its armature and action went with it
    assert sorted(o.name for o in bpy.data.objects if o.type == "MESH") == meshes_before
    assert [a.name for a in bpy.data.actions] == [result.action_name]
    if a_pose:  # the avatar's T-pose arms were re-aimed along the source's A-pose
        assert {"LeftArm", "RightArm", "LeftForeArm"} <= set(result.rest_corrected)
    else:
        assert result.rest_corrected == []
    expected = rc.fbx_expected(recorded, avatar, result.root_scale)
    worst, where = rc.worst_error(avatar, expected)
    assert worst < rc.TOLERANCE, where


def _state(avatar: object, counts: object) -> dict[str, object]:
    scene = bpy.context.scene
    return {
        "counts": counts(),  # type: ignore[operator]
        "pose": rc.pose_snapshot(avatar),
        "animation_data": avatar.animation_data is not None,  # type: ignore[attr-defined]
        "scene": (scene.render.fps, scene.frame_start, scene.frame_end, scene.frame_current),
        "active": bpy.context.view_layer.objects.active,
        "selected": sorted(o.name for o in bpy.context.view_layer.objects if o.select_get()),
    }


@pytest.mark.parametrize("kind", ["unknown_skeleton", "not_animation", "ascii_fbx",
                                  "broken_bvh", "fbx_garbage"])
def test_bad_input_is_refused_and_changes_nothing(tmp_path: Path, kind: str,
                                                  counts: object) -> None:
    avatar = rc.metaperson_avatar(tmp_path / "mp")
    path = tmp_path / f"{kind}.bvh"
    if kind == "unknown_skeleton":
        animation_data.unknown_bvh(path)
        words = "no recognisable humanoid skeleton"
    elif kind == "not_animation":
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
        words = "neither a BVH"
    elif kind == "ascii_fbx":
        path = tmp_path / "anim.fbx"
        path.write_text("; FBX 7.4.0 project file\n")
        words = "ASCII FBX"
    elif kind == "broken_bvh":
        animation_data.mixamo_bvh(path)
        path.write_text(path.read_text().replace("Frame Time:", "Frame Tim:"))
        words = "expected 'Frame Time:'"
    else:
        path = tmp_path / "anim.fbx"
        path.write_bytes(b"Kaydara FBX Binary  \x00\x1a\x00" + bytes(200))
        words = "FBX importer could not read"
    before = _state(avatar, counts)
    with pytest.raises(InputError, match=words) as caught:
        retarget(avatar, path)
    assert path.name in str(caught.value) or kind == "fbx_garbage"
    after = _state(avatar, counts)
    pose_before, pose_after = before.pop("pose"), after.pop("pose")
    assert after == before
    assert rc.max_pose_change(pose_before, pose_after) == 0.0  # type: ignore[arg-type]


def test_not_an_armature_and_unknown_preset(tmp_path: Path) -> None:
    avatar = rc.metaperson_avatar(tmp_path / "mp")
    source = animation_data.mixamo_bvh(tmp_path / "walk.bvh")
    mesh = next(o for o in bpy.data.objects if o.type == "MESH")
    with pytest.raises(InputError, match="armature"):
        retarget(mesh, source)
    with pytest.raises(InputError, match="unknown bone-map preset"):
        retarget(avatar, source, preset="no such preset")
    assert avatar.animation_data is None and not bpy.data.actions


def test_saved_preset_and_explicit_map(tmp_path: Path) -> None:
    from avatar_importer.core.mocap import bonemaps

    avatar = rc.metaperson_avatar(tmp_path / "mp")
    source = animation_data.mixamo_bvh(tmp_path / "walk.bvh")
    mapping = bonemaps.bone_map("mixamo", "metaperson")
    del mapping["mixamorig:Head"]  # a preset that leaves the head alone
    folder = tmp_path / "presets"
    bonemaps.save_preset(folder, bonemaps.Preset("no head", "mixamo", "metaperson", mapping))
    result = retarget(avatar, source, preset="no head", user_presets=folder)
    assert "Head" in result.unmapped_target and "mixamorig:Head" in result.unmapped_source
    worst, where = rc.worst_error(avatar, rc.bvh_expected(source, MIXAMO_ENDS, avatar,
                                                          result.root_scale))
    assert worst < rc.TOLERANCE, where
    # an explicit map wins; a map that misses the legs is refused before anything is made
    legs = ("LeftUpLeg", "LeftLeg", "LeftFoot", "RightUpLeg", "RightLeg", "RightFoot",
            "LeftArm", "LeftForeArm")
    partial = {k: v for k, v in mapping.items() if v not in legs}
    actions = len(bpy.data.actions)
    with pytest.raises(InputError, match="core bones matched"):
        retarget(avatar, source, bone_map=partial)
    assert len(bpy.data.actions) == actions
    assert avatar.animation_data.action.name == result.action_name  # the earlier one kept


def test_rate_kept_when_other_things_are_animated(tmp_path: Path) -> None:
    scene = bpy.context.scene
    scene.render.fps = 24
    prop = bpy.data.objects.new("Prop", None)
    scene.collection.objects.link(prop)
    prop.keyframe_insert("location", frame=1)
    avatar = rc.metaperson_avatar(tmp_path / "mp")
    source = animation_data.mixamo_bvh(tmp_path / "walk.bvh")
    result = retarget(avatar, source)
    assert not result.scene_fps_set and result.warnings
    assert result.time_scale == pytest.approx(0.8)  # 24 scene frames per 30 source frames
    assert scene.render.fps == 24 and (result.frame_start, result.frame_end) == (1, 33)
    # source frame k is shown at scene frame 1 + (k - 1) * 0.8: compare where that is whole
    expected = rc.bvh_expected(source, MIXAMO_ENDS, avatar, result.root_scale,
                               frames=(6, 16, 26, 36))
    moved = {1 + round((k - 1) * 0.8): v for k, v in expected.items()}
    worst, where = rc.worst_error(avatar, moved)
    assert worst < rc.TOLERANCE, where


def test_pose_mode_and_selection_restored(tmp_path: Path) -> None:
    avatar = rc.metaperson_avatar(tmp_path / "mp")
    view_layer = bpy.context.view_layer
    view_layer.objects.active = avatar
    bpy.ops.object.mode_set(mode="POSE")
    selected = sorted(o.name for o in view_layer.objects if o.select_get())
    retarget(avatar, animation_data.mixamo_bvh(tmp_path / "walk.bvh"))
    assert view_layer.objects.active == avatar and avatar.mode == "POSE"
    assert sorted(o.name for o in view_layer.objects if o.select_get()) == selected


def test_avatar_moved_and_turned_walks_from_where_it_stands(tmp_path: Path) -> None:
    from mathutils import Euler, Vector

    avatar = rc.metaperson_avatar(tmp_path / "mp")
    avatar.location = Vector((2.0, -1.0, 0.5))
    avatar.rotation_mode = "XYZ"  # the glTF importer leaves objects in quaternion mode
    avatar.rotation_euler = Euler((0.0, 0.0, 1.2))
    avatar.scale = (1.25, 1.25, 1.25)
    bpy.context.view_layer.update()
    source = animation_data.mixamo_bvh(tmp_path / "walk.bvh")
    result = retarget(avatar, source)
    assert result.root_scale == pytest.approx(BVH_SCALE, rel=0.01)  # armature units
    worst, where = rc.worst_error(avatar, rc.bvh_expected(source, MIXAMO_ENDS, avatar,
                                                          result.root_scale))
    assert worst < rc.TOLERANCE * 1.25, where
    # it walked along its own front (-Y turned by 1.2 rad), not the world's -Y
    bpy.context.scene.frame_set(40)
    walked = rc.bone_heads(avatar, ("Hips",))["Hips"] - rc.rest_heads(avatar, ("Hips",))["Hips"]
    front = Vector((0.0, -1.0, 0.0))
    front.rotate(Euler((0.0, 0.0, 1.2)))
    assert walked.normalized().dot(front) > 0.95


@pytest.mark.parametrize("filename", ["body_lod1_female_template.glb", "head_lod2_male.glb"])
def test_real_metaperson_export(tmp_path: Path, samples_dir: Path, filename: str) -> None:
    """A real MetaPerson export's skeleton (its own bone rolls, rest pose and root offset:
    the head-only export has its hips below the origin): a Mixamo BVH of a figure with
    the same proportions, 1.8/1.72 larger, lands hands and feet where they should."""
    from avatar_importer.blender.importing.importer import import_avatar_glb

    result = import_avatar_glb(samples_dir / filename, name="Real")
    avatar = bpy.data.objects[result.armature]
    rest = rc.pose_snapshot(avatar)
    source = animation_data.mixamo_bvh(tmp_path / "walk.bvh", rc.figure_of(avatar))
    done = retarget(avatar, source)
    assert done.target_family == "metaperson" and done.rest_corrected == []
    assert done.root_scale == pytest.approx(BVH_SCALE, rel=0.01)
    bpy.context.scene.frame_set(1)
    assert rc.max_pose_change(rest, rc.pose_snapshot(avatar)) < 1e-3
    worst, where = rc.worst_error(avatar, rc.bvh_expected(source, MIXAMO_ENDS, avatar,
                                                          done.root_scale))
    assert worst < rc.TOLERANCE, where


def test_source_facing_another_way_is_turned(tmp_path: Path) -> None:
    fbx = tmp_path / "turned.fbx"
    recorded = rc.build_mixamo_fbx(fbx, skin=False, turn_degrees=90.0)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    avatar = rc.metaperson_avatar(tmp_path / "mp")
    result = retarget(avatar, fbx)
    assert result.source_turn_degrees == pytest.approx(90.0, abs=0.1)
    worst, where = rc.worst_error(avatar, rc.fbx_expected(recorded, avatar, result.root_scale,
                                                          turn_degrees=90.0))
    assert worst < rc.TOLERANCE, where


def test_inspect_source_shows_the_map_and_leaves_nothing(tmp_path: Path, counts: object
                                                         ) -> None:
    from avatar_importer.blender.animation.retarget import inspect_source

    fbx = tmp_path / "mixamo.fbx"
    rc.build_mixamo_fbx(fbx, skin=True)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    avatar = rc.avaturn_avatar(tmp_path / "av", "classic")
    before = _state(avatar, counts)
    preview = inspect_source(avatar, fbx)
    assert (preview.source_family, preview.target_family) == ("mixamo", "avaturn")
    assert preview.problem == "" and preview.mapped["mixamorig:Hips"] == "Hips"
    assert "mixamorig:HeadTop_End" in preview.unmapped_source
    after = _state(avatar, counts)
    before.pop("pose"), after.pop("pose")
    assert after == before  # the FBX was imported to read its bones, and removed again
    # an unusable map is shown with the reason instead of raising
    unknown = inspect_source(avatar, animation_data.unknown_bvh(tmp_path / "u.bvh"))
    assert "no recognisable humanoid skeleton" in unknown.problem and not unknown.mapped
    json.dumps(unknown.as_report())
