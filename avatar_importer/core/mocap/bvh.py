"""BVH motion files read in plain Python (no bpy).

Used before Blender's BVH importer runs, to refuse a bad file with a clear message before
anything is created, to learn the joint names (bone-map detection) and the frame rate, and
by the tests as an independent forward-kinematics reference (:func:`joint_positions`).
Also :func:`sniff_format`, which tells a BVH from an FBX by content, not by name.

BVH in short: ``HIERARCHY`` then nested ``ROOT``/``JOINT`` blocks (``OFFSET x y z``,
``CHANNELS n ...``, ``End Site``), then ``MOTION``, ``Frames: N``, ``Frame Time: t`` and N
lines of channel values in hierarchy order. Rotations are in degrees, applied in the order
the channels are listed (``Zrotation Xrotation Yrotation`` means R = Rz @ Rx @ Ry).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError

Vec3 = tuple[float, float, float]
Mat3 = tuple[Vec3, Vec3, Vec3]

_CHANNELS = ("Xposition", "Yposition", "Zposition", "Xrotation", "Yrotation", "Zrotation")
FBX_BINARY_MAGIC = b"Kaydara FBX Binary"
MAX_BVH_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class BvhJoint:
    name: str
    parent: int  # index in Bvh.joints, -1 for the root
    offset: Vec3
    channels: tuple[str, ...]
    end_site: Vec3 | None = None  # offset of the End Site, if the joint has one


@dataclass
class Bvh:
    joints: list[BvhJoint]
    frame_time: float
    frames: list[list[float]] = field(default_factory=list)

    @property
    def frame_count(self) -> int:
        return len(self.frames)

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time

    @property
    def names(self) -> list[str]:
        return [j.name for j in self.joints]


def sniff_format(path: Path) -> str:
    """``"bvh"`` or ``"fbx"`` from the file's first bytes; ``InputError`` naming the cause
    for anything else (missing file, empty, ASCII FBX, another format)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Animation file not found: {path}")
    with path.open("rb") as fh:
        head = fh.read(64)
    if not head.strip():
        raise InputError(f"{path.name} is empty: expected a BVH or FBX animation")
    if head.startswith(FBX_BINARY_MAGIC):
        return "fbx"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text[:9].upper() == b"HIERARCHY":
        return "bvh"
    if text.startswith(b"; FBX"):
        raise InputError(f"{path.name} is an ASCII FBX, which Blender's FBX importer cannot "
                         "read: export it as binary FBX")
    raise InputError(f"{path.name} is neither a BVH (starts with HIERARCHY) nor a binary FBX "
                     "animation")


def read_bvh(path: Path) -> Bvh:
    """Parse ``path``; ``InputError`` naming the line for a malformed file."""
    path = Path(path)
    if path.stat().st_size > MAX_BVH_BYTES:
        raise InputError(f"{path.name} is larger than {MAX_BVH_BYTES // 2**20} MB")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    try:
        return parse_bvh(text)
    except InputError as exc:
        raise InputError(f"{path.name}: {exc.message}") from None


class _Tokens:
    def __init__(self, text: str) -> None:
        self.items: list[tuple[str, int]] = []
        for number, line in enumerate(text.splitlines(), 1):
            self.items.extend((word, number) for word in line.split())
        self.pos = 0

    def next(self, what: str) -> str:
        if self.pos >= len(self.items):
            raise InputError(f"the file ends early: expected {what}")
        word = self.items[self.pos][0]
        self.pos += 1
        return word

    def line(self) -> int:
        return self.items[min(self.pos, len(self.items) - 1)][1] if self.items else 0

    def expect(self, word: str) -> None:
        got = self.next(repr(word))
        if got.upper() != word.upper():
            raise InputError(f"line {self.line()}: expected {word!r}, found {got!r}")

    def number(self, what: str) -> float:
        word = self.next(what)
        try:
            value = float(word)
        except ValueError:
            raise InputError(f"line {self.line()}: expected {what}, found {word!r}") from None
        if not math.isfinite(value):
            raise InputError(f"line {self.line()}: {what} is not a finite number")
        return value


def parse_bvh(text: str) -> Bvh:
    """The hierarchy and motion of a BVH text (``InputError`` when malformed)."""
    tokens = _Tokens(text)
    tokens.expect("HIERARCHY")
    joints: list[BvhJoint] = []
    word = tokens.next("ROOT")
    if word.upper() != "ROOT":
        raise InputError(f"line {tokens.line()}: expected ROOT, found {word!r}")
    _parse_joint(tokens, joints, -1)
    tokens.expect("MOTION")
    tokens.expect("Frames:")
    count = tokens.number("the frame count")
    tokens.expect("Frame")
    tokens.expect("Time:")
    frame_time = tokens.number("the frame time")
    if count < 1 or count != int(count):
        raise InputError(f"the frame count must be a positive whole number, not {count:g}")
    if frame_time <= 0:
        raise InputError(f"the frame time must be positive, not {frame_time:g}")
    width = sum(len(j.channels) for j in joints)
    values: list[float] = []
    for word, number in tokens.items[tokens.pos:]:
        try:
            values.append(float(word))
        except ValueError:
            raise InputError(f"line {number}: motion value {word!r} is not a number") from None
    if len(values) < int(count) * width:
        raise InputError(f"the motion has {len(values) // max(width, 1)} complete frame(s), "
                         f"the header announces {int(count)}")
    frames = [values[i * width:(i + 1) * width] for i in range(int(count))]
    return Bvh(joints=joints, frame_time=frame_time, frames=frames)


def _parse_joint(tokens: _Tokens, joints: list[BvhJoint], parent: int) -> None:
    name = tokens.next("a joint name")
    tokens.expect("{")
    tokens.expect("OFFSET")
    offset = (tokens.number("an offset"), tokens.number("an offset"), tokens.number("an offset"))
    tokens.expect("CHANNELS")
    n = tokens.number("the channel count")
    if n not in (0, 3, 6):
        raise InputError(f"line {tokens.line()}: joint {name!r} has {n:g} channels "
                         "(expected 3 or 6)")
    channels = tuple(tokens.next("a channel name") for _ in range(int(n)))
    for channel in channels:
        if channel not in _CHANNELS:
            raise InputError(f"line {tokens.line()}: unknown channel {channel!r}")
    index = len(joints)
    joints.append(BvhJoint(name, parent, offset, channels))
    end_site: Vec3 | None = None
    while True:
        word = tokens.next("'}'")
        upper = word.upper()
        if upper == "}":
            break
        if upper == "JOINT":
            _parse_joint(tokens, joints, index)
        elif upper == "END":
            tokens.expect("Site")
            tokens.expect("{")
            tokens.expect("OFFSET")
            end_site = (tokens.number("an offset"), tokens.number("an offset"),
                        tokens.number("an offset"))
            tokens.expect("}")
        else:
            raise InputError(f"line {tokens.line()}: expected JOINT, End Site or '}}', "
                             f"found {word!r}")
    if end_site is not None:
        joints[index] = BvhJoint(name, parent, offset, channels, end_site)


# --- forward kinematics (reference positions) ---------------------------------------------


def _matmul(a: Mat3, b: Mat3) -> Mat3:
    return tuple(tuple(sum(a[i][k] * b[k][j] for k in range(3)) for j in range(3))
                 for i in range(3))  # type: ignore[return-value]


def _apply(m: Mat3, v: Vec3) -> Vec3:
    return (m[0][0] * v[0] + m[0][1] * v[1] + m[0][2] * v[2],
            m[1][0] * v[0] + m[1][1] * v[1] + m[1][2] * v[2],
            m[2][0] * v[0] + m[2][1] * v[1] + m[2][2] * v[2])


def _axis_rotation(axis: str, degrees: float) -> Mat3:
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    if axis == "X":
        return ((1.0, 0.0, 0.0), (0.0, c, -s), (0.0, s, c))
    if axis == "Y":
        return ((c, 0.0, s), (0.0, 1.0, 0.0), (-s, 0.0, c))
    return ((c, -s, 0.0), (s, c, 0.0), (0.0, 0.0, 1.0))


_IDENTITY: Mat3 = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))


def joint_positions(bvh: Bvh, frame: int) -> dict[str, Vec3]:
    """World position of every joint at ``frame`` (0-based), in the file's units and axes."""
    values = bvh.frames[frame]
    cursor = 0
    world_rot: list[Mat3] = []
    world_pos: list[Vec3] = []
    out: dict[str, Vec3] = {}
    for joint in bvh.joints:
        local_pos = joint.offset
        rot = _IDENTITY
        for channel in joint.channels:
            value = values[cursor]
            cursor += 1
            if channel.endswith("position"):
                i = "XYZ".index(channel[0])
                moved = list(local_pos)
                moved[i] = value
                local_pos = (moved[0], moved[1], moved[2])
            else:
                rot = _matmul(rot, _axis_rotation(channel[0], value))
        if joint.parent < 0:
            pos = local_pos
            wrot = rot
        else:
            prot, ppos = world_rot[joint.parent], world_pos[joint.parent]
            step = _apply(prot, local_pos)
            pos = (ppos[0] + step[0], ppos[1] + step[1], ppos[2] + step[2])
            wrot = _matmul(prot, rot)
        world_rot.append(wrot)
        world_pos.append(pos)
        out[joint.name] = pos
    return out
