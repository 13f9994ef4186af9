"""The sample avatars' skeleton: 73 MetaPerson-named joints from ``Hips`` (translations only, so
the bind pose is the T-pose), and the :class:`Figure` the part meshes are built around."""

from __future__ import annotations

from dataclasses import dataclass

from .geometry import Vec3

Joint = tuple[str, int, Vec3]  # name, parent index or -1, world position

FINGERS = ("Thumb", "Index", "Middle", "Ring", "Pinky")
# finger root (x along the arm, z forward) and per-phalanx step, for the left hand
_FINGER_LAYOUT: dict[str, tuple[Vec3, Vec3]] = {
    "Thumb": ((0.695, -0.005, 0.050), (0.017, -0.016, 0.024)),
    "Index": ((0.760, 0.003, 0.062), (0.028, 0.0, 0.006)),
    "Middle": ((0.765, 0.006, 0.042), (0.030, -0.002, 0.002)),
    "Ring": ((0.758, 0.004, 0.024), (0.028, -0.003, 0.0)),
    "Pinky": ((0.749, 0.0, 0.008), (0.020, -0.003, -0.006)),
}


def skeleton_joints(height_scale: float, width_scale: float) -> list[Joint]:
    """(name, parent index or -1, world position) in depth-first order; 73 joints."""
    joints: list[Joint] = []

    def add(name: str, parent: int, x: float, y: float, z: float) -> int:
        joints.append((name, parent, (x * width_scale, y * height_scale, z)))
        return len(joints) - 1

    hips = add("Hips", -1, 0.0, 0.93, -0.01)
    spine = add("Spine", hips, 0.0, 1.06, 0.0)
    spine1 = add("Spine1", spine, 0.0, 1.18, 0.01)
    spine2 = add("Spine2", spine1, 0.0, 1.27, 0.0)
    neck = add("Neck", spine2, 0.0, 1.45, -0.02)
    neck1 = add("Neck1", neck, 0.0, 1.48, -0.01)
    neck2 = add("Neck2", neck1, 0.0, 1.51, -0.005)
    head = add("Head", neck2, 0.0, 1.55, -0.005)
    add("LeftEye", head, 0.031, 1.605, 0.072)
    add("RightEye", head, -0.031, 1.605, 0.072)
    add("HeadTop_End", head, 0.0, 1.735, -0.01)
    for side, sx in (("Left", 1.0), ("Right", -1.0)):
        shoulder = add(f"{side}Shoulder", spine2, 0.06 * sx, 1.37, -0.05)
        arm = add(f"{side}Arm", shoulder, 0.15 * sx, 1.40, -0.04)
        fore = add(f"{side}ForeArm", arm, 0.42 * sx, 1.40, -0.03)
        add(f"{side}ForeArm1", fore, 0.54 * sx, 1.40, -0.01)
        add(f"{side}ForeArm2", fore, 0.61 * sx, 1.40, 0.01)
        hand = add(f"{side}Hand", fore, 0.665 * sx, 1.40, 0.03)
        for finger in FINGERS:
            (rx, ry, rz), (dx, dy, dz) = _FINGER_LAYOUT[finger]
            parent = hand
            for k in range(4):
                x, y, z = rx + k * dx, 1.40 + ry + k * dy, rz + k * dz
                parent = add(f"{side}Hand{finger}{k + 1}", parent, x * sx, y, z)
    for side, sx in (("Left", 1.0), ("Right", -1.0)):
        up = add(f"{side}UpLeg", hips, 0.085 * sx, 0.92, -0.01)
        leg = add(f"{side}Leg", up, 0.095 * sx, 0.50, -0.01)
        foot = add(f"{side}Foot", leg, 0.10 * sx, 0.075, -0.035)
        toe = add(f"{side}ToeBase", foot, 0.11 * sx, 0.03, 0.075)
        add(f"{side}Toe_End", toe, 0.115 * sx, 0.03, 0.165)
    return joints


@dataclass(frozen=True)
class Figure:
    joint_index: dict[str, int]
    pos: dict[str, Vec3]
    head_center: Vec3
    head_radii: Vec3

    def j(self, name: str) -> int:
        return self.joint_index[name]


def figure(female: bool) -> tuple[list[Joint], Figure]:
    """The skeleton and figure of the female (1.72 m) or the taller, wider male body."""
    scale = 1.0 if female else 1.045
    joints = skeleton_joints(scale, 1.0 if female else 1.08)
    fig = Figure(
        joint_index={name: i for i, (name, _, _) in enumerate(joints)},
        pos={name: p for name, _, p in joints},
        head_center=(0.0, 1.625 * scale, -0.005),
        head_radii=(0.076, 0.11, 0.092) if female else (0.08, 0.116, 0.097),
    )
    return joints, fig
