"""One avatar, three ways into the asset library (a manifest row, My Avatars' Back Up All,
the panel's Save to Library), in real Blender against the sandbox: the same file name,
catalog, tags and description each way (Back Up All on a machine without the creating
job's record: all but the export options, which only that record knows); and the avatar's
source kept in its import report, a .blend of the previous version (its own property)
still read."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import bpy

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "batch_import.py"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import test_library_panel  # noqa: E402
from panel_helpers import create, pump  # noqa: E402

from avatar_importer.core import asset_catalogs  # noqa: E402
from avatar_importer.core.asset_meta import AssetMeta, export_summary  # noqa: E402
from avatar_importer.core.library_names import library_name  # noqa: E402

ui = test_library_panel.ui  # the panel's fixture: add-on enabled, sandbox, library folder
NAME = "Zoë (lead)"  # Back Up All's old rule named its file "Zoë _lead_.blend"


def manifest_row(tmp: Path, code: str, spec) -> Path:
    """A row importing avatar ``code`` with the options the panel created it with."""
    options = export_summary(spec.export_parameters)
    row = {"name": NAME, "avatar_id": code, "subtype": spec.subtype,
           "lod": options["lod"], "profile": options["profile"],
           "haircut": options.get("haircut", "none"), "outfit": options.get("outfit", "none"),
           "glasses": options.get("glasses", "none"),
           "blendshapes": options.get("blendshapes", "")}
    path = tmp / "cast.csv"
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=list(row))
        writer.writeheader()
        writer.writerow(row)
    return path


def asset_of(library: Path) -> dict[str, object]:
    """What a user sees of the library's one asset: file, catalog, tags, description
    (without its date line), and the source the asset keeps."""
    from avatar_importer.blender.library import assets
    files = sorted(p.name for p in library.glob("*.blend"))
    bpy.ops.wm.open_mainfile(filepath=str(library / files[0]))
    coll = next(c for c in bpy.data.collections if c.asset_data is not None)
    data = coll.asset_data
    catalogs = {c.uuid: c.path for c in asset_catalogs.read(library)}
    text = data.description.splitlines()
    assert text[-1].startswith("Date: ")
    source = assets.stored_source(coll)
    again = AssetMeta.for_avatar(coll.name, source).description_text().splitlines()[:-1]
    return {"files": files, "collection": coll.name, "catalog": catalogs[data.catalog_id],
            "tags": sorted(t.name for t in data.tags), "description": text[:-1],
            "described_again": again == text[:-1], "avatar_code": source.avatar_code}


def test_manifest_backup_and_save_give_one_asset(ui, tmp_path, monkeypatch):
    runtime, _browse, backup = ui
    prefs = bpy.context.preferences.addons["avatar_importer"].preferences
    scene_opts = bpy.context.scene.avatar_importer
    scene_opts.subtype = "male"  # not the default: the catalog must say it each way
    job = create(runtime, NAME)
    assert bpy.data.collections.get(NAME) is not None

    # Save to Library (the panel), into its own folder
    by_panel = tmp_path / "by_panel"
    prefs.library_dir = str(by_panel)
    assert bpy.ops.avatar_importer.save_to_library(collection=NAME) == {"FINISHED"}

    # Back Up All of the account (the same machine: its cache knows the creating job)
    by_backup = tmp_path / "by_backup"
    prefs.library_dir = str(by_backup)
    assert bpy.ops.avatar_importer.backup_all() == {"FINISHED"}
    pump(runtime, lambda: not backup.state().running)
    assert (backup.state().saved, backup.state().failed) == (1, []), backup.state().message

    # a manifest row importing the same avatar, run as a studio runs it
    engine = runtime.engine_for(prefs)
    player = engine.service.client.player
    by_manifest = tmp_path / "by_manifest"
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "user"))
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--service", "sandbox", "--base-url",
         engine.service.base_url, "--player", player, "--poll-interval", "0.2",
         "--cache-dir", str(tmp_path / "farm-cache"), "--manifest",
         str(manifest_row(tmp_path, job.avatar_code, job.spec)), "--library",
         str(by_manifest)], capture_output=True, text=True, timeout=240, env=env,
        cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    # Back Up All on another machine: no record of the creating job in its cache
    monkeypatch.setenv("AVATAR_IMPORTER_CACHE", str(tmp_path / "other-cache"))
    elsewhere = tmp_path / "by_backup_elsewhere"
    prefs.library_dir = str(elsewhere)
    bpy.ops.avatar_importer.backup_all()
    pump(runtime, lambda: not backup.state().running)
    assert backup.state().saved == 1, backup.state().message

    seen = [asset_of(folder) for folder in (by_manifest, by_backup, by_panel)]
    manifest, backed_up, saved = seen
    other = asset_of(elsewhere)
    assert other["catalog"] == "Avatars/sandbox/male", "the subtype as the service lists it"
    assert other["description"] == [line for line in manifest["description"]
                                     if not line.startswith("Export options: ")]
    assert other["files"] == manifest["files"] and other["tags"] == manifest["tags"]
    assert manifest["files"] == [f"{library_name(NAME)}.blend"] == [f"{NAME}.blend"]
    assert manifest == backed_up == saved, json.dumps(seen, indent=1, ensure_ascii=False)
    assert manifest["catalog"] == "Avatars/sandbox/male"
    assert manifest["tags"] == ["avatar", "sandbox"]
    assert manifest["avatar_code"] == job.avatar_code
    description = manifest["description"]
    assert description[:2] == ["Service: sandbox", f"Avatar code: {job.avatar_code}"]
    assert description[2].startswith("Export options: ") and "lod=" in description[2]
    assert manifest["described_again"], "the asset keeps its source: saved again, the same"


def test_the_source_is_one_record_and_an_old_files_property_is_read(ui):
    from avatar_importer.blender.importing.importer import REPORT_PROPERTY, stored_report
    from avatar_importer.blender.library import assets
    from avatar_importer.core.asset_meta import AvatarSource
    runtime, _browse, _backup = ui
    job = create(runtime, "Ada")
    coll = bpy.data.collections["Ada"]
    assert REPORT_PROPERTY in coll
    assert "avatar_importer_source" not in coll, "one record on the collection"
    report = stored_report(coll)
    assert report["source"]["avatar_code"] == job.avatar_code
    assert report["objects"], "the import report is still whole"
    assert assets.stored_source(coll) == AvatarSource.from_job(job)

    # a collection as the previous version saved it: report, plus a property of its own
    del report["source"]
    coll[REPORT_PROPERTY] = json.dumps(report)
    coll["avatar_importer_source"] = json.dumps({
        "service": "sandbox", "avatar_code": "old-code", "export_code": "e",
        "subtype": "male", "export_options": {"lod": "LOD2"}, "photo": ""})
    old = assets.stored_source(coll)
    assert (old.avatar_code, old.subtype, old.export_parameters) == \
        ("old-code", "male", {"lod": "LOD2"})
    assets.remember(coll, old)  # written again: one record, the old property gone
    assert "avatar_importer_source" not in coll
    assert assets.stored_source(coll) == old and stored_report(coll)["objects"]
