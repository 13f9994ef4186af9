"""Low-poly mesh building for the sample avatars: a vertex/triangle list skinned one joint per
vertex, and the primitives the figures are made of (ellipsoids, tubes, boxes)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

Vec3 = tuple[float, float, float]


@dataclass
class Mesh:
    positions: list[Vec3] = field(default_factory=list)
    normals: list[Vec3] = field(default_factory=list)
    uvs: list[tuple[float, float]] = field(default_factory=list)
    joints: list[int] = field(default_factory=list)
    indices: list[int] = field(default_factory=list)

    def vertex(self, p: Vec3, n: Vec3, uv: tuple[float, float], joint: int) -> int:
        self.positions.append(p)
        self.normals.append(normalize(n))
        self.uvs.append(uv)
        self.joints.append(joint)
        return len(self.positions) - 1

    def tri(self, a: int, b: int, c: int) -> None:
        self.indices += (a, b, c)


def vec(values: Iterable[float]) -> Vec3:
    x, y, z = values
    return (x, y, z)


def normalize(v: Vec3) -> Vec3:
    length = math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]) or 1.0
    return (v[0] / length, v[1] / length, v[2] / length)


def cross(a: Vec3, b: Vec3) -> Vec3:
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def _grid(
    mesh: Mesh, rows: int, cols: int, start: int, closed_top: bool, closed_bottom: bool
) -> None:
    """Triangles over a (rows+1) x (cols+1) vertex grid; rows run down, columns around."""
    for i in range(rows):
        for j in range(cols):
            a = start + i * (cols + 1) + j
            b, c = a + cols + 1, a + 1
            d = b + 1
            if not (closed_top and i == 0):
                mesh.tri(a, b, c)
            if not (closed_bottom and i == rows - 1):
                mesh.tri(c, b, d)


def ellipsoid(
    mesh: Mesh, center: Vec3, radii: Vec3, joint: int | Callable[[Vec3], int],
    cols: int = 16, rows: int = 12, theta_max: float = math.pi,
) -> None:
    """An ellipsoid (or a cap of it, from the top down to ``theta_max``); UV u=0.5 faces +Z."""
    cx, cy, cz = center
    rx, ry, rz = radii
    start = len(mesh.positions)
    for i in range(rows + 1):
        theta = theta_max * i / rows
        for j in range(cols + 1):
            phi = -math.pi + 2.0 * math.pi * j / cols
            ox = rx * math.sin(theta) * math.sin(phi)
            oy = ry * math.cos(theta)
            oz = rz * math.sin(theta) * math.cos(phi)
            p = (cx + ox, cy + oy, cz + oz)
            n = (ox / (rx * rx), oy / (ry * ry), oz / (rz * rz))
            jnt = joint(p) if callable(joint) else joint
            mesh.vertex(p, n, (j / cols, i / rows), jnt)
    _grid(mesh, rows, cols, start, True, theta_max >= math.pi - 1e-9)


def tube(
    mesh: Mesh, rings: Sequence[tuple[Vec3, float, float]], up: Vec3,
    joint: int | Callable[[Vec3], int], cols: int = 12,
) -> None:
    """An open tube through ring centres; each ring is (centre, radius along ``up``, other)."""
    axis = normalize(vec(rings[-1][0][k] - rings[0][0][k] for k in range(3)))
    e1 = normalize(up)
    e2 = cross(e1, axis)  # (axis, e2, e1) keeps the winding counter-clockwise from outside
    start = len(mesh.positions)
    for i, (c, r1, r2) in enumerate(rings):
        for j in range(cols + 1):
            phi = 2.0 * math.pi * j / cols
            a, b = math.cos(phi), math.sin(phi)
            p = vec(c[k] + r1 * a * e1[k] + r2 * b * e2[k] for k in range(3))
            n = vec(a / r1 * e1[k] + b / r2 * e2[k] for k in range(3))
            jnt = joint(p) if callable(joint) else joint
            mesh.vertex(p, n, (j / cols, i / (len(rings) - 1)), jnt)
    _grid(mesh, len(rings) - 1, cols, start, False, False)


_BOX_FACES: tuple[tuple[Vec3, Vec3, Vec3], ...] = (  # (normal, u, v) with u x v = normal
    ((1, 0, 0), (0, 1, 0), (0, 0, 1)), ((-1, 0, 0), (0, 0, 1), (0, 1, 0)),
    ((0, 1, 0), (0, 0, 1), (1, 0, 0)), ((0, -1, 0), (1, 0, 0), (0, 0, 1)),
    ((0, 0, 1), (1, 0, 0), (0, 1, 0)), ((0, 0, -1), (0, 1, 0), (1, 0, 0)),
)


def box(mesh: Mesh, lo: Vec3, hi: Vec3, joint: int) -> None:
    c = vec((lo[k] + hi[k]) / 2 for k in range(3))
    h = vec(max(abs(hi[k] - lo[k]) / 2, 0.002) for k in range(3))
    for n, u, v in _BOX_FACES:
        corners = []
        for su, sv, uv in ((-1, -1, (0.0, 1.0)), (1, -1, (1.0, 1.0)), (1, 1, (1.0, 0.0)),
                           (-1, 1, (0.0, 0.0))):
            p = vec(c[k] + (n[k] + su * u[k] + sv * v[k]) * h[k] for k in range(3))
            corners.append(mesh.vertex(p, n, uv, joint))
        mesh.tri(corners[0], corners[1], corners[2])
        mesh.tri(corners[0], corners[2], corners[3])


def segment_box(mesh: Mesh, a: Vec3, b: Vec3, half: float, joint: int) -> None:
    lo = vec(min(a[k], b[k]) - half for k in range(3))
    hi = vec(max(a[k], b[k]) + half for k in range(3))
    box(mesh, lo, hi, joint)
