"""Studio mode with animation: a manifest's ``animation`` column (and the run's
``--animation``) retargeted onto each row's avatar before its asset is saved; the batch
script run as a user runs it (separate processes) against the sandbox on loopback."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import bpy
import pytest

HERE = Path(__file__).resolve().parent
for folder in (HERE, HERE.parent):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from animation_data import FRAMES, mixamo_bvh, unknown_bvh  # noqa: E402
from mocap_samples import rhubarb_tsv  # noqa: E402
from test_manifest_library import batch, common, creations  # noqa: E402

from avatar_importer.blender import compat  # noqa: E402
from avatar_importer.sandbox.assets import build_thumbnail  # noqa: E402
from avatar_importer.sandbox.server import Sandbox, SandboxConfig  # noqa: E402


@pytest.fixture
def sandbox():
    sb = Sandbox(SandboxConfig(compute_seconds=1.0, export_seconds=0.1)).start()
    yield sb
    sb.stop()


def asset_animation(blend: Path) -> dict:
    """The asset file, opened on its own: its armature's action and bones keyed."""
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    (armature,) = [o for o in bpy.data.objects if o.type == "ARMATURE"]
    action = compat.id_action(armature)
    keyed = set()
    keys = 0
    if action is not None:
        for fc in compat.action_fcurves(action):
            if fc.data_path.startswith('pose.bones["') and len(fc.keyframe_points) > 1:
                keyed.add(fc.data_path.split('"')[1])
                keys = max(keys, len(fc.keyframe_points))
    shape_keyed = sorted({fc.data_path.split('"')[1] for o in bpy.data.objects
                          if o.type == "MESH" and o.data.shape_keys is not None
                          for fc in compat.id_fcurves(o.data.shape_keys)
                          if fc.data_path.startswith("key_blocks[")})
    return {"action": action.name if action else None, "bones": keyed, "keys": keys,
            "actions": [a.name for a in bpy.data.actions], "shape_keyed": shape_keyed,
            "bone_names": {b.name for b in armature.pose.bones}}


def test_manifest_rows_animated_before_their_assets_are_saved(tmp_path, sandbox):
    photos, anim = tmp_path / "photos", tmp_path / "anim"
    photos.mkdir()
    anim.mkdir()
    for name in ("ada", "bob", "cy", "dee", "eve"):
        (photos / f"{name}.png").write_bytes(build_thumbnail(name, 40))
    mixamo_bvh(anim / "walk.bvh")
    unknown_bvh(anim / "blob.bvh")  # a skeleton no bone map fits: fails when applied
    (anim / "line.tsv").write_text(rhubarb_tsv())
    manifest = tmp_path / "cast.csv"
    manifest.write_text("name,photo,animation,lipsync\n"
                        "Ada,photos/ada.png,anim/walk.bvh,\n"
                        "Bob,photos/bob.png,,\n"
                        "Cy,photos/cy.png,anim/missing.bvh,\n"
                        "Dee,photos/dee.png,anim/blob.bvh,\n"
                        "Eve,photos/eve.png,,anim/line.tsv\n")
    lib = tmp_path / "lib"
    run = [*common(sandbox, tmp_path), "--manifest", str(manifest), "--library", str(lib)]
    proc = batch(*run, "--report", str(tmp_path / "r.json"), cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    # the missing file: that row alone, named with its column, before any creation
    assert "row 3 (Cy), column 'animation': anim/missing.bvh does not exist" in proc.stderr
    # the animation that cannot be applied: its row fails, no asset is left behind
    assert "row 4 (Dee): animation failed (animation=blob.bvh)" in proc.stderr
    assert sorted(p.name for p in lib.glob("*.blend")) == ["Ada.blend", "Bob.blend",
                                                           "Eve.blend"]
    assert not list(lib.glob("*.partial*")) and not list(lib.glob("Dee*"))
    assert creations(sandbox) == 4, "Cy never reached the service"
    report = {r["name"]: r for r in json.loads((tmp_path / "r.json").read_text())["rows"]}
    assert report["Ada"]["status"] == "done" and report["Bob"]["status"] == "done"
    assert report["Ada"]["animation"]["action"] and report["Ada"]["animation"]["bones_mapped"]
    assert report["Bob"]["animation"] is None
    assert report["Dee"]["status"] == "failed" and report["Dee"]["error_kind"] == "input"
    states = {n: json.loads((lib / ".avatar_importer" / "rows" / f"{n}.json").read_text())
              for n in ("Ada", "Bob", "Dee")}
    assert states["Ada"]["animation"]["animation"]["file"] == "walk.bvh"
    assert states["Ada"]["animation_applied"]["action"] == report["Ada"]["animation"]["action"]
    assert states["Bob"]["animation"] == {} and states["Dee"]["status"] == "failed"
    assert states["Dee"]["avatar_code"], "the created avatar is remembered for a rerun"

    ada = asset_animation(lib / "Ada.blend")
    assert ada["action"] and ada["keys"] == FRAMES, ada
    assert {"Hips", "Spine", "LeftArm", "RightForeArm", "LeftUpLeg"} <= ada["bones"] \
        <= ada["bone_names"]
    bob = asset_animation(lib / "Bob.blend")
    assert bob["action"] is None and bob["actions"] == [], "no action leaked from Ada's row"
    assert bob["shape_keyed"] == []
    eve = asset_animation(lib / "Eve.blend")  # lip-sync only: the visemes' shape keys
    assert eve["action"] is None and len(eve["shape_keyed"]) >= 5, eve
    assert {"PP", "FF", "aa"} <= set(eve["shape_keyed"]), eve["shape_keyed"]

    # a rerun: the finished rows are skipped (nothing created, nothing rewritten)
    stamps = {p.name: p.stat().st_mtime_ns for p in lib.glob("*.blend")}
    again = batch(*run, cwd=tmp_path)
    assert again.returncode == 1, again.stdout + again.stderr
    assert "row 1 Ada: skipped" in again.stdout and "row 2 Bob: skipped" in again.stdout
    assert "row 5 Eve: skipped" in again.stdout
    assert creations(sandbox) == 4, "Dee's recorded avatar imported again, not created"
    assert {p.name: p.stat().st_mtime_ns for p in lib.glob("*.blend")} == stamps

    # the run's --animation: for every row without its own. Bob's animation changed (none
    # -> walk), so Bob is redone from its recorded avatar; Ada's own column wins (unchanged)
    cli = batch(*run, "--animation", str(anim / "walk.bvh"), "--rows", "1-2", cwd=tmp_path)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert "row 1 Ada: skipped" in cli.stdout
    assert "row 2 Bob: animation changed (none -> animation=walk.bvh)" in cli.stdout
    assert creations(sandbox) == 4, "Bob re-animated from its recorded avatar"
    assert (lib / "Ada.blend").stat().st_mtime_ns == stamps["Ada.blend"]
    bob = asset_animation(lib / "Bob.blend")
    assert bob["action"] and bob["keys"] == FRAMES and "Hips" in bob["bones"]


def test_unknown_run_preset_stops_before_any_row(tmp_path, sandbox):
    (tmp_path / "ada.png").write_bytes(build_thumbnail("ada", 40))
    mixamo_bvh(tmp_path / "walk.bvh")
    manifest = tmp_path / "m.csv"
    manifest.write_text("name,photo\nAda,ada.png\n")
    run = [*common(sandbox, tmp_path), "--manifest", str(manifest), "--library",
           str(tmp_path / "lib")]
    proc = batch(*run, "--animation", str(tmp_path / "walk.bvh"), "--bone-map-preset",
                 "no_such_rig", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "--bone-map-preset: unknown bone-map preset 'no_such_rig'" in proc.stderr
    proc = batch(*run, "--bone-map-preset", "mixamo", cwd=tmp_path)
    assert proc.returncode == 2 and "--bone-map-preset goes with --animation" in proc.stderr
    assert creations(sandbox) == 0 and not list((tmp_path / "lib").glob("*.blend"))
