"""A manifest's animation columns: parsed, checked row by row, merged with the run's
``--animation``... options (pure Python, no Blender)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from mocap_samples import livelink_csv, rhubarb_tsv  # noqa: E402

from avatar_importer.core.manifest import COLUMNS, load_manifest  # noqa: E402
from avatar_importer.core.manifest_animation import (  # noqa: E402
    RowAnimation,
    defaults_from,
    same_animation,
)
from avatar_importer.core.mocap.bonemaps import Preset, save_preset  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "photos").mkdir()
    for name in ("ada", "bob", "cy", "dee"):
        (tmp_path / "photos" / f"{name}.png").write_bytes(PNG)
    (tmp_path / "anim").mkdir()
    (tmp_path / "anim" / "walk.bvh").write_text("HIERARCHY\n")
    (tmp_path / "anim" / "run.fbx").write_bytes(b"Kaydara FBX Binary  \x00")
    (tmp_path / "anim" / "take.csv").write_text(livelink_csv(seconds=1.0, fps=30))
    (tmp_path / "anim" / "line.tsv").write_text(rhubarb_tsv())
    (tmp_path / "anim" / "broken_take.csv").write_bytes(b"\x00\x01\x02binary")
    return tmp_path


def write(folder: Path, text: str, name: str = "cast.csv") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_columns_are_known_and_paths_start_at_the_manifest(folder, monkeypatch):
    assert {"animation", "face_capture", "lipsync", "bone_map_preset"} <= set(COLUMNS)
    monkeypatch.chdir(folder / "photos")  # not the manifest's folder: paths do not use cwd
    m = load_manifest(write(folder, "name,photo,animation,face_capture,lipsync,bone_map_preset\n"
                                    "Ada,photos/ada.png,anim/walk.bvh,anim/take.csv,"
                                    "anim/line.tsv,mixamo\n"
                                    "Bob,photos/bob.png,,,,\n"))
    assert m.problems == []
    ada, bob = m.rows
    anim = folder / "anim"
    assert ada.animation.animation == (anim / "walk.bvh").resolve()
    assert ada.animation.face_capture == (anim / "take.csv").resolve()
    assert ada.animation.lipsync == (anim / "line.tsv").resolve()
    assert ada.animation.bone_map_preset == "mixamo"
    assert bob.animation.empty() and bob.animation.fingerprint() == {}


def test_json_manifest_takes_the_same_keys(folder):
    m = load_manifest(write(folder, json.dumps([
        {"name": "Ada", "photo": "photos/ada.png", "animation": "anim/run.fbx"}]), "m.json"))
    assert m.problems == [] and m.rows[0].animation.animation.name == "run.fbx"


@pytest.mark.parametrize(("cells", "column", "cause"), [
    ("anim/missing.bvh,,,", "animation", "anim/missing.bvh does not exist"),
    ("anim/take.csv,,,", "animation", "expected a .bvh or .fbx file"),
    (",anim/nope.csv,,", "face_capture", "does not exist"),
    (",anim/broken_take.csv,,", "face_capture", "not a CSV file"),
    (",,anim/walk.bvh,", "lipsync", "expected a .tsv or .json file"),
    ("anim/walk.bvh,,,no_such_family", "bone_map_preset", "unknown bone-map preset"),
    ("anim/walk.bvh,,,maps/missing.json", "bone_map_preset", "not found"),
    (",,,mixamo", "bone_map_preset", "without a body animation"),
])
def test_a_bad_animation_cell_fails_its_row_alone(folder, cells, column, cause):
    m = load_manifest(write(folder, "name,photo,animation,face_capture,lipsync,bone_map_preset\n"
                                    "Ada,photos/ada.png,anim/walk.bvh,,,\n"
                                    f"Bob,photos/bob.png,{cells}\n"
                                    "Cy,photos/cy.png,,,,\n"))
    assert [r.name for r in m.rows] == ["Ada", "Cy"]
    (problem,) = m.problems
    assert (problem.row, problem.name, problem.column) == (2, "Bob", column)
    assert cause in problem.message
    assert str(problem).startswith(f"row 2 (Bob), column {column!r}: ")


def test_presets_saved_from_the_panel_and_preset_files(folder):
    presets = folder / "cache" / "bone_maps"
    save_preset(presets, Preset(name="My Rig", source_family="custom", target_family="custom",
                                map={"Hips": "Hips"}))
    (folder / "maps").mkdir()
    (folder / "maps" / "rig.json").write_text(json.dumps({"map": {"Hips": "Hips"}}))
    text = ("name,photo,animation,bone_map_preset\n"
            "Ada,photos/ada.png,anim/walk.bvh,My Rig\n"
            "Bob,photos/bob.png,anim/walk.bvh,maps/rig.json\n")
    m = load_manifest(write(folder, text), user_presets=presets)
    assert m.problems == []
    assert m.rows[0].animation.bone_map_preset == "My Rig"
    assert m.rows[1].animation.bone_map_preset == str(folder / "maps" / "rig.json")
    # without the presets folder the saved preset is unknown: that row alone fails
    m = load_manifest(write(folder, text))
    assert [p.column for p in m.problems] == ["bone_map_preset"] and len(m.rows) == 1


def test_run_options_apply_to_rows_without_their_own_and_none_opts_out(folder):
    run = folder / "run"
    run.mkdir()
    (run / "idle.bvh").write_text("HIERARCHY\n")
    (run / "hello.tsv").write_text(rhubarb_tsv())
    defaults = defaults_from(run / "idle.bvh", None, run / "hello.tsv", "bvh_cmu")
    m = load_manifest(write(folder, "name,photo,animation,lipsync,bone_map_preset\n"
                                    "Ada,photos/ada.png,anim/walk.bvh,,\n"
                                    "Bob,photos/bob.png,,,\n"
                                    "Cy,photos/cy.png,none,anim/line.tsv,\n"
                                    "Dee,photos/dee.png,NONE,none,\n"),
                      animation_defaults=defaults)
    assert m.problems == []
    ada, bob, cy, dee = (r.animation for r in m.rows)
    # Ada's own body animation, the run's lip-sync; the run's preset goes with the run's
    # animation only
    assert ada.animation.name == "walk.bvh" and ada.lipsync.name == "hello.tsv"
    assert ada.bone_map_preset == ""
    assert (bob.animation.name, bob.lipsync.name, bob.bone_map_preset) == \
        ("idle.bvh", "hello.tsv", "bvh_cmu")
    assert cy.animation is None and cy.lipsync.name == "line.tsv" and cy.bone_map_preset == ""
    assert dee.empty()


def test_fingerprint_follows_the_content_not_the_name(folder, tmp_path):
    walk = folder / "anim" / "walk.bvh"
    first = RowAnimation(animation=walk).fingerprint()
    assert first["animation"]["file"] == "walk.bvh" and len(first["animation"]["sha256"]) == 64
    copy = tmp_path / "copy.bvh"
    copy.write_bytes(walk.read_bytes())
    assert same_animation(first, RowAnimation(animation=copy).fingerprint())
    assert not same_animation(first, RowAnimation(animation=walk,
                                                  bone_map_preset="mixamo").fingerprint())
    assert not same_animation(first, {}) and same_animation(None, {})
    walk.write_text("HIERARCHY\nROOT Hips\n")  # edited in place
    assert not same_animation(first, RowAnimation(animation=walk).fingerprint())


def test_one_take_shared_by_many_rows_is_read_once(folder, monkeypatch):
    from avatar_importer.core.mocap import livelink
    calls = []
    real = livelink.read_livelink_csv
    monkeypatch.setattr(livelink, "read_livelink_csv",
                        lambda path, options=None: calls.append(path) or real(path, options))
    rows = "".join(f"R{i},photos/ada.png,anim/take.csv\n" for i in range(100))
    m = load_manifest(write(folder, "name,photo,face_capture\n" + rows))
    assert len(m.rows) == 100 and m.problems == [] and len(calls) == 1


def test_a_finished_row_is_redone_from_its_avatar_only_when_its_animation_changed(folder):
    from avatar_importer.core.manifest_animation import redo_plan
    walk = RowAnimation(animation=folder / "anim" / "walk.bvh").fingerprint()
    state = {"status": "done", "avatar_code": "abc", "export_code": "e1", "player": "p1",
             "service": "sandbox", "base_url": "http://127.0.0.1:1/", "animation": walk}
    where = {"service": "sandbox", "base_url": "http://127.0.0.1:1/"}
    assert redo_plan(state, walk, **where) == (None, "")  # unchanged: skipped
    assert redo_plan({**state, "animation": None}, {}, **where) == (None, "")  # an old row
    plan, why = redo_plan(state, {}, **where)  # the animation was taken away
    assert plan is not None and why == ""
    assert (plan.action, plan.avatar_code, plan.export_code, plan.player) == \
        ("import", "abc", "e1", "p1")
    assert "animation=walk.bvh -> none" in plan.why
    plan, why = redo_plan({**state, "animation": {}}, walk, **where)
    assert plan is not None and "none -> animation=walk.bvh" in plan.why
    # never a second creation: without the recorded avatar (or on another service) the
    # row is left as it is, and the reason says so
    for changed in ({"avatar_code": ""}, {"service": "avatarsdk"},
                    {"base_url": "http://127.0.0.1:2/"}):
        plan, why = redo_plan({**state, **changed}, {}, **where)
        assert plan is None and "not redone" in why
