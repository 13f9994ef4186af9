"""Figure 6 child: the add-on's retarget against the obvious alternative, inside real bpy.

    python scripts/bench_lib/bpy_retarget.py SPEC.json OUT.json

SPEC: ``{"frames": n, "reps": r, "work": folder}``. The source is the tests' generated
Mixamo-named walk (tests/blender/animation_data.py) stretched to ``frames`` frames; the
avatar is the sandbox's MetaPerson-like one. Each repetition starts from an empty factory
scene with the avatar freshly imported, alternating which method goes first:

* add-on: ``retarget()`` (import, sample with ``frame_set``, compute keys in Python, write
  them with ``foreach_set``, delete the source);
* baseline: the same BVH import, a world-space Copy Rotation constraint on every mapped
  avatar bone (Copy Location on the hips) aimed at the source bone, ``bpy.ops.nla.bake``
  with visual keying over the same frames, then the source deleted. It skips the
  rest-pose delta the add-on computes, so it is a lower bound of that approach's cost.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for entry in (str(ROOT), str(ROOT / "tests" / "blender")):
    if entry not in sys.path:
        sys.path.insert(0, entry)

import animation_data  # noqa: E402
import bpy  # noqa: E402
from avatar_samples import write_sandbox_avatar  # noqa: E402

from avatar_importer.blender import compat  # noqa: E402
from avatar_importer.blender.animation.retarget import retarget  # noqa: E402
from avatar_importer.blender.importing.importer import (  # noqa: E402
    import_avatar_glb,
    new_since,
    take_snapshot,
)
from avatar_importer.core.mocap import bonemaps  # noqa: E402


def fresh_avatar(glb: Path) -> object:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    return bpy.data.objects[import_avatar_glb(glb, name="Avatar").armature]


def baseline(avatar: object, bvh: Path, frames: int) -> int:
    """The constraint-and-bake retarget; returns the number of F-curves baked."""
    snapshot = take_snapshot()
    compat.import_bvh(str(bvh), frame_start=1, use_fps_scale=False, update_scene_fps=False,
                      update_scene_duration=False, rotate_mode="NATIVE")
    source = next(o for o in new_since(snapshot, "objects") if o.type == "ARMATURE")
    mapping = bonemaps.bone_map("mixamo", "metaperson")
    matched = bonemaps.resolve(mapping, [b.name for b in source.data.bones],
                               [b.name for b in avatar.data.bones])  # type: ignore[attr-defined]
    for src, tgt in matched.mapped.items():
        pb = avatar.pose.bones[tgt]  # type: ignore[attr-defined]
        kinds = ("COPY_ROTATION", "COPY_LOCATION") if tgt == "Hips" else ("COPY_ROTATION",)
        for kind in kinds:
            con = pb.constraints.new(kind)
            con.target, con.subtarget = source, src
            con.owner_space = con.target_space = "WORLD"
    view_layer = bpy.context.view_layer
    for obj in view_layer.objects:
        obj.select_set(obj == avatar)
    view_layer.objects.active = avatar
    bpy.ops.object.mode_set(mode="POSE")
    for bone in avatar.data.bones:  # type: ignore[attr-defined]
        compat.select_pose_bone(avatar, bone.name, bone.name in matched.mapped.values())
    bpy.ops.nla.bake(frame_start=1, frame_end=frames, only_selected=True, visual_keying=True,
                     clear_constraints=True, bake_types={"POSE"})
    bpy.ops.object.mode_set(mode="OBJECT")
    action = source.animation_data.action
    bpy.data.batch_remove([source, source.data, action])
    baked = avatar.animation_data.action  # type: ignore[attr-defined]
    return len(compat.action_fcurves(baked)) if baked is not None else 0


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    work = Path(spec["work"])
    frames, reps = int(spec["frames"]), int(spec["reps"])
    animation_data.FRAMES = frames
    bvh = animation_data.mixamo_bvh(work / "walk.bvh")
    glb = write_sandbox_avatar(work / "avatar")
    ours: list[float] = []
    base: list[float] = []
    bones = 0
    baked = 0
    for rep in range(reps):
        for which in ((0, 1) if rep % 2 == 0 else (1, 0)):
            avatar = fresh_avatar(glb)
            t0 = time.perf_counter()
            if which == 0:
                result = retarget(avatar, bvh)
                ours.append(time.perf_counter() - t0)
                bones = len(result.mapped)
            else:
                baked = baseline(avatar, bvh, frames)
                base.append(time.perf_counter() - t0)
    Path(sys.argv[2]).write_text(json.dumps({
        "bpy_version": ".".join(map(str, bpy.app.version)), "frames": frames, "reps": reps,
        "bones": bones, "baseline_fcurves": baked, "addon": ours, "baseline": base,
        "addon_min": min(ours), "baseline_min": min(base),
        "addon_median": statistics.median(ours), "baseline_median": statistics.median(base),
    }))


main()
