"""The part meshes of the sample figures (body, head, eyes, eyelashes, teeth, haircut, outfit),
each skinned to the :class:`~.skeleton.Figure`'s joints."""

from __future__ import annotations

import math
from collections.abc import Callable

from .geometry import Mesh, Vec3, box, ellipsoid, segment_box, tube, vec
from .skeleton import FINGERS, Figure


def _nearest_spine_joint(fig: Figure) -> Callable[[Vec3], int]:
    chain = ("Hips", "Spine", "Spine1", "Spine2")

    def pick(p: Vec3) -> int:
        best = min(chain, key=lambda name: abs(fig.pos[name][1] - p[1]))
        return fig.j(best)

    return pick


def body_mesh(fig: Figure, female: bool) -> Mesh:
    m = Mesh()
    p = fig.pos
    hy, sy = p["Hips"][1], p["Spine2"][1]
    chest = (0.15, 0.13, 0.10) if female else (0.17, 0.14, 0.11)
    ellipsoid(m, (0.0, hy + 0.02, 0.0), (0.16 if female else 0.15, 0.11, 0.10), fig.j("Hips"))
    ellipsoid(m, (0.0, p["Spine"][1] + 0.03, 0.0), (0.135, 0.11, 0.09), fig.j("Spine"))
    ellipsoid(m, (0.0, sy, 0.0), chest, fig.j("Spine2"))
    tube(m, [((0.0, p["Neck"][1] - 0.06, -0.01), 0.058, 0.055),
             ((0.0, p["Head"][1] + 0.02, -0.005), 0.052, 0.05)], (0, 0, 1), fig.j("Neck"))
    for side in ("Left", "Right"):
        arm, fore, hand = p[f"{side}Arm"], p[f"{side}ForeArm"], p[f"{side}Hand"]
        tube(m, [(arm, 0.05, 0.05), (fore, 0.04, 0.04)], (0, 1, 0), fig.j(f"{side}Arm"))
        mid = vec((fore[k] + hand[k]) / 2 for k in range(3))
        tube(m, [(fore, 0.04, 0.04), (mid, 0.035, 0.035)], (0, 1, 0), fig.j(f"{side}ForeArm"))
        tube(m, [(mid, 0.035, 0.035), (hand, 0.028, 0.032)], (0, 1, 0),
             fig.j(f"{side}ForeArm2"))
        palm_end = p[f"{side}HandMiddle1"]
        box(m, (min(hand[0], palm_end[0]), hand[1] - 0.014, hand[2] - 0.035),
            (max(hand[0], palm_end[0]), hand[1] + 0.014, hand[2] + 0.04), fig.j(f"{side}Hand"))
        for finger in FINGERS:
            half = 0.011 if finger == "Thumb" else 0.008
            for k in range(1, 4):
                a, b = p[f"{side}Hand{finger}{k}"], p[f"{side}Hand{finger}{k + 1}"]
                segment_box(m, a, b, half, fig.j(f"{side}Hand{finger}{k}"))
        up, leg, foot = p[f"{side}UpLeg"], p[f"{side}Leg"], p[f"{side}Foot"]
        thigh = 0.08 if female else 0.075
        tube(m, [(up, thigh, thigh), (leg, 0.055, 0.055)], (0, 0, 1), fig.j(f"{side}UpLeg"))
        tube(m, [(leg, 0.055, 0.055), ((foot[0], foot[1] + 0.02, foot[2]), 0.038, 0.038)],
             (0, 0, 1), fig.j(f"{side}Leg"))
        toe, toe_end = p[f"{side}ToeBase"], p[f"{side}Toe_End"]
        box(m, (foot[0] - 0.045, 0.0, foot[2] - 0.05), (foot[0] + 0.045, foot[1] + 0.03, toe[2]),
            fig.j(f"{side}Foot"))
        box(m, (toe[0] - 0.045, 0.0, toe[2]), (toe[0] + 0.045, 0.04, toe_end[2]),
            fig.j(f"{side}ToeBase"))
    return m


def add_head(m: Mesh, fig: Figure) -> Mesh:
    """The head ellipsoid, added to ``m``."""
    ellipsoid(m, fig.head_center, fig.head_radii, fig.j("Head"), cols=20, rows=14)
    return m


def add_eye(m: Mesh, fig: Figure, side: str, radius: float, forward: float) -> Mesh:
    """The ``side`` ("Left"/"Right") eyeball of ``radius``, ``forward`` along +Z, added to ``m``."""
    x, y, z = fig.pos[f"{side}Eye"]
    ellipsoid(m, (x, y, z + forward), (radius, radius, radius), fig.j(f"{side}Eye"), 10, 8)
    return m


def eye_meshes(fig: Figure, radius: float, forward: float) -> dict[str, Mesh]:
    return {side: add_eye(Mesh(), fig, side, radius, forward) for side in ("Left", "Right")}


def eyelashes_mesh(fig: Figure) -> Mesh:
    m = Mesh()
    for side in ("Left", "Right"):
        x, y, z = fig.pos[f"{side}Eye"]
        box(m, (x - 0.014, y + 0.010, z + 0.008), (x + 0.014, y + 0.013, z + 0.016), fig.j("Head"))
    return m


def teeth_mesh(fig: Figure, upper: bool) -> Mesh:
    m = Mesh()
    cx, cy, cz = fig.head_center
    y = cy - 0.052 if upper else cy - 0.062
    box(m, (cx - 0.022, y, cz + 0.04), (cx + 0.022, y + 0.006, cz + 0.065), fig.j("Head"))
    return m


def haircut_mesh(fig: Figure) -> Mesh:
    m = Mesh()
    rx, ry, rz = fig.head_radii
    ellipsoid(m, fig.head_center, (rx * 1.12, ry * 1.08, rz * 1.1), fig.j("Head"),
              cols=20, rows=8, theta_max=0.46 * math.pi)
    return m


def outfit_mesh(fig: Figure, female: bool) -> Mesh:
    m = Mesh()
    p = fig.pos
    top = p["Neck"][1] - 0.04
    hem = 0.58 if female else 0.80
    rings = [
        ((0.0, top, -0.01), 0.08, 0.12),
        ((0.0, p["Spine2"][1] + 0.02, 0.0), 0.12, 0.18 if not female else 0.165),
        ((0.0, p["Spine1"][1], 0.0), 0.105, 0.15),
        ((0.0, p["Spine"][1], 0.0), 0.11, 0.155),
        ((0.0, p["Hips"][1], 0.0), 0.125, 0.185),
        ((0.0, hem, 0.0), 0.17 if female else 0.12, 0.26 if female else 0.17),
    ]
    # rings run down the body: ``up`` = +Z puts the first radius front/back, the second sideways
    tube(m, rings, (0, 0, 1), _nearest_spine_joint(fig), cols=16)
    for side in ("Left", "Right"):
        arm = p[f"{side}Arm"]
        sx = 1.0 if side == "Left" else -1.0
        sleeve_end = (arm[0] + 0.14 * sx, arm[1], arm[2])
        start = (arm[0] - 0.04 * sx, arm[1], arm[2])
        tube(m, [(start, 0.062, 0.062), (sleeve_end, 0.056, 0.056)], (0, 1, 0),
             fig.j(f"{side}Arm"))
    return m
