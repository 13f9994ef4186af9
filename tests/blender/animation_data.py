"""Motion test data written by the project (nothing downloaded; plain Python, no bpy).

* ``mixamo_bvh(path)``: a Mixamo-named skeleton (``mixamorig:Hips``...) in centimetres,
  walking forward and waving its right hand, 40 frames at 30 fps; frame 0 is the rest
  pose (a T-pose), the motion eases in from it.
* ``cmu_bvh(path)``: the same figure and motion under CMU-style names (``LHipJoint``,
  ``LowerBack``, ``LThumb``...).
* ``source_joints(...)``: the skeleton as (name, parent, position) in Blender's axes and
  metres, for the FBX the Blender tests build with Blender's own exporter.

The figure is the sandbox avatar's (female) skeleton scaled to SOURCE_HEIGHT_SCALE, so
the avatar and the source have the same proportions and only their size differs: a
retarget that is right puts the avatar's hands and feet where the source's are, scaled.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from avatar_importer.sandbox.skeleton import skeleton_joints  # noqa: E402

SOURCE_HEIGHT_SCALE = 1.80 / 1.72  # the source figure is 1.80 m, the avatar 1.72 m
FRAMES = 40
FPS = 30
_DROPPED = {"Neck1", "Neck2", "LeftForeArm1", "LeftForeArm2", "RightForeArm1",
            "RightForeArm2", "LeftEye", "RightEye"}
_CMU_NAMES = {
    "Spine": "LowerBack", "Spine1": "Spine", "Spine2": "Spine1",
    "LeftHandThumb1": "LThumb", "RightHandThumb1": "RThumb",
}
_CMU_KEPT_FINGERS = {"LeftHandIndex1", "RightHandIndex1", "LeftHandThumb1", "RightHandThumb1"}

Vec3 = tuple[float, float, float]


Joint = tuple[str, str | None, Vec3]  # name, parent name, position (glTF/BVH axes, metres)


def _reduce(joints: list[Joint], scale: float) -> list[Joint]:
    """``joints`` without the joints a Mixamo skeleton lacks (children re-parented to the
    nearest kept ancestor), scaled."""
    parent_of = {name: parent for name, parent, _ in joints}
    out: list[Joint] = []
    for name, parent, pos in joints:
        if name in _DROPPED:
            continue
        while parent is not None and parent in _DROPPED:
            parent = parent_of[parent]
        out.append((name, parent, (pos[0] * scale, pos[1] * scale, pos[2] * scale)))
    return out


def sandbox_figure() -> list[Joint]:
    """The sandbox avatar's (female) skeleton with parent names."""
    joints = skeleton_joints(1.0, 1.0)
    return [(name, joints[parent][0] if parent >= 0 else None, pos)
            for name, parent, pos in joints]


def _figure(figure: list[Joint] | None = None) -> list[Joint]:
    """The source figure: ``figure`` (default the sandbox avatar's skeleton) reduced to a
    Mixamo skeleton and scaled by SOURCE_HEIGHT_SCALE."""
    return _reduce(figure if figure is not None else sandbox_figure(), SOURCE_HEIGHT_SCALE)


def _is_leaf(name: str) -> bool:
    return name.endswith(("_End", "4"))


def motion(name: str, frame: int) -> Vec3:
    """Rotation of joint ``name`` at ``frame`` as (Z, X, Y) degrees about the BVH axes
    (Y up, the figure facing +Z); every joint is at rest on frame 0."""
    t = frame / FPS
    ease = min(1.0, frame / 8.0)
    phase = 2.0 * math.pi * t / 1.0  # one stride per second
    s = math.sin(phase)
    if name == "LeftUpLeg":
        return (0.0, -28.0 * s * ease, 0.0)
    if name == "RightUpLeg":
        return (0.0, 28.0 * s * ease, 0.0)
    if name == "LeftLeg":
        return (0.0, 35.0 * max(0.0, -s) * ease, 0.0)
    if name == "RightLeg":
        return (0.0, 35.0 * max(0.0, s) * ease, 0.0)
    if name == "LeftFoot":
        return (0.0, -10.0 * s * ease, 0.0)
    if name == "LeftArm":  # down by the side, swinging
        return (-70.0 * ease, 0.0, 20.0 * s * ease)
    if name == "LeftForeArm":
        return (0.0, 0.0, -15.0 * ease)
    if name == "RightArm":  # raised, waving with the forearm
        return (-40.0 * ease, 0.0, 10.0 * ease)
    if name == "RightForeArm":
        return ((-60.0 + 30.0 * math.sin(4.0 * phase)) * ease, 0.0, 0.0)
    if name == "RightHand":
        return (0.0, 15.0 * math.sin(4.0 * phase) * ease, 0.0)
    if name == "Spine1":
        return (0.0, 4.0 * ease, 6.0 * s * ease)
    if name == "Head":
        return (0.0, 8.0 * math.sin(2.0 * phase) * ease, -6.0 * s * ease)
    return (0.0, 0.0, 0.0)


def root_position(frame: int, rest: Vec3) -> Vec3:
    """The hips' position (BVH axes, same units as ``rest``): forward along +Z with a bob."""
    t = frame / FPS
    ease = min(1.0, frame / 8.0)
    height = rest[1] / 0.93
    bob = -0.02 * height * (1.0 - math.cos(4.0 * math.pi * t)) * 0.5 * ease
    return (rest[0], rest[1] + bob, rest[2] + 1.1 * height * t * ease * 0.6)


def _write_bvh(path: Path, rename: dict[str, str], keep: set[str] | None,
               hip_joints: bool, unit: float, base: list[Joint] | None = None) -> Path:
    figure = _figure(base)
    pos = {name: p for name, _, p in figure}
    children: dict[str | None, list[str]] = {}
    for name, parent, _ in figure:
        if keep is not None and name not in keep and not _is_leaf(name):
            continue
        children.setdefault(parent, []).append(name)
    lines = ["HIERARCHY"]
    order: list[str] = []

    def offset(a: str | None, b: str) -> str:
        pa = pos[a] if a is not None else (0.0, 0.0, 0.0)
        return " ".join(f"{(pos[b][i] - pa[i]) * unit:.6f}" for i in range(3))

    def emit(name: str, parent: str | None, depth: int) -> None:
        pad = "  " * depth
        kids = [c for c in children.get(name, []) if not _is_leaf(c)]
        leaves = [c for c in children.get(name, []) if _is_leaf(c)]
        if parent is None:
            lines.append(f"ROOT {rename.get(name, name)}")
            lines.append("{")
            lines.append(f"  OFFSET {offset(None, name)}")
            lines.append("  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation "
                         "Yrotation")
        else:
            lines.append(f"{pad}JOINT {rename.get(name, name)}")
            lines.append(pad + "{")
            lines.append(f"{pad}  OFFSET {offset(parent, name)}")
            lines.append(f"{pad}  CHANNELS 3 Zrotation Xrotation Yrotation")
        order.append(name)
        for kid in kids:
            if hip_joints and name == "Hips" and kid.endswith("UpLeg"):
                side = kid[0]
                lines.append(f"{pad}  JOINT {side}HipJoint")
                lines.append(pad + "  {")
                lines.append(f"{pad}    OFFSET 0 0 0")
                lines.append(f"{pad}    CHANNELS 3 Zrotation Xrotation Yrotation")
                order.append(f"{side}HipJoint")
                emit(kid, name, depth + 2)
                lines.append(pad + "  }")
            else:
                emit(kid, name, depth + 1)
        if not kids:
            end = leaves[0] if leaves else None
            lines.append(f"{pad}  End Site")
            lines.append(pad + "  {")
            lines.append(f"{pad}    OFFSET "
                         + (offset(name, end) if end else f"0 {5.0 * unit / 100:.6f} 0"))
            lines.append(pad + "  }")
        lines.append(pad + "}")

    emit("Hips", None, 0)
    lines += ["MOTION", f"Frames: {FRAMES}", f"Frame Time: {1.0 / FPS:.8f}"]
    rest = tuple(c * unit for c in pos["Hips"])
    for frame in range(FRAMES):
        values: list[float] = []
        for name in order:
            if name == "Hips":
                values.extend(root_position(frame, rest))  # type: ignore[arg-type]
            values.extend(motion(name, frame))
        lines.append(" ".join(f"{v:.5f}" for v in values))
    path.write_text("\n".join(lines) + "\n")
    return path


def mixamo_bvh(path: Path, figure: list[Joint] | None = None) -> Path:
    """The walking-and-waving Mixamo-named BVH (centimetres), for the sandbox figure or
    for ``figure`` (MetaPerson joint names, e.g. read off a real export)."""
    rename = {name: f"mixamorig:{name}" for name, _, _ in _figure(figure)}
    return _write_bvh(path, rename, None, hip_joints=False, unit=100.0, base=figure)


def cmu_bvh(path: Path) -> Path:
    """The same motion with CMU-style joint names (hip joints, LowerBack, LThumb)."""
    keep = {name for name, _, _ in _figure()
            if "Hand" not in name or name.endswith("Hand") or name in _CMU_KEPT_FINGERS}
    return _write_bvh(path, _CMU_NAMES, keep, hip_joints=True, unit=100.0 / 2.54)


def unknown_bvh(path: Path) -> Path:
    """A valid BVH whose joints follow no naming convention (a three-link chain)."""
    path.write_text("HIERARCHY\nROOT base\n{\n  OFFSET 0 0 0\n  CHANNELS 6 Xposition "
                    "Yposition Zposition Zrotation Xrotation Yrotation\n  JOINT link1\n  {\n"
                    "    OFFSET 0 10 0\n    CHANNELS 3 Zrotation Xrotation Yrotation\n"
                    "    End Site\n    {\n      OFFSET 0 10 0\n    }\n  }\n}\nMOTION\n"
                    "Frames: 2\nFrame Time: 0.0333333\n0 0 0 0 0 0 0 0 0\n"
                    "0 0 0 0 0 0 10 0 0\n")
    return path


def to_blender(p: Vec3) -> Vec3:
    """BVH/glTF axes (Y up, facing +Z) to Blender's (Z up, facing -Y)."""
    return (p[0], -p[2], p[1])


def from_blender(p: Vec3) -> Vec3:
    """The inverse of :func:`to_blender`."""
    return (p[0], p[2], -p[1])


def source_joints(prefix: str = "mixamorig:", a_pose_degrees: float = 0.0
                  ) -> list[tuple[str, str | None, Vec3]]:
    """(name, parent, head position in Blender axes, metres) of the Mixamo-named figure,
    leaves included. ``a_pose_degrees`` lowers both arms (from the shoulder joint) by that
    angle: an A-pose rest."""
    figure = _figure()
    pos = {name: to_blender(p) for name, _, p in figure}
    if a_pose_degrees:
        angle = math.radians(a_pose_degrees)
        for side, sign in (("Left", 1.0), ("Right", -1.0)):
            pivot = pos[f"{side}Arm"]
            for name in list(pos):
                if name.startswith(side) and (name.startswith(f"{side}Arm")
                                              or name.startswith(f"{side}ForeArm")
                                              or name.startswith(f"{side}Hand")):
                    x, y, z = (pos[name][i] - pivot[i] for i in range(3))
                    # rotate about the forward axis (Y): the arm swings down
                    c, s = math.cos(angle), math.sin(-angle * sign)
                    pos[name] = (pivot[0] + c * x - s * z, pivot[1] + y,
                                 pivot[2] + s * x + c * z)
    return [(prefix + name, (prefix + parent) if parent else None, pos[name])
            for name, parent, _ in figure]
