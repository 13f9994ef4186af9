"""Live Link Face CSV parsing and ARKit name matching (pure Python, no Blender)."""

from __future__ import annotations

import csv
import io
import math
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from mocap_samples import ARKIT_PASCAL, angle_value, livelink_csv  # noqa: E402

from avatar_importer.core.errors import InputError  # noqa: E402
from avatar_importer.core.mocap import livelink  # noqa: E402
from avatar_importer.core.mocap.arkit import (  # noqa: E402
    ARKIT_52,
    canonical_name,
    match_shape_keys,
)
from avatar_importer.core.mocap.livelink import (  # noqa: E402
    ChannelSettings,
    FaceOptions,
    parse_livelink_csv,
)


def test_take_channels_rate_and_values_match_the_file() -> None:
    text = livelink_csv(seconds=2.0, fps=60)
    take = parse_livelink_csv(text.encode(), source="take.csv")
    assert take.fps == 60 and take.timecode_rate == 60
    assert take.duration == pytest.approx(2.0, abs=1e-6)
    assert list(take.shapes) == list(ARKIT_52)  # camelCase, Live Link Face's order
    assert len(take.rotations) == 9 and take.angle_unit == "radians"
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(take.times) == len(rows) == 121
    for i in (0, 17, 120):
        assert take.shapes["jawOpen"][i] == float(rows[i]["JawOpen"])
        assert take.rotations["HeadYaw"][i] == float(rows[i]["HeadYaw"])
        assert take.times[i] == pytest.approx(i / 60, abs=1e-6)
    assert take.start_timecode == rows[0]["Timecode"]


@pytest.mark.parametrize(("fps", "expected"), [(30, 30), (25, 25), (24, 24), (50, 50)])
def test_frame_rate_comes_from_the_timecodes(fps: int, expected: int) -> None:
    take = parse_livelink_csv(livelink_csv(seconds=2.0, fps=fps).encode())
    assert take.timecode_rate == expected and take.fps == expected
    assert take.duration == pytest.approx(2.0, abs=1e-6)


def test_sixty_fps_capture_with_thirty_fps_timecode_subframes() -> None:
    """Rows at 60 fps stamped with a 30 fps timecode: FF.500 are the half frames."""
    lines = ["Timecode,BlendShapeCount,JawOpen"]
    for i in range(90):
        frame, half = divmod(i, 2)
        s, f = divmod(frame + 25, 30)
        lines.append(f"10:00:{s:02d}:{f:02d}.{500 if half else 0:03d},1,{i / 100}")
    take = parse_livelink_csv("\n".join(lines).encode())
    assert take.timecode_rate == 30 and take.fps == 60
    assert take.times[3] == pytest.approx(3 / 60, abs=1e-6)


def test_degrees_are_detected_and_converted() -> None:
    text = "Timecode,BlendShapeCount,JawOpen,HeadYaw\n" + "".join(
        f"00:00:00:{i:02d}.000,2,0.1,{10.0 * i}\n" for i in range(30))
    take = parse_livelink_csv(text.encode())
    assert take.angle_unit == "degrees"
    assert take.rotations["HeadYaw"][3] == pytest.approx(math.radians(30))


def test_gain_smoothing_and_clamping_per_channel() -> None:
    take = parse_livelink_csv(livelink_csv(seconds=1.0, fps=30).encode())
    options = FaceOptions(channels={"JawOpen": ChannelSettings(gain=0.5),
                                    "headyaw": ChannelSettings(gain=-1.0, smoothing=5),
                                    "mouthClose": ChannelSettings(gain=3.0)})
    jaw = livelink.processed(take, "jawOpen", options)
    assert jaw == pytest.approx([v * 0.5 for v in take.shapes["jawOpen"]])
    assert max(livelink.processed(take, "mouthClose", options)) == 1.0  # clamped to 0..1
    yaw = livelink.processed(take, "HeadYaw", options)
    raw = take.rotations["HeadYaw"]
    assert yaw[10] == pytest.approx(-sum(raw[8:13]) / 5)
    assert yaw[0] == pytest.approx(-sum(raw[0:3]) / 3)  # the window shrinks at the ends
    assert livelink.processed(take, "eyeBlinkLeft", options) == list(take.shapes["eyeBlinkLeft"])


def test_resampling_to_another_rate() -> None:
    take = parse_livelink_csv(livelink_csv(seconds=1.0, fps=60).encode())
    values = livelink.resample(take.times, take.rotations["HeadYaw"], 24)
    assert len(values) == 25
    for i in (0, 5, 24):
        assert values[i] == pytest.approx(angle_value("HeadYaw", i / 24), abs=2e-3)


def test_arkit_names_match_case_and_suffix_insensitively() -> None:
    assert canonical_name("EyeBlinkLeft") == "eyeBlinkLeft"
    assert canonical_name("eyeBlink_L") == "eyeBlinkLeft"
    assert canonical_name("blendShape1.JAWOPEN") == "jawOpen"
    assert canonical_name("HeadYaw") is None
    keys = ["Basis", "EYEBLINKLEFT", "browInnerUp_L", "browInnerUp_R", "mouthClosed"]
    assert match_shape_keys("EyeBlinkLeft", keys) == ["EYEBLINKLEFT"]
    assert match_shape_keys("BrowInnerUp", keys) == ["browInnerUp_L", "browInnerUp_R"]
    assert match_shape_keys("MouthClose", keys) == ["mouthClosed"]  # alias table
    assert match_shape_keys("TongueOut", keys) == []
    assert len({canonical_name(n) for n in ARKIT_PASCAL}) == 52


def test_csv_without_arkit_columns_is_refused_clearly() -> None:
    with pytest.raises(InputError, match=r"notes\.csv has no ARKit columns.*found name, age"):
        parse_livelink_csv(b"name,age\nada,36\n", source="notes.csv")


@pytest.mark.parametrize(("data", "cause"), [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a CSV file"),
    (b"\xff\xfe\xfa garbage", "not a CSV file"),
    (b"", "is empty"),
    (b"Timecode,BlendShapeCount,JawOpen\n", "no frames"),
    (b"Timecode,BlendShapeCount,JawOpen\n00:00:00:01.000,1,0.5\n0:0:1,1,0.2\n", "line 3"),
    (b"Timecode,BlendShapeCount,JawOpen\n00:00:00:01.000,1,high\n", "not a number"),
    (b"BlendShapeCount,JawOpen\n1,0.5\n", "no Timecode column"),
])
def test_malformed_files_name_the_cause(data: bytes, cause: str) -> None:
    with pytest.raises(InputError, match=cause):
        parse_livelink_csv(data, source="take.csv")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        livelink.read_livelink_csv(tmp_path / "nope.csv")


def test_file_is_read_streaming_with_the_same_result(tmp_path: Path) -> None:
    text = livelink_csv(seconds=1.0, fps=30)
    path = tmp_path / "take.csv"
    path.write_text(text)
    from_file = livelink.read_livelink_csv(path)
    from_bytes = parse_livelink_csv(text.encode(), source="take.csv")
    assert from_file.times == from_bytes.times and from_file.shapes == from_bytes.shapes
    path.write_bytes(b"Timecode,JawOpen\n00:00:00:01.000,\xff\xfe\n")
    with pytest.raises(InputError, match="not UTF-8"):
        livelink.read_livelink_csv(path)


def test_a_take_too_long_to_apply_is_refused_before_anything() -> None:
    lines = ["Timecode,BlendShapeCount,JawOpen", "00:00:00:00.000,1,0.1",
             "00:31:00:00.000,1,0.2"]
    with pytest.raises(InputError, match=r"lasts 31\.0 min: at most 30 min"):
        parse_livelink_csv("\n".join(lines).encode(), source="long.csv")
