"""The panel's asset library in real Blender against the sandbox: Save to Library (the
asset's catalog, description, packed images; the open file unchanged), My Avatars' Back Up
All (every avatar saved, a second run downloads nothing, an interrupted run goes on with
the rest), and the operators' conditions (library folder, online access). Timers never
fire in the wheel: the pump is driven by hand, as the UI's timer would."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import addon_utils
import bpy
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from panel_helpers import create, pump  # noqa: E402

from avatar_importer.sandbox.assets import build_thumbnail  # noqa: E402


@pytest.fixture
def ui(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    monkeypatch.setenv("AVATAR_IMPORTER_CACHE", str(tmp_path / "cache"))
    addon_utils.enable("avatar_importer", default_set=True, handle_error=None)
    prefs = bpy.context.preferences.addons["avatar_importer"].preferences
    prefs.service = "sandbox"
    prefs.sandbox_compute_seconds = 0.2
    prefs.library_dir = str(tmp_path / "library")
    photo = tmp_path / "Ada.png"
    photo.write_bytes(build_thumbnail("ada", 48))
    bpy.context.scene.avatar_importer.photo = str(photo)
    from avatar_importer.blender import runtime
    from avatar_importer.blender.library import backup as library_backup
    from avatar_importer.blender.ui import browse
    yield runtime, browse, library_backup
    prefs.library_dir = ""
    addon_utils.disable("avatar_importer", default_set=True, handle_error=None)


def scene_state() -> dict[str, object]:
    """What a user sees of the open file: its objects, collections, images and their
    packing, its path, and which collections are assets."""
    return {
        "objects": sorted(o.name for o in bpy.data.objects),
        "scene_objects": sorted(o.name for o in bpy.context.scene.objects),
        "collections": sorted(c.name for c in bpy.data.collections),
        "images": sorted((i.name, i.packed_file is not None, i.filepath)
                         for i in bpy.data.images),
        "assets": sorted(c.name for c in bpy.data.collections if c.asset_data),
        "fake_users": sorted(c.name for c in bpy.data.collections if c.use_fake_user),
        "filepath": bpy.data.filepath,
        "meshes": len(bpy.data.meshes), "materials": len(bpy.data.materials),
        "selected": sorted(o.name for o in bpy.context.view_layer.objects if o.select_get()),
    }


def file_gets(runtime) -> int:
    """Downloads of export files from the sandbox so far."""
    return len([r for r in runtime._State.sandbox.requests_log
                if r.method == "GET" and r.path.endswith("/file/")])


def posts(runtime) -> list[str]:
    return [r.path for r in runtime._State.sandbox.requests_log
            if r.method == "POST" and "/o/token/" not in r.path]


def test_save_to_library_writes_an_asset_and_leaves_the_open_file_alone(ui, tmp_path):
    runtime, browse, _backup = ui
    bpy.context.scene.avatar_importer.pack_textures = False  # the user's file: unpacked
    job = create(runtime, "Ada")
    bpy.ops.avatar_importer.list_avatars(page=1)  # caches the service's thumbnail
    pump(runtime, lambda: browse.has_preview(f"thumb:{job.avatar_code}"), timeout=30)
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "work.blend"))
    before = scene_state()
    assert any(not packed for _n, packed, _p in before["images"])  # type: ignore[union-attr]

    assert bpy.ops.avatar_importer.save_to_library(collection="Ada") == {"FINISHED"}
    assert scene_state() == before, "the open file is unchanged"
    target = tmp_path / "library" / "Ada.blend"
    assert target.is_file()
    cats = (tmp_path / "library" / "blender_assets.cats.txt").read_text()
    assert ":Avatars/sandbox/female:" in cats

    # a different avatar under a name the library has already is refused, naming the file
    create(runtime, "Bob")
    shutil.copy(target, tmp_path / "library" / "Bob.blend")
    with pytest.raises(RuntimeError, match=r"different avatar as Bob\.blend"):
        bpy.ops.avatar_importer.save_to_library(collection="Bob")
    # a row another Blender (a backup, a manifest run) is writing is left to it
    from avatar_importer.core.library_rows import LibraryRows
    held = LibraryRows(tmp_path / "library").lock("Ada")
    assert held is not None
    with pytest.raises(RuntimeError, match="being written by another Blender"):
        bpy.ops.avatar_importer.save_to_library(collection="Ada")
    held.release()
    # saving the same avatar again replaces its own file; the result says when 5.0's
    # partial write drops the preview (the open file holds more than this avatar)
    from avatar_importer.blender.ui import library_ops
    path, remark = library_ops.save_to_library(bpy.data.collections["Ada"],
                                               tmp_path / "library")
    assert path == target
    assert ("without preview" in remark) == (bpy.app.version >= (5, 0, 0)), remark
    assert scene_state()["assets"] == []

    bpy.ops.wm.open_mainfile(filepath=str(target))  # what the library file holds
    coll = bpy.data.collections["Ada"]
    assert coll.asset_data is not None
    catalog_id = next(line.split(":")[0] for line in cats.splitlines()
                      if line.endswith("Avatars/sandbox/female:female") or
                      ":Avatars/sandbox/female:" in line)
    assert coll.asset_data.catalog_id == catalog_id
    text = coll.asset_data.description
    assert "Service: sandbox" in text and f"Avatar code: {job.avatar_code}" in text
    assert "Date: " in text
    assert {"avatar", "sandbox"} <= {t.name for t in coll.asset_data.tags}
    images = [i for i in bpy.data.images if i.source == "FILE"]
    assert images and all(i.packed_file is not None for i in images)
    if bpy.app.version < (5, 0, 0):  # 5.0's partial write drops previews (compat)
        assert coll.preview is not None and tuple(coll.preview.image_size) != (0, 0)


def test_back_up_all_saves_every_avatar_once_and_resumes(ui, tmp_path, monkeypatch):
    runtime, _browse, backup = ui
    for name in ("Ada", "Bob", "Cy"):
        create(runtime, name)
    before = scene_state()
    created = posts(runtime)
    # another machine: nothing of these avatars in its cache, everything is downloaded
    monkeypatch.setenv("AVATAR_IMPORTER_CACHE", str(tmp_path / "cache2"))
    library = tmp_path / "library"

    # interrupted after the first avatar
    gets0 = file_gets(runtime)
    assert bpy.ops.avatar_importer.backup_all() == {"FINISHED"}
    pump(runtime, lambda: backup.state().saved >= 1 or not backup.state().running)
    assert backup.state().saved == 1, backup.state().message
    bpy.ops.avatar_importer.cancel_backup()
    pump(runtime, lambda: not backup.state().running)
    first = sorted(p.name for p in library.glob("*.blend"))
    assert len(first) == 1, first
    first_mtime = (library / first[0]).stat().st_mtime_ns
    gets1 = file_gets(runtime)
    assert gets1 > gets0

    # run again: only the rest
    bpy.ops.avatar_importer.backup_all()
    pump(runtime, lambda: not backup.state().running)
    run = backup.state()
    assert (run.saved, run.skipped, run.failed) == (2, 1, []), run.message
    assert sorted(p.name for p in library.glob("*.blend")) == \
        ["Ada.blend", "Bob.blend", "Cy.blend"]
    assert (library / first[0]).stat().st_mtime_ns == first_mtime
    mtimes = {p.name: p.stat().st_mtime_ns for p in library.glob("*.blend")}
    gets2 = file_gets(runtime)

    # a third run downloads nothing and writes nothing
    bpy.ops.avatar_importer.backup_all()
    pump(runtime, lambda: not backup.state().running)
    assert (backup.state().saved, backup.state().skipped) == (0, 3)
    assert file_gets(runtime) == gets2
    assert {p.name: p.stat().st_mtime_ns for p in library.glob("*.blend")} == mtimes

    assert posts(runtime)[len(created):] == [], "nothing is created on the service"
    assert scene_state() == before, "the open file has only what the user imported"
    assert not [j for j in runtime.all_jobs() if j.spec.name in ("Ada", "Bob", "Cy")
                and not j.stage.final]
    from avatar_importer.blender.library import assets as lib
    assets = lib.library_assets(library)
    assert sorted(name for _f, name in assets) == ["Ada", "Bob", "Cy"]


def test_operators_need_a_library_folder_and_online_access(ui):
    _runtime, _browse, _backup = ui
    prefs = bpy.context.preferences.addons["avatar_importer"].preferences
    assert bpy.ops.avatar_importer.save_to_library.poll()
    assert bpy.ops.avatar_importer.backup_all.poll()
    prefs.library_dir = ""
    assert not bpy.ops.avatar_importer.save_to_library.poll()
    assert not bpy.ops.avatar_importer.backup_all.poll()
    prefs.library_dir = "//lib"
    if bpy.app.version >= (4, 2, 0):
        prefs.service = "avatarsdk"
        bpy.context.preferences.system.use_online_access = False
        assert not bpy.ops.avatar_importer.backup_all.poll()
        assert bpy.ops.avatar_importer.save_to_library.poll()  # no network needed
        bpy.context.preferences.system.use_online_access = True
        assert bpy.ops.avatar_importer.backup_all.poll()
        prefs.service = "sandbox"


class Recorder:
    """Stands in for a panel's UILayout: records its labels and operators."""

    def __init__(self, log: list[tuple[str, str]]) -> None:
        self.log = log

    def label(self, text: str = "", **_: object) -> None:
        self.log.append(("label", text))

    def operator(self, idname: str, **_: object) -> object:
        self.log.append(("operator", idname))
        return type("Props", (), {})()

    def _child(self, *_: object, **__: object) -> Recorder:
        return Recorder(self.log)

    box = row = column = _child

    def __getattr__(self, name: str) -> object:  # prop, template_icon, progress ...
        return lambda *args, **kwargs: None


def drawn(panel: type) -> list[tuple[str, str]]:
    log: list[tuple[str, str]] = []
    panel.draw(type("P", (), {"layout": Recorder(log)})(), bpy.context)
    return log


def test_panel_shows_save_backup_progress_and_cancel(ui):
    runtime, _browse, backup = ui
    from avatar_importer.blender.ui.panel import (
        VIEW3D_PT_avatar_importer,
        VIEW3D_PT_avatar_importer_library,
    )
    create(runtime, "Ada")
    assert ("operator", "avatar_importer.save_to_library") in drawn(VIEW3D_PT_avatar_importer)
    assert ("operator", "avatar_importer.backup_all") in \
        drawn(VIEW3D_PT_avatar_importer_library)
    bpy.ops.avatar_importer.backup_all()
    assert ("operator", "avatar_importer.cancel_backup") in \
        drawn(VIEW3D_PT_avatar_importer_library)
    pump(runtime, lambda: not backup.state().running)
    text = " ".join(t for kind, t in drawn(VIEW3D_PT_avatar_importer_library)
                    if kind == "label")
    assert text.startswith("Back Up All: 1 saved, 0 already in the library"), text
    # 5.0's partial write drops previews: the result says so
    assert ("saved without preview" in text) == (bpy.app.version >= (5, 0, 0)), text
    prefs = bpy.context.preferences.addons["avatar_importer"].preferences
    prefs.library_dir = ""
    log = drawn(VIEW3D_PT_avatar_importer_library)
    assert ("operator", "avatar_importer.backup_all") not in log
    assert ("label", "Back Up All: set a library folder in Preferences") in log


def test_a_failing_avatar_is_named_leaves_nothing_and_is_retried(ui, tmp_path, monkeypatch):
    runtime, _browse, backup = ui
    ada, _bob = create(runtime, "Ada"), create(runtime, "Bob")
    before = scene_state()
    monkeypatch.setenv("AVATAR_IMPORTER_CACHE", str(tmp_path / "cache2"))
    faults = runtime._State.sandbox.faults
    faults.update({"error_path_prefix": f"/avatars/{ada.avatar_code}/exports/",
                   "error_next": 1000, "error_status": 403})
    bpy.ops.avatar_importer.backup_all()
    pump(runtime, lambda: not backup.state().running)
    run = backup.state()
    assert run.saved == 1 and len(run.failed) == 1 and run.failed[0].startswith("Ada ("), \
        run.message
    assert "1 not saved: Ada (" in run.message
    library = tmp_path / "library"
    assert sorted(p.name for p in library.glob("*.blend")) == ["Bob.blend"]
    assert not list(library.glob(".*.blend")), "no half-written file"
    from avatar_importer.core.library_rows import LibraryRows
    assert LibraryRows(library).load("Ada")["status"] == "failed"
    assert scene_state() == before

    faults.update({"reset": True})
    bpy.ops.avatar_importer.backup_all()
    pump(runtime, lambda: not backup.state().running)
    assert (backup.state().saved, backup.state().skipped) == (1, 1), backup.state().message
    assert sorted(p.name for p in library.glob("*.blend")) == ["Ada.blend", "Bob.blend"]
