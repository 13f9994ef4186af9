"""Body retargeting in Debian's Blender 3.4 (standalone script, no pytest).

    BLENDER_USER_RESOURCES=$(mktemp -d) \\
        blender -b --factory-startup --python-exit-code 1 -P tests/blender34/test_retarget.py

Blender 3.4's BVH importer opens files with mode 'rU', which Python 3.11 removed: this
proves ``compat.import_bvh`` works around it. Same checks as tests/blender/test_retarget.py
(shared helpers in tests/blender/retarget_checks.py): hands and feet follow the source
within retarget_checks.TOLERANCE, rest pose kept at frame 0, no source armature left, bad
input refused with nothing changed. Ends with ``retarget 3.4: PASSED``; a failure exits 1.
"""

from __future__ import annotations

import sys
import tempfile
import time
import traceback
from pathlib import Path

import bpy

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "blender"))
sys.path.insert(0, str(HERE.parents[1]))

import animation_data  # noqa: E402
import retarget_checks as rc  # noqa: E402

from avatar_importer.blender.animation.retarget import retarget  # noqa: E402
from avatar_importer.core.errors import InputError  # noqa: E402

TMP = Path(tempfile.mkdtemp(prefix="avatar-retarget34-"))
T0 = time.monotonic()
MIXAMO_ENDS = {n: f"mixamorig:{n}" for n in rc.ENDS}


def step(text: str) -> None:
    print(f"[retarget-3.4 {time.monotonic() - T0:6.1f}s] {text}", flush=True)


def fresh() -> None:
    bpy.ops.wm.read_factory_settings(use_empty=True)


def bvh_onto_metaperson() -> None:
    fresh()
    avatar = rc.metaperson_avatar(TMP / "mp")
    rest = rc.pose_snapshot(avatar)
    source = animation_data.mixamo_bvh(TMP / "walk.bvh")
    result = retarget(avatar, source)
    assert (result.source_family, result.target_family) == ("mixamo", "metaperson"), result
    assert (result.frame_start, result.frame_end, result.fps) == (1, 40, 30.0), result
    assert rc.armature_objects() == [avatar.name], rc.armature_objects()
    assert [a.name for a in bpy.data.actions] == [result.action_name]
    bpy.context.scene.frame_set(1)
    assert rc.max_pose_change(rest, rc.pose_snapshot(avatar)) < 1e-3
    worst, where = rc.worst_error(avatar, rc.bvh_expected(source, MIXAMO_ENDS, avatar,
                                                          result.root_scale))
    assert worst < rc.TOLERANCE, where
    step(f"Mixamo BVH onto MetaPerson: worst hand/foot error {worst * 1000:.2f} mm")


def cmu_onto_avaturn() -> None:
    fresh()
    avatar = rc.avaturn_avatar(TMP / "av")
    source = animation_data.cmu_bvh(TMP / "cmu.bvh")
    result = retarget(avatar, source)
    assert result.source_family == "bvh_cmu", result
    worst, where = rc.worst_error(avatar, rc.bvh_expected(source, {n: n for n in rc.ENDS},
                                                          avatar, result.root_scale))
    assert worst < rc.TOLERANCE, where
    step(f"CMU BVH onto Avaturn: worst error {worst * 1000:.2f} mm")


def fbx_a_pose_onto_avaturn() -> None:
    fresh()
    fbx = TMP / "mixamo.fbx"
    recorded = rc.build_mixamo_fbx(fbx, a_pose_degrees=45.0, skin=True)
    fresh()
    avatar = rc.avaturn_avatar(TMP / "av2", "classic")
    meshes = sorted(o.name for o in bpy.data.objects if o.type == "MESH")
    result = retarget(avatar, fbx)
    assert rc.armature_objects() == [avatar.name]
    assert sorted(o.name for o in bpy.data.objects if o.type == "MESH") == meshes
    assert "LeftArm" in result.rest_corrected, result.rest_corrected
    worst, where = rc.worst_error(avatar, rc.fbx_expected(recorded, avatar, result.root_scale))
    assert worst < rc.TOLERANCE, where
    step(f"A-pose Mixamo FBX with skin onto Avaturn: worst error {worst * 1000:.2f} mm")


def bad_input() -> None:
    fresh()
    avatar = rc.metaperson_avatar(TMP / "mp2")
    unknown = animation_data.unknown_bvh(TMP / "unknown.bvh")
    other = TMP / "photo.bvh"
    other.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    for path, words in ((unknown, "no recognisable humanoid skeleton"),
                        (other, "neither a BVH")):
        objects = sorted(o.name for o in bpy.data.objects)
        actions = len(bpy.data.actions)
        try:
            retarget(avatar, path)
        except InputError as exc:
            assert words in str(exc) and path.name in str(exc), str(exc)
        else:
            raise AssertionError(f"{path.name} was accepted")
        assert sorted(o.name for o in bpy.data.objects) == objects
        assert len(bpy.data.actions) == actions and avatar.animation_data is None
    step("bad input refused, nothing changed")


def main() -> None:
    failed = 0
    for test in (bvh_onto_metaperson, cmu_onto_avaturn, fbx_a_pose_onto_avaturn, bad_input):
        try:
            test()
        except Exception:
            failed += 1
            step(f"{test.__name__}: FAILED")
            traceback.print_exc()
    if failed:
        print(f"retarget 3.4: {failed} FAILED", flush=True)
        sys.exit(1)
    print("retarget 3.4: PASSED", flush=True)


main()
