"""Morph targets (shape keys) of the sample heads: the ARKit and viseme names and the vertex
deltas each target moves."""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence

from .geometry import Mesh, Vec3, normalize
from .skeleton import Figure

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


def target_deltas(head: Mesh, names: Sequence[str], fig: Figure) -> list[list[Vec3]]:
    cx, cy, cz = fig.head_center
    rx, ry, rz = fig.head_radii
    out: list[list[Vec3]] = []
    for name in names:
        dx, dy, direction = _target_anchor(name)
        inside = max(0.0, 1.0 - (dx / rx) ** 2 - (dy / ry) ** 2)
        anchor = (cx + dx, cy + dy, cz + rz * math.sqrt(inside))
        amount = 0.004 + (zlib.crc32(name.encode()) % 7) * 0.001
        unit = normalize(direction)
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
