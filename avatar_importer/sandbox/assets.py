"""The sandbox's sample avatar: a MetaPerson-like GLB and its static textures, made in memory.

Nothing binary is stored in the repository: ``build_sample_avatar`` generates, deterministically,
a low-poly standing figure laid out like a MetaPerson 2.0 export:

* root node ``AvatarRoot``; a 73-joint skeleton from ``Hips`` with MetaPerson joint names;
  joints carry translations only (no rotations), so the bind pose is the T-pose itself;
* one skinned mesh node per part (``AvatarBody``, ``AvatarHead``, ``AvatarEyelashes``, corneas,
  eyeballs, teeth, plus ``haircut`` and ``outfit`` when asked), one material per part named
  like the node; metres, Y-up, facing +Z, about 1.72 m (female) or 1.80 m (male) tall;
* ``AvatarHead`` carries morph targets named in ``mesh.extras.targetNames``: ``mobile_51`` (the
  ARKit names without ``tongueOut``, alphabetical) then the visemes. ``visemes_15`` is
  ``CH DD E FF PP RR SS TH aa ih kk nn oh ou sil``; ``visemes_14`` is the same without ``sil``
  (our choice: the 15th viseme is the silence pose). ``face_modifications`` and ``body_shape``
  add nothing here;
* textures are NOT embedded: every image has a relative ``uri`` (a unique basename) and the
  file itself is a static resource ``/static_resources/metaperson_2.0/textures/<category>/
  <Part>/<Part>_<Kind>_<res>.<ext>``, returned in ``SampleAvatar.static_files``.
"""

from __future__ import annotations

import json
import math
import re
import struct
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from .png import png_bytes

__all__ = [
    "ARKIT_MOBILE_51",
    "STATIC_TEXTURES_PREFIX",
    "VISEMES_15",
    "SampleAvatar",
    "build_sample_avatar",
    "build_thumbnail",
    "parse_glb",
    "parse_profile",
    "png_bytes",
    "shape_key_names",
    "textures_for_glb",
]

STATIC_TEXTURES_PREFIX = "/static_resources/metaperson_2.0/textures"

ARKIT_MOBILE_51: tuple[str, ...] = (
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight",
    "eyeLookDownLeft", "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft",
    "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight",
    "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft", "jawOpen", "jawRight", "mouthClose",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight", "mouthFunnel",
    "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft", "mouthPressRight",
    "mouthPucker", "mouthRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower",
    "mouthShrugUpper", "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft",
    "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight", "noseSneerLeft",
    "noseSneerRight",
)
VISEMES_15: tuple[str, ...] = (
    "CH", "DD", "E", "FF", "PP", "RR", "SS", "TH", "aa", "ih", "kk", "nn", "oh", "ou", "sil",
)

Vec3 = tuple[float, float, float]
Rgba = tuple[int, int, int, int]

_PROFILE_RE = re.compile(r"^(1K|2K|4K)\.(png|jpg|webp)$")
_FLOAT, _USHORT = 5126, 5123
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963


@dataclass(frozen=True)
class SampleAvatar:
    glb: bytes  # a valid glTF 2.0 binary
    # key: URL path of the static resource; value: the file's bytes (always PNG data)
    static_files: dict[str, bytes] = field(default_factory=dict)


def parse_profile(profile: str) -> tuple[str, str]:
    """``"1K.png"`` -> ``("1K", "png")``; ValueError for anything but 1K|2K|4K x png|jpg|webp."""
    match = _PROFILE_RE.match(profile)
    if not match:
        raise ValueError(f"unknown texture profile {profile!r} (expected e.g. '1K.png')")
    return match.group(1), match.group(2)


def parse_glb(glb: bytes) -> tuple[dict[str, Any], bytes]:
    """The JSON chunk (as a dict) and the BIN chunk (possibly empty) of a GLB."""
    if len(glb) < 20 or glb[:4] != b"glTF":
        raise ValueError("not a GLB file (bad magic)")
    version, total = struct.unpack_from("<II", glb, 4)
    if version != 2 or total > len(glb):
        raise ValueError(f"unsupported or truncated GLB (version {version}, length {total})")
    json_len, json_type = struct.unpack_from("<II", glb, 12)
    if json_type != 0x4E4F534A:
        raise ValueError("GLB's first chunk is not JSON")
    doc = json.loads(glb[20 : 20 + json_len].decode("utf-8"))
    binary = b""
    offset = 20 + json_len
    if offset + 8 <= total:
        bin_len, bin_type = struct.unpack_from("<II", glb, offset)
        if bin_type == 0x004E4942:
            binary = glb[offset + 8 : offset + 8 + bin_len]
    return doc, binary


# --- skeleton -------------------------------------------------------------------------------

_FINGERS = ("Thumb", "Index", "Middle", "Ring", "Pinky")
# finger root (x along the arm, z forward) and per-phalanx step, for the left hand
_FINGER_LAYOUT: dict[str, tuple[Vec3, Vec3]] = {
    "Thumb": ((0.695, -0.005, 0.050), (0.017, -0.016, 0.024)),
    "Index": ((0.760, 0.003, 0.062), (0.028, 0.0, 0.006)),
    "Middle": ((0.765, 0.006, 0.042), (0.030, -0.002, 0.002)),
    "Ring": ((0.758, 0.004, 0.024), (0.028, -0.003, 0.0)),
    "Pinky": ((0.749, 0.0, 0.008), (0.020, -0.003, -0.006)),
}


def _skeleton(height_scale: float, width_scale: float) -> list[tuple[str, int, Vec3]]:
    """(name, parent index or -1, world position) in depth-first order; 73 joints."""
    joints: list[tuple[str, int, Vec3]] = []

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
        for finger in _FINGERS:
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


# --- geometry -------------------------------------------------------------------------------


@dataclass
class _Mesh:
    positions: list[Vec3] = field(default_factory=list)
    normals: list[Vec3] = field(default_factory=list)
    uvs: list[tuple[float, float]] = field(default_factory=list)
    joints: list[int] = field(default_factory=list)
    indices: list[int] = field(default_factory=list)

    def vertex(self, p: Vec3, n: Vec3, uv: tuple[float, float], joint: int) -> int:
        self.positions.append(p)
        self.normals.append(_normalize(n))
        self.uvs.append(uv)
        self.joints.append(joint)
        return len(self.positions) - 1

    def tri(self, a: int, b: int, c: int) -> None:
        self.indices += (a, b, c)


def _vec(values: Iterable[float]) -> Vec3:
    x, y, z = values
    return (x, y, z)


def _normalize(v: Vec3) -> Vec3:
    length = math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]) or 1.0
    return (v[0] / length, v[1] / length, v[2] / length)


def _cross(a: Vec3, b: Vec3) -> Vec3:
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def _grid(
    mesh: _Mesh, rows: int, cols: int, start: int, closed_top: bool, closed_bottom: bool
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


def _ellipsoid(
    mesh: _Mesh, center: Vec3, radii: Vec3, joint: int | Callable[[Vec3], int],
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


def _tube(
    mesh: _Mesh, rings: Sequence[tuple[Vec3, float, float]], up: Vec3,
    joint: int | Callable[[Vec3], int], cols: int = 12,
) -> None:
    """An open tube through ring centres; each ring is (centre, radius along ``up``, other)."""
    axis = _normalize(_vec(rings[-1][0][k] - rings[0][0][k] for k in range(3)))
    e1 = _normalize(up)
    e2 = _cross(e1, axis)  # (axis, e2, e1) keeps the winding counter-clockwise from outside
    start = len(mesh.positions)
    for i, (c, r1, r2) in enumerate(rings):
        for j in range(cols + 1):
            phi = 2.0 * math.pi * j / cols
            a, b = math.cos(phi), math.sin(phi)
            p = _vec(c[k] + r1 * a * e1[k] + r2 * b * e2[k] for k in range(3))
            n = _vec(a / r1 * e1[k] + b / r2 * e2[k] for k in range(3))
            jnt = joint(p) if callable(joint) else joint
            mesh.vertex(p, n, (j / cols, i / (len(rings) - 1)), jnt)
    _grid(mesh, len(rings) - 1, cols, start, False, False)


_BOX_FACES: tuple[tuple[Vec3, Vec3, Vec3], ...] = (  # (normal, u, v) with u x v = normal
    ((1, 0, 0), (0, 1, 0), (0, 0, 1)), ((-1, 0, 0), (0, 0, 1), (0, 1, 0)),
    ((0, 1, 0), (0, 0, 1), (1, 0, 0)), ((0, -1, 0), (1, 0, 0), (0, 0, 1)),
    ((0, 0, 1), (1, 0, 0), (0, 1, 0)), ((0, 0, -1), (0, 1, 0), (1, 0, 0)),
)


def _box(mesh: _Mesh, lo: Vec3, hi: Vec3, joint: int) -> None:
    c = _vec((lo[k] + hi[k]) / 2 for k in range(3))
    h = _vec(max(abs(hi[k] - lo[k]) / 2, 0.002) for k in range(3))
    for n, u, v in _BOX_FACES:
        corners = []
        for su, sv, uv in ((-1, -1, (0.0, 1.0)), (1, -1, (1.0, 1.0)), (1, 1, (1.0, 0.0)),
                           (-1, 1, (0.0, 0.0))):
            p = _vec(c[k] + (n[k] + su * u[k] + sv * v[k]) * h[k] for k in range(3))
            corners.append(mesh.vertex(p, n, uv, joint))
        mesh.tri(corners[0], corners[1], corners[2])
        mesh.tri(corners[0], corners[2], corners[3])


def _segment_box(mesh: _Mesh, a: Vec3, b: Vec3, half: float, joint: int) -> None:
    lo = _vec(min(a[k], b[k]) - half for k in range(3))
    hi = _vec(max(a[k], b[k]) + half for k in range(3))
    _box(mesh, lo, hi, joint)


# --- the figure -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Figure:
    joint_index: dict[str, int]
    pos: dict[str, Vec3]
    head_center: Vec3
    head_radii: Vec3

    def j(self, name: str) -> int:
        return self.joint_index[name]


def _nearest_spine_joint(fig: _Figure) -> Callable[[Vec3], int]:
    chain = ("Hips", "Spine", "Spine1", "Spine2")

    def pick(p: Vec3) -> int:
        best = min(chain, key=lambda name: abs(fig.pos[name][1] - p[1]))
        return fig.j(best)

    return pick


def _body(fig: _Figure, female: bool) -> _Mesh:
    m = _Mesh()
    p = fig.pos
    hy, sy = p["Hips"][1], p["Spine2"][1]
    chest = (0.15, 0.13, 0.10) if female else (0.17, 0.14, 0.11)
    _ellipsoid(m, (0.0, hy + 0.02, 0.0), (0.16 if female else 0.15, 0.11, 0.10), fig.j("Hips"))
    _ellipsoid(m, (0.0, p["Spine"][1] + 0.03, 0.0), (0.135, 0.11, 0.09), fig.j("Spine"))
    _ellipsoid(m, (0.0, sy, 0.0), chest, fig.j("Spine2"))
    _tube(m, [((0.0, p["Neck"][1] - 0.06, -0.01), 0.058, 0.055),
              ((0.0, p["Head"][1] + 0.02, -0.005), 0.052, 0.05)], (0, 0, 1), fig.j("Neck"))
    for side in ("Left", "Right"):
        arm, fore, hand = p[f"{side}Arm"], p[f"{side}ForeArm"], p[f"{side}Hand"]
        _tube(m, [(arm, 0.05, 0.05), (fore, 0.04, 0.04)], (0, 1, 0), fig.j(f"{side}Arm"))
        mid = _vec((fore[k] + hand[k]) / 2 for k in range(3))
        _tube(m, [(fore, 0.04, 0.04), (mid, 0.035, 0.035)], (0, 1, 0), fig.j(f"{side}ForeArm"))
        _tube(m, [(mid, 0.035, 0.035), (hand, 0.028, 0.032)], (0, 1, 0),
              fig.j(f"{side}ForeArm2"))
        palm_end = p[f"{side}HandMiddle1"]
        _box(m, (min(hand[0], palm_end[0]), hand[1] - 0.014, hand[2] - 0.035),
             (max(hand[0], palm_end[0]), hand[1] + 0.014, hand[2] + 0.04), fig.j(f"{side}Hand"))
        for finger in _FINGERS:
            half = 0.011 if finger == "Thumb" else 0.008
            for k in range(1, 4):
                a, b = p[f"{side}Hand{finger}{k}"], p[f"{side}Hand{finger}{k + 1}"]
                _segment_box(m, a, b, half, fig.j(f"{side}Hand{finger}{k}"))
        up, leg, foot = p[f"{side}UpLeg"], p[f"{side}Leg"], p[f"{side}Foot"]
        thigh = 0.08 if female else 0.075
        _tube(m, [(up, thigh, thigh), (leg, 0.055, 0.055)], (0, 0, 1), fig.j(f"{side}UpLeg"))
        _tube(m, [(leg, 0.055, 0.055), ((foot[0], foot[1] + 0.02, foot[2]), 0.038, 0.038)],
              (0, 0, 1), fig.j(f"{side}Leg"))
        toe, toe_end = p[f"{side}ToeBase"], p[f"{side}Toe_End"]
        _box(m, (foot[0] - 0.045, 0.0, foot[2] - 0.05), (foot[0] + 0.045, foot[1] + 0.03, toe[2]),
             fig.j(f"{side}Foot"))
        _box(m, (toe[0] - 0.045, 0.0, toe[2]), (toe[0] + 0.045, 0.04, toe_end[2]),
             fig.j(f"{side}ToeBase"))
    return m


def _head(fig: _Figure) -> _Mesh:
    m = _Mesh()
    _ellipsoid(m, fig.head_center, fig.head_radii, fig.j("Head"), cols=20, rows=14)
    return m


def _eye_parts(fig: _Figure, radius: float, forward: float) -> dict[str, _Mesh]:
    parts: dict[str, _Mesh] = {}
    for side in ("Left", "Right"):
        m = _Mesh()
        x, y, z = fig.pos[f"{side}Eye"]
        _ellipsoid(m, (x, y, z + forward), (radius, radius, radius), fig.j(f"{side}Eye"), 10, 8)
        parts[side] = m
    return parts


def _eyelashes(fig: _Figure) -> _Mesh:
    m = _Mesh()
    for side in ("Left", "Right"):
        x, y, z = fig.pos[f"{side}Eye"]
        _box(m, (x - 0.014, y + 0.010, z + 0.008), (x + 0.014, y + 0.013, z + 0.016), fig.j("Head"))
    return m


def _teeth(fig: _Figure, upper: bool) -> _Mesh:
    m = _Mesh()
    cx, cy, cz = fig.head_center
    y = cy - 0.052 if upper else cy - 0.062
    _box(m, (cx - 0.022, y, cz + 0.04), (cx + 0.022, y + 0.006, cz + 0.065), fig.j("Head"))
    return m


def _haircut(fig: _Figure) -> _Mesh:
    m = _Mesh()
    rx, ry, rz = fig.head_radii
    _ellipsoid(m, fig.head_center, (rx * 1.12, ry * 1.08, rz * 1.1), fig.j("Head"),
               cols=20, rows=8, theta_max=0.46 * math.pi)
    return m


def _outfit(fig: _Figure, female: bool) -> _Mesh:
    m = _Mesh()
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
    _tube(m, rings, (0, 0, 1), _nearest_spine_joint(fig), cols=16)
    for side in ("Left", "Right"):
        arm = p[f"{side}Arm"]
        sx = 1.0 if side == "Left" else -1.0
        sleeve_end = (arm[0] + 0.14 * sx, arm[1], arm[2])
        start = (arm[0] - 0.04 * sx, arm[1], arm[2])
        _tube(m, [(start, 0.062, 0.062), (sleeve_end, 0.056, 0.056)], (0, 1, 0),
              fig.j(f"{side}Arm"))
    return m


# --- shape keys -----------------------------------------------------------------------------


def _target_anchor(name: str) -> tuple[float, float, Vec3]:
    """(x offset, y offset) from the head centre to the region a target moves, and a direction."""
    side = 1.0 if name.endswith("Left") else -1.0 if name.endswith("Right") else 0.0
    lower = name.lower()
    if lower.startswith("brow"):
        return 0.03 * side, 0.012, (0.0, 1.0, 0.0)
    if lower.startswith("eye"):
        return 0.031 * (side or 1.0), -0.02, (0.0, -1.0 if "down" in lower else 1.0, 0.0)
    if lower.startswith("cheek"):
        return 0.045 * (side or 1.0), -0.04, (side, 0.3, 0.6)
    if lower.startswith("nose"):
        return 0.012 * side, -0.035, (0.0, 1.0, 0.3)
    if lower.startswith("jaw"):
        jaw: dict[str, Vec3] = {"jawOpen": (0.0, -1.0, 0.0), "jawForward": (0.0, 0.0, 1.0),
                                "jawLeft": (1.0, 0.0, 0.0), "jawRight": (-1.0, 0.0, 0.0)}
        return 0.0, -0.08, jaw.get(name, (0.0, -1.0, 0.0))
    if lower.startswith("mouth"):
        up = 1.0 if ("up" in lower or "smile" in lower) else -1.0
        return 0.022 * side, -0.055, (0.3 * side, 0.5 * up, 0.4)
    # visemes: mouth shapes
    return 0.0, -0.055, (0.0, -1.0 if name not in ("PP", "sil") else 0.3, 0.4)


def _targets(head: _Mesh, names: Sequence[str], fig: _Figure) -> list[list[Vec3]]:
    cx, cy, cz = fig.head_center
    rx, ry, rz = fig.head_radii
    out: list[list[Vec3]] = []
    for name in names:
        dx, dy, direction = _target_anchor(name)
        inside = max(0.0, 1.0 - (dx / rx) ** 2 - (dy / ry) ** 2)
        anchor = (cx + dx, cy + dy, cz + rz * math.sqrt(inside))
        amount = 0.004 + (zlib.crc32(name.encode()) % 7) * 0.001
        unit = _normalize(direction)
        dist = [math.dist(p, anchor) for p in head.positions]
        radius = 0.04
        deltas: list[Vec3] = []
        for d in dist:
            w = max(0.0, 1.0 - d / radius)
            deltas.append((unit[0] * amount * w, unit[1] * amount * w, unit[2] * amount * w))
        if not any(w != (0.0, 0.0, 0.0) for w in deltas):  # never an empty target
            nearest = min(range(len(dist)), key=dist.__getitem__)
            deltas[nearest] = (unit[0] * amount, unit[1] * amount, unit[2] * amount)
        out.append(deltas)
    return out


def shape_key_names(blendshapes: Sequence[str]) -> list[str]:
    names: list[str] = []
    if "mobile_51" in blendshapes:
        names += ARKIT_MOBILE_51
    if "visemes_15" in blendshapes:
        names += VISEMES_15
    elif "visemes_14" in blendshapes:
        names += VISEMES_15[:-1]
    return names


# --- textures -------------------------------------------------------------------------------


def _noise(x: int, y: int, seed: int) -> int:
    """A small deterministic per-pixel jitter in -6..6."""
    h = (x * 73856093 ^ y * 19349663 ^ seed * 83492791) & 0xFFFF
    return h % 13 - 6


def _clamp(v: float) -> int:
    return max(0, min(255, int(v)))


@lru_cache(maxsize=512)
def _texture(style: str, color: tuple[int, int, int], size: int) -> bytes:
    """PNG bytes for one texture style; cached because every avatar reuses them."""
    r0, g0, b0 = color
    seed = zlib.crc32(f"{style}{color}".encode())

    def flat(_x: int, _y: int) -> Rgba:
        return (r0, g0, b0, 255)

    def tinted(x: int, y: int) -> Rgba:
        n = _noise(x, y, seed)
        return (_clamp(r0 + n), _clamp(g0 + n), _clamp(b0 + n), 255)

    def head(x: int, y: int) -> Rgba:
        u, v = (x + 0.5) / size, (y + 0.5) / size
        if ((u - 0.5) / 0.05) ** 2 + ((v - 0.663) / 0.016) ** 2 <= 1.0:
            return (178, 86, 88, 255)  # lips
        if abs(abs(u - 0.5) - 0.067) < 0.035 and abs(v - 0.466) < 0.008:
            return (84, 58, 42, 255)  # eyebrows
        return tinted(x, y)

    def hair(x: int, y: int) -> Rgba:
        n = _noise(x, 0, seed) * 2
        strand = 255 if (y < size * 0.8 or (x // 2) % 2 == 0) else 0  # wispy lower edge
        return (_clamp(r0 + n), _clamp(g0 + n), _clamp(b0 + n), strand)

    def lashes(x: int, y: int) -> Rgba:
        return (r0, g0, b0, 230 if x % 2 == 0 else 90)

    def eye(x: int, y: int) -> Rgba:
        d = math.hypot((x + 0.5) / size - 0.5, (y + 0.5) / size - 0.5)
        if d < 0.045:
            return (12, 10, 10, 255)  # pupil
        if d < 0.11:
            return (r0, g0, b0, 255)  # iris
        return (236, 232, 228, 255)

    def cloth(x: int, y: int) -> Rgba:
        stripe = 10 if (y // max(1, size // 16)) % 2 else -10
        return (_clamp(r0 + stripe), _clamp(g0 + stripe), _clamp(b0 + stripe), 255)

    styles: dict[str, Callable[[int, int], Rgba]] = {
        "flat": flat, "skin": tinted, "head": head, "hair": hair, "lashes": lashes,
        "eye": eye, "cloth": cloth,
    }
    return png_bytes(size, size, styles[style])


_NORMAL_FLAT = ("flat", (128, 128, 255))


def _metal_rough(roughness: int) -> tuple[str, tuple[int, int, int]]:
    # glTF packs roughness in G and metalness in B
    return ("flat", (255, roughness, 0))


def _palette(name: str, options: Sequence[tuple[int, int, int]]) -> tuple[int, int, int]:
    return options[zlib.crc32(name.encode()) % len(options)]


_CLOTH = ((142, 52, 64), (52, 86, 140), (64, 112, 82), (196, 170, 120), (90, 70, 120))


# --- GLB writing ----------------------------------------------------------------------------


class _GlbWriter:
    def __init__(self) -> None:
        self.binary = bytearray()
        self.views: list[dict[str, Any]] = []
        self.accessors: list[dict[str, Any]] = []

    def _view(self, data: bytes, target: int | None) -> int:
        while len(self.binary) % 4:
            self.binary.append(0)
        view: dict[str, Any] = {
            "buffer": 0, "byteOffset": len(self.binary), "byteLength": len(data)
        }
        if target is not None:
            view["target"] = target
        self.binary += data
        self.views.append(view)
        return len(self.views) - 1

    def _accessor(self, data: bytes, ctype: int, count: int, kind: str, target: int | None,
                  bounds: tuple[list[float], list[float]] | None = None) -> int:
        acc: dict[str, Any] = {"bufferView": self._view(data, target), "componentType": ctype,
                               "count": count, "type": kind}
        if bounds:
            acc["min"], acc["max"] = bounds
        self.accessors.append(acc)
        return len(self.accessors) - 1

    def vec3(self, values: Sequence[Vec3], bounds: bool = False) -> int:
        flat = [c for v in values for c in v]
        box = None
        if bounds:
            box = ([min(v[k] for v in values) for k in range(3)],
                   [max(v[k] for v in values) for k in range(3)])
        data = struct.pack(f"<{len(flat)}f", *flat)
        return self._accessor(data, _FLOAT, len(values), "VEC3", _ARRAY_BUFFER, box)

    def vec2(self, values: Sequence[tuple[float, float]]) -> int:
        flat = [c for v in values for c in v]
        data = struct.pack(f"<{len(flat)}f", *flat)
        return self._accessor(data, _FLOAT, len(values), "VEC2", _ARRAY_BUFFER)

    def skin_attributes(self, joints: Sequence[int]) -> tuple[int, int]:
        jdata = struct.pack(f"<{len(joints) * 4}H", *[c for j in joints for c in (j, 0, 0, 0)])
        wdata = struct.pack(f"<{len(joints) * 4}f", *[1.0, 0.0, 0.0, 0.0] * len(joints))
        return (self._accessor(jdata, _USHORT, len(joints), "VEC4", _ARRAY_BUFFER),
                self._accessor(wdata, _FLOAT, len(joints), "VEC4", _ARRAY_BUFFER))

    def indices(self, values: Sequence[int]) -> int:
        fmt = "I" if max(values) > 0xFFFF else "H"
        data = struct.pack(f"<{len(values)}{fmt}", *values)
        ctype = 5125 if fmt == "I" else _USHORT
        return self._accessor(data, ctype, len(values), "SCALAR", _ELEMENT_ARRAY_BUFFER)

    def matrices(self, mats: Sequence[Sequence[float]]) -> int:
        flat = [c for m in mats for c in m]
        return self._accessor(struct.pack(f"<{len(flat)}f", *flat), _FLOAT, len(mats), "MAT4", None)

    def glb(self, doc: dict[str, Any]) -> bytes:
        doc["buffers"] = [{"byteLength": len(self.binary)}]
        doc["bufferViews"] = self.views
        doc["accessors"] = self.accessors
        js = json.dumps(doc, separators=(",", ":")).encode("utf-8")
        js += b" " * (-len(js) % 4)
        binary = bytes(self.binary) + b"\0" * (-len(self.binary) % 4)
        total = 12 + 8 + len(js) + 8 + len(binary)
        return (struct.pack("<4sII", b"glTF", 2, total) + struct.pack("<II", len(js), 0x4E4F534A)
                + js + struct.pack("<II", len(binary), 0x004E4942) + binary)


# --- the avatar -----------------------------------------------------------------------------


@dataclass
class _Part:
    node: str
    mesh: _Mesh
    textures: dict[str, str] = field(default_factory=dict)  # slot -> image basename
    extra: dict[str, Any] = field(default_factory=dict)  # extra material fields
    targets: list[str] = field(default_factory=list)


def _safe_name(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}", name):
        raise ValueError(f"asset name {name!r} is not a plain file-name-safe identifier")
    return name


def build_sample_avatar(
    subtype: str = "female", *, profile: str = "1K.png",
    haircut: str | None = "HaircutGenerated", outfit: str | None = "LORI",
    blendshapes: Sequence[str] = ("mobile_51", "visemes_15"), texture_px: int = 64,
) -> SampleAvatar:
    """A MetaPerson-like GLB (textures referenced by relative URIs) and its static textures."""
    if subtype not in ("female", "male"):
        raise ValueError(f"unknown pipeline subtype {subtype!r} (expected 'female' or 'male')")
    res, ext = parse_profile(profile)
    female = subtype == "female"
    sub = "Female" if female else "Male"
    skeleton = _skeleton(1.0 if female else 1.045, 1.0 if female else 1.08)
    fig = _Figure(
        joint_index={name: i for i, (name, _, _) in enumerate(skeleton)},
        pos={name: p for name, _, p in skeleton},
        head_center=(0.0, 1.625 * (1.0 if female else 1.045), -0.005),
        head_radii=(0.076, 0.11, 0.092) if female else (0.08, 0.116, 0.097),
    )

    # static textures: (category, group, kind, res, style); the bytes are always PNG, the file
    # name carries the profile's extension, except colour maps with alpha (eyelashes, hair),
    # which stay .png as in real exports
    skin = (224, 176, 148) if female else (198, 150, 118)
    hair_rgb = (92, 58, 36) if female else (46, 36, 30)
    static: dict[str, bytes] = {}
    images: list[str] = []

    def texture(category: str, group: str, kind: str, r: str, style: tuple[str, Any],
                file_ext: str | None = None) -> str:
        basename = f"{group}_{kind}_{r}.{file_ext or ext}"
        path = f"{STATIC_TEXTURES_PREFIX}/{category}/{group}/{basename}"
        if path not in static:
            static[path] = _texture(style[0], style[1], texture_px)
            images.append(basename)
        return basename

    def pbr(category: str, group: str, r: str, color: tuple[str, Any], normal_kind: str,
            roughness: int, color_ext: str | None = None) -> dict[str, str]:
        return {
            "baseColor": texture(category, group, "Color", r, color, color_ext),
            "normal": texture(category, group, normal_kind, r, _NORMAL_FLAT),
            "metallicRoughness": texture(category, group, "GltfMetallicRoughness", r,
                                         _metal_rough(roughness)),
        }

    body_tex = pbr("avatar", f"AvatarBody{sub}", res, ("skin", skin), "Normal1", 170)
    head_tex = pbr("avatar", f"AvatarHead{sub}", res, ("head", skin), "Normal1", 160)
    eyes_tex = pbr("avatar", "AvatarEyes", "512", ("eye", (74, 104, 136)), "Normal", 30)
    teeth_tex = pbr("avatar", "AvatarTeeth", res, ("flat", (236, 230, 214)), "Normal1", 70)
    lashes_tex = {"baseColor": texture("avatar", "AvatarEyelashes", "Color", "512",
                                       ("lashes", (22, 16, 12)), "png")}
    blend = {"alphaMode": "BLEND"}
    cornea = {"alphaMode": "BLEND", "pbrMetallicRoughness": {"baseColorFactor": [1, 1, 1, 0],
              "metallicFactor": 0, "roughnessFactor": 0.05}}

    head_mesh = _head(fig)
    corneas = _eye_parts(fig, 0.0125, 0.0015)
    eyeballs = _eye_parts(fig, 0.012, 0.0)
    parts = [
        _Part("AvatarBody", _body(fig, female), body_tex),
        _Part("AvatarHead", head_mesh, head_tex, targets=shape_key_names(blendshapes)),
        _Part("AvatarEyelashes", _eyelashes(fig), lashes_tex, {**blend, "doubleSided": True}),
        _Part("AvatarLeftCornea", corneas["Left"], {}, cornea),
        _Part("AvatarRightCornea", corneas["Right"], {}, cornea),
        _Part("AvatarLeftEyeball", eyeballs["Left"], eyes_tex),
        _Part("AvatarRightEyeball", eyeballs["Right"], eyes_tex),
        _Part("AvatarTeethLower", _teeth(fig, upper=False), teeth_tex),
        _Part("AvatarTeethUpper", _teeth(fig, upper=True), teeth_tex),
    ]
    if haircut:
        group = _safe_name(haircut)
        tex = pbr("haircuts", group, res, ("hair", hair_rgb), "Normal", 140, "png")
        extra = {"alphaMode": "MASK", "alphaCutoff": 0.5, "doubleSided": True}
        parts.append(_Part("haircut", _haircut(fig), tex, extra))
    if outfit:
        group = _safe_name(outfit)
        tex = pbr("outfits", group, res, ("cloth", _palette(group, _CLOTH)), "Normal", 220)
        # like real outfits: a body visibility mask image that no material samples
        texture("outfits", group, "BodyVisibilityMask", res, ("flat", (255, 255, 255)))
        parts.append(_Part("outfit", _outfit(fig, female), tex, {"doubleSided": True}))
    return SampleAvatar(glb=_write_glb(skeleton, parts, images, fig), static_files=static)


def _write_glb(skeleton: list[tuple[str, int, Vec3]], parts: list[_Part], images: list[str],
               fig: _Figure) -> bytes:
    w = _GlbWriter()
    nodes: list[dict[str, Any]] = [{"name": "AvatarRoot", "children": [1]}]
    for name, parent, pos in skeleton:
        ppos = skeleton[parent][2] if parent >= 0 else (0.0, 0.0, 0.0)
        nodes.append({"name": name, "translation": [pos[k] - ppos[k] for k in range(3)]})
    for i, (_, parent, _) in enumerate(skeleton):
        if parent >= 0:
            nodes[parent + 1].setdefault("children", []).append(i + 1)
    ibm = [[1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, -p[0], -p[1], -p[2], 1] for _, _, p in skeleton]
    skins = [{"joints": list(range(1, len(skeleton) + 1)), "skeleton": 1,
              "inverseBindMatrices": w.matrices(ibm)}]
    image_index = {name: i for i, name in enumerate(images)}
    materials: list[dict[str, Any]] = []
    meshes: list[dict[str, Any]] = []
    for part in parts:
        mat: dict[str, Any] = {"name": part.node}
        pbr_block: dict[str, Any] = {"metallicFactor": 1.0, "roughnessFactor": 1.0}
        if "baseColor" in part.textures:
            pbr_block["baseColorTexture"] = {"index": image_index[part.textures["baseColor"]]}
        if "metallicRoughness" in part.textures:
            mr = image_index[part.textures["metallicRoughness"]]
            pbr_block["metallicRoughnessTexture"] = {"index": mr}
        else:
            pbr_block["metallicFactor"] = 0.0
        if "normal" in part.textures:
            mat["normalTexture"] = {"index": image_index[part.textures["normal"]]}
        mat["pbrMetallicRoughness"] = pbr_block
        for key, value in part.extra.items():
            if key == "pbrMetallicRoughness":
                pbr_block.update(value)
            else:
                mat[key] = value
        materials.append(mat)
        m = part.mesh
        attributes = {"POSITION": w.vec3(m.positions, bounds=True), "NORMAL": w.vec3(m.normals),
                      "TEXCOORD_0": w.vec2(m.uvs)}
        attributes["JOINTS_0"], attributes["WEIGHTS_0"] = w.skin_attributes(m.joints)
        prim: dict[str, Any] = {"attributes": attributes, "indices": w.indices(m.indices),
                                "material": len(materials) - 1, "name": part.node}
        mesh: dict[str, Any] = {"name": part.node, "primitives": [prim]}
        if part.targets:
            prim["targets"] = [{"POSITION": w.vec3(d, bounds=True)}
                               for d in _targets(m, part.targets, fig)]
            mesh["weights"] = [0.0] * len(part.targets)
            mesh["extras"] = {"targetNames": list(part.targets)}
        meshes.append(mesh)
        nodes.append({"name": part.node, "mesh": len(meshes) - 1, "skin": 0})
        nodes[0]["children"].append(len(nodes) - 1)
    doc: dict[str, Any] = {
        "asset": {"version": "2.0", "generator": "avatar_importer sandbox"},
        "scene": 0, "scenes": [{"nodes": [0]}], "nodes": nodes, "skins": skins,
        "meshes": meshes, "materials": materials,
        "images": [{"uri": name} for name in images],
        "samplers": [{"magFilter": 9729, "minFilter": 9987, "wrapS": 10497, "wrapT": 10497}],
        "textures": [{"sampler": 0, "source": i} for i in range(len(images))],
    }
    return w.glb(doc)


# --- other images ---------------------------------------------------------------------------


def build_thumbnail(seed: str, size: int = 64) -> bytes:
    """A PNG portrait placeholder: a head and shoulders over a background coloured by ``seed``."""
    h = zlib.crc32(seed.encode("utf-8"))
    bg = (80 + h % 120, 80 + (h >> 8) % 120, 80 + (h >> 16) % 120)
    skin, shirt = (224, 176, 148), _palette(seed, _CLOTH)

    def pixel(x: int, y: int) -> Rgba:
        u, v = (x + 0.5) / size, (y + 0.5) / size
        if ((u - 0.5) / 0.2) ** 2 + ((v - 0.4) / 0.25) ** 2 <= 1.0:
            return (*skin, 255)
        if v > 0.72 and ((u - 0.5) / 0.42) ** 2 + ((v - 1.05) / 0.35) ** 2 <= 1.0:
            return (*shirt, 255)
        return (*bg, 255)

    return png_bytes(size, size, pixel)


def _is_plain_file_name(uri: str) -> bool:
    return bool(uri) and not any(c in uri for c in "/\\:") and uri not in (".", "..")


def textures_for_glb(glb: bytes, static_prefix: str, *, texture_px: int = 64) -> dict[str, bytes]:
    """A placeholder PNG for each ``images[].uri`` of ``glb`` that is a plain relative file name,
    keyed by ``f"{static_prefix}/{uri}"``. Data URIs, paths and URLs are left out."""
    doc, _ = parse_glb(glb)
    out: dict[str, bytes] = {}
    prefix = static_prefix.rstrip("/")
    for image in doc.get("images", []):
        uri = image.get("uri")
        if not isinstance(uri, str) or not _is_plain_file_name(uri):
            continue
        lower = uri.lower()
        if "normal" in lower:
            style: tuple[str, Any] = _NORMAL_FLAT
        elif any(k in lower for k in ("metallic", "roughness", "smoothness")):
            style = _metal_rough(180)
        elif any(k in lower for k in ("mask", "alpha")):
            style = ("flat", (255, 255, 255))
        else:
            style = ("cloth", _palette(uri, _CLOTH))
        out[f"{prefix}/{uri}"] = _texture(style[0], style[1], texture_px)
    return out
