"""Live Link Face CSV takes: parsing, timing, per-channel gain and smoothing, resampling.

The file Epic's Live Link Face app records has one header line and one line per captured
frame::

    Timecode,BlendShapeCount,EyeBlinkLeft,EyeLookDownLeft,...,TongueOut,HeadYaw,HeadPitch,
    HeadRoll,LeftEyeYaw,LeftEyePitch,LeftEyeRoll,RightEyeYaw,RightEyePitch,RightEyeRoll
    14:03:52:28.207,61,0.0123,0.0,...

``Timecode`` is ``HH:MM:SS:FF.sss``: ``FF`` counts frames at the timecode rate (the app's
frame rate, 60 or 30) and ``.sss`` is a fraction of a frame. The rate is not written
anywhere, so it is derived: the smallest standard rate (24, 25, 30, 48, 50, 60, 100, 120)
above the largest ``FF`` seen. A take shorter than one second with few frames may not
show its rate; pass ``timecode_rate`` then. The capture rate (rows per second) is the
median spacing of the rows' times, snapped to a standard rate within 2 %.

Parsing streams the file (8 bytes kept per value: a 60 fps hour, 13 M values, is about
100 MB); a take longer than :data:`MAX_SECONDS` is refused with the reason.

The 52 blend-shape columns are 0..1 weights. The nine rotation columns are radians
(degrees are detected when a value exceeds pi, or set with ``angle_unit``).

Gain and smoothing are per channel (:class:`ChannelSettings`): smoothing is a centred
moving average over ``smoothing`` captured frames (0 or 1: none), applied first; then the
value is multiplied by the gain; blend-shape weights are then clamped to 0..1.
"""

from __future__ import annotations

import bisect
import csv
import io
import itertools
import math
import re
import statistics
from array import array
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from .arkit import ARKIT_52, arkit_columns

ROTATION_COLUMNS: tuple[str, ...] = (
    "HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll",
    "RightEyeYaw", "RightEyePitch", "RightEyeRoll",
)
STANDARD_RATES: tuple[int, ...] = (24, 25, 30, 48, 50, 60, 100, 120)
MAX_BYTES = 200 * 1024 * 1024  # a 60 fps hour is about 150 MB
#: longest take applied at once: 30 min at 30 fps is 54,000 keys per channel (about
#: 3.5 M keys for the 52 shapes and 3 bones, ~250 MB in Blender)
MAX_SECONDS = 30 * 60
_TIMECODE = re.compile(r"^\s*(\d{1,2}):(\d{2}):(\d{2})[:;](\d{1,3})(?:\.(\d+))?\s*$")
_NOT_A_CHANNEL = {"timecode", "blendshapecount"}


@dataclass(frozen=True)
class ChannelSettings:
    gain: float = 1.0
    smoothing: int = 0  # moving-average window, captured frames; 0/1 = none


@dataclass
class FaceOptions:
    """How a take is turned into animation. Channel names are matched case-insensitively
    (``jawOpen``, ``JawOpen``, ``HeadYaw``); ``default`` covers every other channel."""

    default: ChannelSettings = field(default_factory=ChannelSettings)
    channels: dict[str, ChannelSettings] = field(default_factory=dict)
    angle_unit: str = "auto"  # auto | radians | degrees
    timecode_rate: int | None = None

    def settings(self, channel: str) -> ChannelSettings:
        wanted = channel.lower()
        for name, value in self.channels.items():
            if name.lower() == wanted:
                return value
        return self.default


@dataclass
class FaceTake:
    """One take: row times (seconds from the first row) and values per channel."""

    source: str
    times: Sequence[float]
    shapes: dict[str, Sequence[float]]  # ARKit name (camelCase) -> weights
    rotations: dict[str, Sequence[float]]  # HeadYaw ... RightEyeRoll -> radians
    timecode_rate: int
    fps: float  # capture rate
    start_timecode: str
    ignored_columns: list[str] = field(default_factory=list)
    angle_unit: str = "radians"  # what the file held

    @property
    def duration(self) -> float:
        return self.times[-1] if self.times else 0.0

    def channel_names(self) -> list[str]:
        return [*self.shapes, *self.rotations]


def _decode(data: bytes, source: str) -> str:
    if b"\x00" in data[:4096]:
        raise InputError(f"{source} is not a CSV file (it is binary)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{source} is not a CSV file (not UTF-8 text)") from None


def read_livelink_csv(path: Path, options: FaceOptions | None = None) -> FaceTake:
    """Parse the Live Link Face CSV at ``path``, streaming (memory: 8 bytes per value).
    InputError (naming the file and the cause) when it is missing, not a CSV, has no ARKit
    columns or has a malformed line."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Face capture {path} does not exist or is not a file")
    if path.stat().st_size > MAX_BYTES:
        raise InputError(f"Face capture {path.name} is larger than {MAX_BYTES >> 20} MB")
    with path.open("rb") as fh:
        if b"\x00" in fh.read(4096):
            raise InputError(f"{path.name} is not a CSV file (it is binary)")
    try:
        with path.open(encoding="utf-8-sig", newline="") as text:
            return _parse_rows(csv.reader(text), path.name, options or FaceOptions())
    except UnicodeDecodeError:
        raise InputError(f"{path.name} is not a CSV file (not UTF-8 text)") from None


def parse_livelink_csv(data: bytes, *, source: str = "face capture",
                       options: FaceOptions | None = None) -> FaceTake:
    """Parse Live Link Face CSV bytes (see :func:`read_livelink_csv`)."""
    text = _decode(data, source)
    return _parse_rows(csv.reader(io.StringIO(text, newline="")), source,
                       options or FaceOptions())


def _parse_rows(reader: Iterator[list[str]], source: str, options: FaceOptions) -> FaceTake:
    rows = (r for r in reader if any(c.strip() for c in r))
    first_row = next(rows, None)
    if first_row is None:
        raise InputError(f"{source} is empty")
    header = [c.strip() for c in first_row]
    shape_cols = arkit_columns(header)
    lowered = [c.lower() for c in header]
    rot_cols = {name: lowered.index(name.lower()) for name in ROTATION_COLUMNS
                if name.lower() in lowered}
    if not shape_cols:
        raise InputError(
            f"{source} has no ARKit columns: expected a Live Link Face CSV "
            f"(Timecode, BlendShapeCount, EyeBlinkLeft ... TongueOut, HeadYaw ...), "
            f"found {', '.join(header[:6]) or 'nothing'}{' ...' if len(header) > 6 else ''}")
    if "timecode" not in lowered:
        raise InputError(f"{source} has no Timecode column: the frame rate cannot be known")
    tc_col = lowered.index("timecode")
    used = {tc_col, *shape_cols.values(), *rot_cols.values()}
    ignored = [c for i, c in enumerate(header) if i not in used and c.lower() not in
               _NOT_A_CHANNEL]

    seconds = array("d")  # HH:MM:SS of each row, in seconds
    frames = array("d")  # FF.sss of each row, in timecode frames
    width = len(header)
    columns = sorted(used - {tc_col})
    values = [array("d") for _ in columns]
    first = ""
    for line, row in enumerate(rows, start=2):
        if len(row) < width:
            raise InputError(f"{source} line {line}: {len(row)} values, the header has "
                             f"{width}")
        match = _TIMECODE.match(row[tc_col])
        if not match:
            raise InputError(f"{source} line {line}: timecode {row[tc_col]!r} is not "
                             "HH:MM:SS:FF.sss")
        first = first or row[tc_col].strip()
        h, m, s, f = (int(match.group(i)) for i in range(1, 5))
        seconds.append(h * 3600 + m * 60 + s)
        frames.append(f + (float("0." + match.group(5)) if match.group(5) else 0.0))
        try:
            for store, col in zip(values, columns, strict=True):
                store.append(float(row[col]))
        except ValueError:
            raise InputError(f"{source} line {line}: a value is not a number") from None
    if not seconds:
        raise InputError(f"{source} has a header but no frames")
    rate = options.timecode_rate or _timecode_rate(int(max(frames)))
    order, times = _monotonic([sec + ff / rate for sec, ff in zip(seconds, frames,
                                                                  strict=True)])
    if times[-1] > MAX_SECONDS:
        raise InputError(f"{source} lasts {times[-1] / 60:.1f} min: at most "
                         f"{MAX_SECONDS // 60} min can be applied at once (split the take)")
    identity = order == list(range(len(seconds)))
    by_col: dict[int, Sequence[float]] = {
        col: store if identity else array("d", [store[i] for i in order])
        for col, store in zip(columns, values, strict=True)}
    shapes = {name: by_col[col] for name, col in sorted(shape_cols.items(),
                                                         key=lambda kv: kv[1])}
    rotations = {name: by_col[col] for name, col in rot_cols.items()}
    unit = _angle_unit(rotations, options.angle_unit)
    if unit == "degrees":
        rotations = {k: array("d", [math.radians(v) for v in vals])
                     for k, vals in rotations.items()}
    return FaceTake(source=source, times=times, shapes=shapes, rotations=rotations,
                    timecode_rate=rate, fps=_capture_rate(times, rate),
                    start_timecode=first, ignored_columns=ignored, angle_unit=unit)


def _timecode_rate(highest: int) -> int:
    """The smallest standard rate whose frame numbers reach ``highest``."""
    for rate in STANDARD_RATES:
        if highest < rate:
            return rate
    return highest + 1


def _monotonic(times: list[float]) -> tuple[list[int], list[float]]:
    """Rows ordered by time, relative to the first; a take crossing midnight is unwrapped;
    rows repeating a time keep the last one."""
    unwrapped = list(times)
    offset = 0.0
    for i in range(1, len(unwrapped)):
        if times[i] + offset < unwrapped[i - 1] - 43200:
            offset += 86400.0
        unwrapped[i] = times[i] + offset
    order = sorted(range(len(unwrapped)), key=lambda i: (unwrapped[i], i))
    kept: list[int] = []
    for i in order:
        if kept and unwrapped[kept[-1]] == unwrapped[i]:
            kept[-1] = i
        else:
            kept.append(i)
    t0 = unwrapped[kept[0]]
    return kept, [unwrapped[i] - t0 for i in kept]


def _capture_rate(times: Sequence[float], timecode_rate: int) -> float:
    steps = [b - a for a, b in itertools.pairwise(times) if b > a]
    if not steps:
        return float(timecode_rate)
    fps = 1.0 / statistics.median(steps)
    for rate in (*STANDARD_RATES, 29.97, 59.94, 23.976):
        if abs(fps - rate) <= 0.02 * rate:
            return float(rate)
    return fps


def _angle_unit(rotations: Mapping[str, Sequence[float]], wanted: str) -> str:
    if wanted in ("radians", "degrees"):
        return wanted
    if wanted != "auto":
        raise InputError(f"angle unit {wanted!r}: expected auto, radians or degrees")
    biggest = max((abs(v) for vals in rotations.values() for v in vals), default=0.0)
    return "degrees" if biggest > math.pi else "radians"


# --- turning a take into per-frame values -------------------------------------------------


def smooth(values: Sequence[float], window: int) -> list[float]:
    """Centred moving average over ``window`` samples (shrinking at the ends)."""
    if window <= 1 or len(values) < 2:
        return list(values)
    half = window // 2
    prefix = [0.0]
    for v in values:
        prefix.append(prefix[-1] + v)
    out = []
    n = len(values)
    for i in range(n):
        lo, hi = max(0, i - half), min(n, i + half + 1)
        out.append((prefix[hi] - prefix[lo]) / (hi - lo))
    return out


def processed(take: FaceTake, channel: str, options: FaceOptions) -> list[float]:
    """The channel's values after smoothing and gain (weights clamped to 0..1)."""
    settings = options.settings(channel)
    if channel in take.shapes:
        raw = take.shapes[channel]
        return [min(1.0, max(0.0, v * settings.gain)) for v in smooth(raw, settings.smoothing)]
    raw = take.rotations[channel]
    return [v * settings.gain for v in smooth(raw, settings.smoothing)]


def sample(times: Sequence[float], values: Sequence[float], t: float) -> float:
    """Linear interpolation of (times, values) at ``t`` (held at the ends)."""
    if t <= times[0]:
        return values[0]
    if t >= times[-1]:
        return values[-1]
    hi = bisect.bisect_right(times, t)
    lo = hi - 1
    span = times[hi] - times[lo]
    a = (t - times[lo]) / span if span > 0 else 0.0
    return values[lo] + (values[hi] - values[lo]) * a


def frame_count(duration: float, fps: float) -> int:
    """Number of frames at ``fps`` covering ``duration`` seconds (first and last included)."""
    return math.floor(duration * fps + 1e-6) + 1


def resample(times: Sequence[float], values: Sequence[float], fps: float) -> list[float]:
    """The values at frames 0, 1, ... of a ``fps`` timeline covering the take."""
    count = frame_count(times[-1] if times else 0.0, fps)
    return [sample(times, values, i / fps) for i in range(count)]


def unmatched_shapes(take: FaceTake, matched: Sequence[str]) -> list[str]:
    """The take's ARKit channels in ``ARKIT_52`` order that are not in ``matched``."""
    have = set(matched)
    return [n for n in ARKIT_52 if n in take.shapes and n not in have]
