"""Test data for face capture and lip-sync, generated here (nothing downloaded).

``livelink_csv``: a Live Link Face take in the app's layout (``Timecode,BlendShapeCount,``
the 52 ARKit shapes in PascalCase, then the 9 head and eye angles in radians), each
channel a slow sine of its own phase, rows at ``fps`` with ``HH:MM:SS:FF.sss`` timecodes.
``rhubarb_tsv`` / ``rhubarb_json``: Rhubarb Lip Sync output for :data:`CUES`.
"""

from __future__ import annotations

import json
import math

ARKIT_PASCAL: tuple[str, ...] = (
    "EyeBlinkLeft", "EyeLookDownLeft", "EyeLookInLeft", "EyeLookOutLeft", "EyeLookUpLeft",
    "EyeSquintLeft", "EyeWideLeft", "EyeBlinkRight", "EyeLookDownRight", "EyeLookInRight",
    "EyeLookOutRight", "EyeLookUpRight", "EyeSquintRight", "EyeWideRight", "JawForward",
    "JawRight", "JawLeft", "JawOpen", "MouthClose", "MouthFunnel", "MouthPucker", "MouthRight",
    "MouthLeft", "MouthSmileLeft", "MouthSmileRight", "MouthFrownLeft", "MouthFrownRight",
    "MouthDimpleLeft", "MouthDimpleRight", "MouthStretchLeft", "MouthStretchRight",
    "MouthRollLower", "MouthRollUpper", "MouthShrugLower", "MouthShrugUpper", "MouthPressLeft",
    "MouthPressRight", "MouthLowerDownLeft", "MouthLowerDownRight", "MouthUpperUpLeft",
    "MouthUpperUpRight", "BrowDownLeft", "BrowDownRight", "BrowInnerUp", "BrowOuterUpLeft",
    "BrowOuterUpRight", "CheekPuff", "CheekSquintLeft", "CheekSquintRight", "NoseSneerLeft",
    "NoseSneerRight", "TongueOut",
)
ANGLES: tuple[str, ...] = (
    "HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll",
    "RightEyeYaw", "RightEyePitch", "RightEyeRoll",
)
#: amplitude (radians) and frequency (Hz) of each angle
ANGLE_WAVES: dict[str, tuple[float, float]] = {
    "HeadYaw": (0.4, 0.5), "HeadPitch": (0.25, 0.7), "HeadRoll": (0.15, 0.9),
    "LeftEyeYaw": (0.2, 1.1), "LeftEyePitch": (0.1, 1.3), "LeftEyeRoll": (0.0, 1.0),
    "RightEyeYaw": (0.2, 1.1), "RightEyePitch": (0.1, 1.3), "RightEyeRoll": (0.0, 1.0),
}
CUES: list[tuple[float, str]] = [
    (0.0, "X"), (0.25, "A"), (0.4, "D"), (0.65, "B"), (0.9, "F"), (1.1, "C"), (1.3, "G"),
    (1.45, "H"), (1.6, "E"), (1.8, "X"),
]
CUES_END = 2.0


def shape_value(index: int, t: float) -> float:
    return 0.5 + 0.45 * math.sin(2 * math.pi * (0.3 + 0.07 * index) * t + index)


def angle_value(name: str, t: float) -> float:
    amp, freq = ANGLE_WAVES[name]
    return amp * math.sin(2 * math.pi * freq * t)


def timecode(frame: int, fps: int) -> str:
    """``HH:MM:SS:FF.000`` of frame number ``frame`` (counted from midnight) at ``fps``."""
    seconds, ff = divmod(frame, fps)
    h, m, s = seconds // 3600, seconds // 60 % 60, seconds % 60
    return f"{h:02d}:{m:02d}:{s:02d}:{ff:02d}.000"


def livelink_csv(seconds: float = 2.0, fps: int = 60, *, start: str = "14:03:52",
                 start_frame: int = 28, shapes: tuple[str, ...] = ARKIT_PASCAL,
                 angles: tuple[str, ...] = ANGLES) -> str:
    """The CSV text of a take lasting ``seconds`` at ``fps``, from ``start:start_frame``."""
    h, m, s = (int(x) for x in start.split(":"))
    begin = (h * 3600 + m * 60 + s) * fps + start_frame % fps
    header = ["Timecode", "BlendShapeCount", *shapes, *angles]
    lines = [",".join(header)]
    for i in range(round(seconds * fps) + 1):
        t = i / fps
        row = [timecode(begin + i, fps), str(len(shapes) + len(angles))]
        row += [f"{shape_value(ARKIT_PASCAL.index(n), t):.6f}" for n in shapes]
        row += [f"{angle_value(n, t):.6f}" for n in angles]
        lines.append(",".join(row))
    return "\n".join(lines) + "\n"


def rhubarb_tsv(cues: list[tuple[float, str]] = CUES) -> str:
    return "".join(f"{start:.2f}\t{shape}\n" for start, shape in cues)


def rhubarb_json(cues: list[tuple[float, str]] = CUES, end: float = CUES_END) -> str:
    items = []
    for i, (start, shape) in enumerate(cues):
        stop = cues[i + 1][0] if i + 1 < len(cues) else end
        items.append({"start": round(start, 2), "end": round(stop, 2), "value": shape})
    body = {"metadata": {"soundFile": "line.wav", "duration": end}, "mouthCues": items}
    return json.dumps(body, indent=2)
