"""Body retargeting: a BVH or FBX animation baked onto an avatar's own armature.

Entry points: :func:`retarget`, and :func:`inspect_source` (the bone map it would use, for
the panel to show before baking). The steps of a retarget, each undone if a later one fails:

1. The file is identified by its content (``core.mocap.bvh.sniff_format``). A BVH is parsed
   in plain Python first, so a file with no recognisable skeleton is refused before
   anything is created.
2. The source is imported with Blender's own importer (``import_anim.bvh`` through
   ``compat.import_bvh``, ``import_scene.fbx``); bones are matched through the families'
   bone maps (``core.mocap.bonemaps``), or a preset or an explicit map.
3. The source is *sampled*: ``scene.frame_set`` per frame, the world rotation of every
   mapped source bone and the world position of its hips are read. Then everything the
   importer created (armature, action, meshes of a "with skin" FBX, materials, images) is
   deleted, and the scene's frame, rate, range, selection and mode are put back.
4. The avatar's keyframes are *computed*, not baked with ``nla.bake`` (which would need the
   source and the avatar tied with constraints and a depsgraph evaluation per frame): per
   frame and per mapped bone, with the source's world space taken as the avatar's
   armature space (so an avatar moved or turned in the scene moves from where it stands,
   the way it faces),
   ``target = (source_world(f) @ source_rest_world^-1) @ align @ target_rest``,
   i.e. the source bone's rotation away from its own rest pose is applied to the avatar
   bone's rest orientation. Bone rolls and axis conventions cancel out. ``align`` corrects
   rest poses that differ (A-pose vs T-pose): for each limb chain (shoulder, upper arm,
   forearm; thigh, shin) whose rest directions differ from the source's by more than
   :data:`ALIGN_MIN_DEGREES`, each bone is first re-aimed along the source's rest direction;
   hands, feet and fingers inherit their chain's correction. Smaller differences are the
   bodies' proportions, not their pose: they are kept, so a source standing in its rest
   pose leaves the avatar in its own. The hips also get a location: the source hips'
   displacement from rest scaled by avatar leg length / source leg length (hips height
   above the ankles, the measure that keeps the feet on the floor). The local pose values
   follow from Blender's pose formula (``posed = parent_posed @ rest_offset @ basis``) and
   are written with ``keyframe_points.foreach_set`` into a new Action on the avatar's own
   armature (``compat.ActionWriter``: slots and channel bags on 4.4+).
5. Rate and range: one key per source frame, never resampled. If nothing else in the
   scene is animated (objects outside this avatar), the scene's rate and range are set to
   the source's. Otherwise the scene's rate is kept and the keys are spaced so the motion
   keeps its real duration (``time_scale``), with a warning in the result.

A source facing another way than the avatar (or lying on its back, Y-up read as Z-up) is
turned first: its body frame (thighs left to right, hips to head) is rotated onto the
avatar's when they differ by more than :data:`TURN_MIN_DEGREES`.

Known limits: bones the map leaves out keep their current pose; the source's scale keys
are ignored; proportions are not corrected (no IK): with a body built differently from
the source, hands and feet land where the avatar's own limbs reach.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bpy
from mathutils import Matrix, Quaternion, Vector

from ...core.errors import InputError
from ...core.mocap import bonemaps
from ...core.mocap.bvh import read_bvh, sniff_format
from ...core.mocap.result import BoneMapPreview, RetargetResult
from .. import compat
from ..importing.importer import remove_created, take_snapshot

ALIGN_MIN_DEGREES = 10.0
TURN_MIN_DEGREES = 5.0


# --- scene state kept across the source import --------------------------------------------


@dataclass
class _SceneState:
    scene: Any
    view_layer: Any
    fps: int
    fps_base: float
    frame_start: int
    frame_end: int
    frame_current: int
    active: str | None
    selected: list[str]
    mode: str = "OBJECT"

    @classmethod
    def save(cls, ctx: Any) -> _SceneState:
        scene, view_layer = ctx.scene, ctx.view_layer
        active = view_layer.objects.active
        state = cls(scene, view_layer, scene.render.fps, scene.render.fps_base,
                    scene.frame_start, scene.frame_end, scene.frame_current,
                    active.name if active is not None else None,
                    [o.name for o in view_layer.objects if o.select_get()])
        if active is not None and active.mode != "OBJECT":
            state.mode = active.mode
            bpy.ops.object.mode_set(mode="OBJECT")
        return state

    def restore(self) -> None:
        scene = self.scene
        scene.render.fps, scene.render.fps_base = self.fps, self.fps_base
        scene.frame_start, scene.frame_end = self.frame_start, self.frame_end
        scene.frame_set(self.frame_current)
        objects = self.view_layer.objects
        for obj in objects:
            obj.select_set(obj.name in self.selected)
        objects.active = objects.get(self.active) if self.active else None
        if self.mode != "OBJECT" and objects.active is not None:
            # the mode may not be enterable again here: then the avatar stays in Object mode
            with contextlib.suppress(RuntimeError):
                bpy.ops.object.mode_set(mode=self.mode)  # type: ignore[arg-type]


# --- the source, sampled ---------------------------------------------------------------------


@dataclass
class _Sampled:
    frame_start: int
    frames: int
    fps: float
    rest_rot: dict[str, Quaternion]  # source bone -> world rest rotation
    rest_head: dict[str, Vector]  # source bone -> world rest head
    rot: dict[str, list[Quaternion]] = field(default_factory=dict)  # per frame, world
    hips_pos: list[Vector] = field(default_factory=list)  # per frame, world
    leg_length: float = 0.0
    turned_degrees: float = 0.0  # the source turned to face the avatar's way


@dataclass
class _Plan:
    source_family: str
    target_family: str
    matched: bonemaps.Matched
    slots: dict[str, str]  # slot -> target bone


def _rotation(matrix: Matrix) -> Quaternion:
    return matrix.to_3x3().normalized().to_quaternion()


def _mesh_names(armature: Any) -> list[str]:
    return [o.name for o in armature.children if o.type == "MESH"]


def _plan(source_bones: list[str], target_bones: list[str], target_family: str,
          mapping: Mapping[str, str] | None, forced_family: str | None, what: str) -> _Plan:
    source_family = forced_family or bonemaps.detect_family(source_bones)
    if mapping is None:
        if source_family == "unknown":
            sample = ", ".join(source_bones[:6]) + (", ..." if len(source_bones) > 6 else "")
            raise InputError(f"{what} has no recognisable humanoid skeleton: its bones "
                             f"({sample or 'none'}) follow none of the known naming "
                             "conventions (Mixamo, CMU or Biovision BVH, MetaPerson, "
                             "Avaturn); choose a bone-map preset or map the bones by hand")
        if target_family == "unknown":
            raise InputError("the avatar's armature is not a MetaPerson, Avaturn or Mixamo "
                             "skeleton: give a bone map")
        mapping = bonemaps.bone_map(source_family, target_family)
    matched = bonemaps.resolve(mapping, source_bones, target_bones)
    slots = bonemaps.slot_names(matched.mapped, target_family, source_family)
    bonemaps.check_skeleton(slots, what)
    return _Plan(source_family if source_family != "unknown" else "custom", target_family,
                 matched, slots)


def _choose_map(preset: str | None, bone_map: Mapping[str, str] | None,
                user_presets: Path | None) -> tuple[dict[str, str] | None, str | None]:
    """(explicit map or None, forced source family or None)."""
    if bone_map is not None:
        return dict(bone_map), None
    if not preset:
        return None, None
    if preset in bonemaps.FAMILIES:
        return None, preset
    if user_presets is not None and (Path(user_presets)
                                     / bonemaps.preset_filename(preset)).is_file():
        return dict(bonemaps.load_preset(Path(user_presets), preset).map), None
    if preset.lower().endswith(".json") and Path(preset).is_file():
        return dict(bonemaps.load_preset_file(Path(preset)).map), None
    raise InputError(f"unknown bone-map preset {preset!r} (built-in: "
                     + ", ".join(bonemaps.FAMILIES) + ")")


def _import_source(path: Path, fmt: str, snapshot: Any) -> list[Any]:
    try:
        if fmt == "bvh":
            compat.import_bvh(str(path), frame_start=1, use_fps_scale=False,
                              update_scene_fps=False, update_scene_duration=False,
                              rotate_mode="NATIVE")
        else:
            bpy.ops.import_scene.fbx(filepath=str(path), use_anim=True,
                                     automatic_bone_orientation=False,
                                     ignore_leaf_bones=False)
    except RuntimeError as exc:
        text = str(exc).strip().removeprefix("Error:").strip().splitlines()
        raise InputError(f"Blender's {fmt.upper()} importer could not read {path.name}: "
                         + (text[0] if text else "unknown error")) from None
    from ..importing.importer import new_since
    return [o for o in new_since(snapshot, "objects") if o.type == "ARMATURE"]


def _leg_length(heads: Mapping[str, Vector], hips: str, feet: Iterable[str | None],
                origin_z: float) -> float:
    known = [heads[f].z for f in feet if f is not None and f in heads]
    floor = sum(known) / len(known) if known else origin_z
    return float(heads[hips].z - floor)


def _body_frame(heads: Mapping[str, Vector], hips: str, left: str, right: str, top: str
                ) -> Matrix | None:
    """A rotation whose columns are the body's axes: right thigh to left thigh, up (hips
    to head, made square to the first), and their cross product; None when degenerate."""
    lateral = heads[left] - heads[right]
    up = heads[top] - heads[hips]
    if lateral.length < 1e-6 or up.length < 1e-6:
        return None
    x = lateral.normalized()
    z = up - x * up.dot(x)
    if z.length < 1e-6:
        return None
    z.normalize()
    y = z.cross(x)
    return Matrix([[x.x, x.y, x.z], [y.x, y.y, y.z], [z.x, z.y, z.z]]).transposed()


def _facing(source: Any, armature: Any, plan: _Plan) -> Matrix:
    """The rotation turning the source's body frame (thighs for left-right, hips to head
    for up) onto the avatar's, so a source exported facing another way, or lying Y-up,
    moves the way the avatar faces. Identity when they agree within TURN_MIN_DEGREES."""
    need = ("hips", "thigh.L", "thigh.R", "head")
    if not all(k in plan.slots for k in need):
        return Matrix.Identity(3)
    inverse = {t: s for s, t in plan.matched.mapped.items()}
    t_names = [plan.slots[k] for k in need]
    t_heads = {n: armature.data.bones[n].head_local for n in t_names}
    s_heads = {n: (source.matrix_world @ source.data.bones[inverse[n]].matrix_local)
               .to_translation() for n in t_names}
    target = _body_frame(t_heads, *t_names)
    own = _body_frame(s_heads, *t_names)
    if target is None or own is None:
        return Matrix.Identity(3)
    turn = target @ own.transposed()
    if math.degrees(turn.to_quaternion().angle) < TURN_MIN_DEGREES:
        return Matrix.Identity(3)
    return turn


def _sample(ctx: Any, source: Any, armature: Any, plan: _Plan, fps: float, what: str
            ) -> _Sampled:
    ad = source.animation_data
    action = ad.action if ad is not None else None
    if action is None:
        raise InputError(f"{what} has a skeleton but no animation")
    start, end = (round(v) for v in action.frame_range)
    turn = _facing(source, armature, plan)
    turn4 = turn.to_4x4()
    matrix = turn4 @ source.matrix_world
    mapped = plan.matched.mapped
    bones = source.data.bones
    sampled = _Sampled(frame_start=start, frames=end - start + 1, fps=fps,
                       rest_rot={s: _rotation(matrix @ bones[s].matrix_local) for s in mapped},
                       rest_head={s: (matrix @ bones[s].matrix_local).to_translation()
                                  for s in mapped})
    inverse = {t: s for s, t in mapped.items()}
    hips = inverse[plan.slots["hips"]]
    feet = [inverse.get(plan.slots.get(f"foot.{side}", "")) for side in ("L", "R")]
    sampled.turned_degrees = math.degrees(turn.to_quaternion().angle)
    sampled.leg_length = _leg_length(sampled.rest_head, hips, feet, matrix.translation.z)
    if sampled.leg_length <= 1e-6:
        raise InputError(f"{what}: the hips are not above the feet in the rest pose")
    sampled.rot = {s: [] for s in mapped}
    pose = source.pose.bones
    scene = ctx.scene
    for frame in range(start, end + 1):
        scene.frame_set(frame)
        world = turn4 @ source.matrix_world
        for s in mapped:
            sampled.rot[s].append(_rotation(world @ pose[s].matrix))
        sampled.hips_pos.append((world @ pose[hips].matrix).to_translation())
    return sampled


# --- the avatar's keys -------------------------------------------------------------------------


def _parent_first(armature: Any) -> list[Any]:
    out: list[Any] = []
    stack = [b for b in armature.data.bones if b.parent is None][::-1]
    while stack:
        bone = stack.pop()
        out.append(bone)
        stack.extend(list(bone.children)[::-1])
    return out


def _alignment(armature: Any, plan: _Plan, sampled: _Sampled) -> dict[str, Quaternion]:
    """Target bone -> world rotation re-aiming it along the source's rest direction, for
    the limb chains whose rest pose differs (and what their hands/feet inherit)."""
    heads = {b.name: b.head_local.copy() for b in armature.data.bones}
    inverse = {t: s for s, t in plan.matched.mapped.items()}
    own: dict[str, Quaternion] = {}
    for chain in bonemaps.LIMB_CHAINS.values():
        turns: dict[str, Quaternion] = {}
        worst = 0.0
        for slot in chain:
            base, side = slot.split(".")
            aim = f"{bonemaps.AIM_AT[base]}.{side}"
            bone, aim_bone = plan.slots.get(slot), plan.slots.get(aim)
            if bone is None or aim_bone is None:
                continue
            d_t = heads[aim_bone] - heads[bone]
            d_s = sampled.rest_head[inverse[aim_bone]] - sampled.rest_head[inverse[bone]]
            if d_t.length < 1e-6 or d_s.length < 1e-6:
                continue
            worst = max(worst, math.degrees(d_t.angle(d_s)))
            turns[bone] = d_t.rotation_difference(d_s)
        if worst > ALIGN_MIN_DEGREES:
            own.update(turns)
    effective: dict[str, Quaternion] = {}
    for bone in _parent_first(armature):
        if bone.name in own:
            effective[bone.name] = own[bone.name]
        elif bone.parent is not None and bone.parent.name in effective:
            effective[bone.name] = effective[bone.parent.name]
    return effective


@dataclass
class _Keys:
    rot: dict[str, list[Any]]  # target bone -> per-frame Quaternion or Euler
    loc: list[Vector]  # the hips' per-frame location
    aligned: list[str]


def _compute(armature: Any, plan: _Plan, sampled: _Sampled, scale: float) -> _Keys:
    """The keys, computed in the avatar's armature space: the source's world space is
    taken as the avatar's own, so an avatar moved or turned in the scene walks from where
    it stands, the way it faces."""
    driven = {t: s for s, t in plan.matched.mapped.items()}
    hips = plan.slots["hips"]
    order = _parent_first(armature)
    rel = {b.name: (b.parent.matrix_local.inverted() @ b.matrix_local if b.parent
                    else b.matrix_local.copy()) for b in order}
    pose = armature.pose.bones
    basis_now = {b.name: pose[b.name].matrix_basis.copy() for b in order}
    rest_rot = {b.name: _rotation(b.matrix_local) for b in order}
    align = _alignment(armature, plan, sampled)
    rest_hips = armature.data.bones[hips].head_local.copy()
    source_hips_rest = sampled.rest_head[driven[hips]]
    keys = _Keys(rot={t: [] for t in driven}, loc=[],
                 aligned=sorted(b for b in align if b in driven))
    delta_rest = {s: sampled.rest_rot[s].inverted() for s in sampled.rest_rot}
    identity = Quaternion()
    for i in range(sampled.frames):
        posed: dict[str, Matrix] = {}
        for bone in order:
            name = bone.name
            base = posed[bone.parent.name] @ rel[name] if bone.parent else rel[name]
            if name not in driven:
                posed[name] = base @ basis_now[name]
                continue
            source = driven[name]
            delta = sampled.rot[source][i] @ delta_rest[source]
            world = delta @ align.get(name, identity) @ rest_rot[name]
            local = _rotation(base).inverted() @ world
            previous = keys.rot[name][-1] if keys.rot[name] else None
            if previous is not None:
                local.make_compatible(previous)
            keys.rot[name].append(local)
            if name == hips:
                wanted = rest_hips + (sampled.hips_pos[i] - source_hips_rest) * scale
                loc = base.inverted() @ wanted
                keys.loc.append(loc)
            else:
                loc = basis_now[name].to_translation()
            posed[name] = base @ Matrix.LocRotScale(loc, local, basis_now[name].to_scale())
    return keys


def _write(armature: Any, name: str, keys: _Keys, hips: str, frames: list[float]
           ) -> tuple[Any, list[str]]:
    writer = compat.ActionWriter(name, armature)
    warnings: list[str] = []
    try:
        for bone, values in keys.rot.items():
            pb = armature.pose.bones[bone]
            if pb.rotation_mode == "AXIS_ANGLE":
                pb.rotation_mode = "QUATERNION"
                warnings.append(f"{bone}: rotation mode set to quaternion (was axis-angle)")
            path = f'pose.bones["{bone}"]'
            if pb.rotation_mode == "QUATERNION":
                channels = [list(q) for q in values]
                prop = "rotation_quaternion"
            else:
                eulers: list[Any] = []
                for q in values:
                    eulers.append(q.to_euler(pb.rotation_mode, eulers[-1]) if eulers
                                  else q.to_euler(pb.rotation_mode))
                channels = [list(e) for e in eulers]
                prop = "rotation_euler"
            _keyframes(writer, f"{path}.{prop}", bone, frames, channels)
        _keyframes(writer, f'pose.bones["{hips}"].location', hips, frames,
                   [[v.x, v.y, v.z] for v in keys.loc])
        writer.assign()
    except BaseException:
        bpy.data.actions.remove(writer.action)
        raise
    return writer.action, warnings


def _keyframes(writer: compat.ActionWriter, data_path: str, group: str, frames: list[float],
               values: list[list[float]]) -> None:
    for index in range(len(values[0])):
        fcurve = writer.fcurve(data_path, index, group)
        points = fcurve.keyframe_points
        points.add(len(frames))
        flat: list[float] = []
        for frame, value in zip(frames, values, strict=True):
            flat.extend((frame, value[index]))
        points.foreach_set("co", flat)
        fcurve.update()


def _others_animated(scene: Any, armature: Any) -> bool:
    mine = {armature.name, *(o.name for o in armature.children_recursive)}
    for obj in scene.objects:
        if obj.name in mine:
            continue
        if obj.animation_data is not None and obj.animation_data.action is not None:
            return True
        keys = getattr(obj.data, "shape_keys", None) if obj.data is not None else None
        if keys is not None and keys.animation_data is not None \
                and keys.animation_data.action is not None:
            return True
    return False


def _likeliest(armatures: list[Any], target_bones: list[str], target_family: str,
               mapping: Mapping[str, str] | None, forced: str | None) -> Any:
    """The imported armature the map fits best (an FBX may hold props or several rigs)."""
    def score(armature: Any) -> float:
        names = [b.name for b in armature.data.bones]
        wanted = mapping
        if wanted is None:
            family = forced or bonemaps.detect_family(names)
            known = family in bonemaps.FAMILIES and target_family in bonemaps.FAMILIES
            wanted = bonemaps.bone_map(family, target_family) if known else {}
        return len(bonemaps.resolve(wanted, names, target_bones).mapped) + len(names) * 1e-6
    return max(armatures, key=score)


def _source_bones(ctx: Any, path: Path, fmt: str, target_bones: list[str], target_family: str,
                  mapping: Mapping[str, str] | None, forced: str | None) -> list[str]:
    """The source's bone names: read from a BVH's text, or from an FBX imported and deleted
    again (the scene is left as it was)."""
    if fmt == "bvh":
        return read_bvh(path, motion=False).names
    saved = _SceneState.save(ctx)
    snapshot = take_snapshot()
    try:
        armatures = _import_source(path, fmt, snapshot)
        if not armatures:
            raise InputError(f"{path.name} holds no armature (skeleton) to take the motion from")
        source = _likeliest(armatures, target_bones, target_family, mapping, forced)
        return [b.name for b in source.data.bones]
    finally:
        remove_created(snapshot)
        saved.restore()


# --- entry points ------------------------------------------------------------------------------


def inspect_source(armature: Any, source_path: Path, *, preset: str | None = None,
                   bone_map: dict[str, str] | None = None, user_presets: Path | None = None,
                   context: Any = None) -> BoneMapPreview:
    """The bone map :func:`retarget` would use for these arguments, with the families and
    what stays unmapped, without baking anything (an FBX is imported and removed again).
    A file that cannot be read raises ``InputError``; a map that is not usable comes back
    with ``problem`` set, so it can be shown and fixed."""
    ctx = context if context is not None else bpy.context
    if armature is None or getattr(armature, "type", None) != "ARMATURE":
        raise InputError("Choose the avatar's armature (the active object is not an armature)")
    path = Path(source_path)
    fmt = sniff_format(path)
    target_bones = [b.name for b in armature.data.bones]
    target_family = bonemaps.detect_family(target_bones, _mesh_names(armature))
    mapping, forced = _choose_map(preset, bone_map, user_presets)
    names = _source_bones(ctx, path, fmt, target_bones, target_family, mapping, forced)
    source_family = forced or bonemaps.detect_family(names)
    try:
        plan = _plan(names, target_bones, target_family, mapping, forced, path.name)
        matched, problem = plan.matched, ""
    except InputError as exc:
        known = source_family in bonemaps.FAMILIES and target_family in bonemaps.FAMILIES
        wanted = mapping if mapping is not None else (
            bonemaps.bone_map(source_family, target_family) if known else {})
        matched, problem = bonemaps.resolve(wanted, names, target_bones), exc.message
    return BoneMapPreview(
        source_family=source_family if mapping is None else "custom",
        target_family=target_family, source_bones=names, mapped=dict(matched.mapped),
        unmapped_source=list(matched.unmapped_source),
        unmapped_target=list(matched.unmapped_target), problem=problem)




def retarget(armature: Any, source_path: Path, *, preset: str | None = None,
             bone_map: dict[str, str] | None = None, user_presets: Path | None = None,
             context: Any = None) -> RetargetResult:
    """Bake the body animation of ``source_path`` (.bvh or .fbx) onto ``armature``.

    ``preset``: a built-in family name forcing the source's family (``"mixamo"``,
    ``"bvh_cmu"``...), or the name of a preset saved in ``user_presets``, or a preset
    file's path. ``bone_map`` (source bone -> avatar bone) overrides both. Bad input raises
    ``InputError`` naming the cause, and leaves the avatar and the scene as they were.
    """
    started = time.perf_counter()
    ctx = context if context is not None else bpy.context
    if armature is None or getattr(armature, "type", None) != "ARMATURE":
        raise InputError("Choose the avatar's armature to animate (the active object is "
                         "not an armature)")
    path = Path(source_path)
    fmt = sniff_format(path)
    what = path.name
    target_bones = [b.name for b in armature.data.bones]
    target_family = bonemaps.detect_family(target_bones, _mesh_names(armature))
    mapping, forced = _choose_map(preset, bone_map, user_presets)
    bvh = read_bvh(path, motion=False) if fmt == "bvh" else None
    if bvh is not None:  # refuse before Blender's importer creates anything
        _plan(bvh.names, target_bones, target_family, mapping, forced, what)

    scene = ctx.scene
    saved = _SceneState.save(ctx)
    snapshot = take_snapshot()
    try:
        armatures = _import_source(path, fmt, snapshot)
        if not armatures:
            raise InputError(f"{what} holds no armature (skeleton) to take the motion from")
        fps = bvh.fps if bvh is not None else scene.render.fps / scene.render.fps_base
        source = _likeliest(armatures, target_bones, target_family, mapping, forced)
        plan = _plan([b.name for b in source.data.bones], target_bones, target_family,
                     mapping, forced, what)
        sampled = _sample(ctx, source, armature, plan, fps, what)
    finally:
        remove_created(snapshot)
        saved.restore()

    target_rest = {b.name: b.head_local.copy() for b in armature.data.bones}
    hips = plan.slots["hips"]
    feet = [plan.slots.get(f"foot.{side}") for side in ("L", "R")]
    target_leg = _leg_length(target_rest, hips, feet, 0.0)
    if target_leg <= 1e-6:
        raise InputError(f"{armature.name}: the hips are not above the feet in the rest pose")
    scale = target_leg / sampled.leg_length
    keys = _compute(armature, plan, sampled, scale)

    others = _others_animated(scene, armature)
    time_scale = 1.0
    warnings: list[str] = []
    if others:
        time_scale = (scene.render.fps / scene.render.fps_base) / sampled.fps
        if abs(time_scale - 1.0) > 1e-6:
            warnings.append(f"the scene plays at {scene.render.fps / scene.render.fps_base:g} "
                            f"fps and other objects are animated: the {sampled.fps:g} fps "
                            "motion was spaced to keep its duration")
    frames = [sampled.frame_start + i * time_scale for i in range(sampled.frames)]
    had_data = armature.animation_data is not None
    before = compat.action_assignment(armature)
    action_name = f"{armature.name}|{path.stem}"
    try:
        action, more = _write(armature, action_name, keys, hips, frames)
    except BaseException:
        compat.restore_action_assignment(armature, before, had_data)
        raise
    warnings.extend(more)
    frame_end = math.ceil(frames[-1] - 1e-6)
    if not others:
        fps_int = max(1, round(sampled.fps))
        scene.render.fps, scene.render.fps_base = fps_int, fps_int / sampled.fps
        scene.frame_start, scene.frame_end = sampled.frame_start, frame_end
    return RetargetResult(
        action_name=action.name, frame_start=sampled.frame_start, frame_end=frame_end,
        fps=round(sampled.fps, 3), mapped=dict(plan.matched.mapped),
        unmapped_source=list(plan.matched.unmapped_source),
        unmapped_target=list(plan.matched.unmapped_target),
        source_family=plan.source_family, target_family=target_family,
        source_file=str(path), source_format=fmt, root_scale=scale,
        rest_corrected=keys.aligned, source_turn_degrees=round(sampled.turned_degrees, 3),
        scene_fps_set=not others, time_scale=time_scale,
        warnings=warnings, seconds=time.perf_counter() - started)
