"""Rhubarb Lip Sync cues and the cue -> viseme table (pure Python, no Blender)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from mocap_samples import CUES, CUES_END, rhubarb_json, rhubarb_tsv  # noqa: E402

from avatar_importer.core.errors import InputError  # noqa: E402
from avatar_importer.core.mocap import rhubarb  # noqa: E402
from avatar_importer.core.mocap.summary import summary_lines  # noqa: E402


@pytest.mark.parametrize("kind", ["tsv", "json"])
def test_both_formats_give_the_same_cues(kind: str) -> None:
    text = rhubarb_tsv() if kind == "tsv" else rhubarb_json()
    cues = rhubarb.parse_cues(text.encode(), source=f"line.{kind}")
    assert [(c.start, c.shape) for c in cues] == CUES
    assert cues[1].end == pytest.approx(CUES[2][0])
    if kind == "json":
        assert cues[-1].end == pytest.approx(CUES_END)


def test_weights_switch_at_cue_starts() -> None:
    cues = rhubarb.parse_cues(rhubarb_tsv().encode())
    table = rhubarb.VISEME_MAPS["visemes_15"]
    assert rhubarb.weights_at(cues, table, 0.249)["sil"] == 1.0
    at = rhubarb.weights_at(cues, table, 0.25)
    assert at["PP"] == 1.0 and at["sil"] == 0.0 and sum(at.values()) == 1.0
    assert rhubarb.weights_at(cues, table, 0.5)["aa"] == 1.0


def test_tables_use_only_each_sets_own_names() -> None:
    for name, table in rhubarb.VISEME_MAPS.items():
        assert set(table) == set(rhubarb.SHAPES)
        assert set(rhubarb.viseme_keys(table)) <= set(rhubarb.VISEME_SETS[name])
        assert rhubarb.check_viseme_map(table) == table


def test_viseme_set_detection() -> None:
    assert rhubarb.detect_viseme_set(["Basis", "aa", "PP", "sil", "jawOpen"]) == \
        ("visemes_15", 3)
    assert rhubarb.detect_viseme_set(["viseme_aa", "viseme_PP"])[0] == "oculus"
    assert rhubarb.detect_viseme_set(["jawOpen"]) == (None, 0)


def test_user_table_is_validated(tmp_path: Path) -> None:
    path = tmp_path / "map.json"
    table = {s: {"aa": 0.5} for s in rhubarb.SHAPES}
    path.write_text(json.dumps(table))
    assert rhubarb.load_viseme_map(path)["D"] == {"aa": 0.5}
    del table["X"]
    path.write_text(json.dumps(table))
    with pytest.raises(InputError, match=r"no entry for mouth shape.*X"):
        rhubarb.load_viseme_map(path)
    path.write_text("{not json")
    with pytest.raises(InputError, match="not a JSON file"):
        rhubarb.load_viseme_map(path)


@pytest.mark.parametrize(("data", "cause"), [
    (b"\x89PNG\r\n\x1a\n\x00\x00", "not Rhubarb Lip Sync output"),
    (b"", "empty"),
    (b"0.00\tQ\n", "mouth shape 'Q'"),
    (b"zero\tA\n", "not a number"),
    (b"0.00 A extra\n", "line 1"),
    (b'{"metadata": {}}', "no 'mouthCues'"),
    (b'{"mouthCues": [{"start": 0, "end": 1, "value": "Z"}]}', r"mouthCues\[0\]"),
    (b'{"mouthCues": []}', "no mouth cues"),
    (b"{oops", "not valid JSON"),
    (b"Timecode,BlendShapeCount,JawOpen\n", "line 1"),
])
def test_bad_files_name_the_cause(data: bytes, cause: str) -> None:
    with pytest.raises(InputError, match=cause):
        rhubarb.parse_cues(data, source="line.tsv")


def test_summary_fits_a_sidebar() -> None:
    report = {
        "face": {"frames": 49, "frame_start": 1, "frame_end": 49,
                 "shape_keys_driven": ["a"] * 51, "bones": {"Head": []},
                 "channels_unmapped": ["tongueOut"], "bones_missing": []},
        "lipsync": {"cues": 10, "visemes_mapped": ["aa"] * 10,
                    "visemes_unmapped": ["x1", "x2", "x3", "x4", "x5"]},
    }
    lines = summary_lines(report)
    assert lines == ["Face: 51 keys, 1 bones, 1-49", "Lip-sync: 10 cues, 10 visemes",
                     "No shape key: tongueOut", "No viseme: x1, x2, x3 +2"]
    assert all(len(line) <= 30 for line in lines)
