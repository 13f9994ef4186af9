"""The panel's browsing features in real Blender against the sandbox: options from the
service, My Avatars (list, thumbnails, import again, re-export, delete), interrupted jobs
(resume, discard), the photo preview. Timers never fire in the wheel: the pump is driven
by hand, as the UI's timer would."""

from __future__ import annotations

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
    prefs.sandbox_compute_seconds = 0.4
    photo = tmp_path / "Ada.png"
    photo.write_bytes(build_thumbnail("ada", 48))
    bpy.context.scene.avatar_importer.photo = str(photo)
    from avatar_importer.blender import runtime
    from avatar_importer.blender.ui import browse, catalogue
    yield runtime, browse, catalogue
    addon_utils.disable("avatar_importer", default_set=True, handle_error=None)


def sandbox_posts(runtime, path_end: str) -> int:
    sb = runtime._State.sandbox
    return len([r for r in sb.requests_log if r.method == "POST" and r.path.endswith(path_end)])


def test_options_shape_the_avatar(ui):
    runtime, _browse, _catalogue = ui
    opts = bpy.context.scene.avatar_importer
    opts.haircut = "NONE"
    opts.outfit = "NONE"
    opts.shapes_visemes_15 = False
    create(runtime, "Bare")
    names = {o.name.split(".")[0] for o in bpy.data.collections["Bare"].all_objects}
    assert "AvatarHead" in names and "haircut" not in names and "outfit" not in names
    head = next(o for o in bpy.data.collections["Bare"].all_objects
                if o.name.startswith("AvatarHead"))
    assert len(head.data.shape_keys.key_blocks) - 1 == 51  # ARKit only, no visemes


def test_options_come_from_the_service(ui):
    runtime, _browse, catalogue = ui
    catalogue.request_refresh(force=True)
    catalogue._start_fetch()  # what the one-shot timer runs in the UI
    pump(runtime, lambda: "sandbox" in catalogue.status() and "saved" not in catalogue.status())
    items = catalogue.enum_items("haircuts")(None, bpy.context)
    assert items[0][0] == "HaircutGenerated" and items[-1][0] == "NONE"
    assert Path(runtime.cache_root(runtime.preferences()), "catalogue-sandbox.json").is_file()


def test_my_avatars_list_import_reexport_delete(ui):
    runtime, browse, _catalogue = ui
    first = create(runtime, "Ada")
    bpy.ops.avatar_importer.list_avatars(page=1)
    pump(runtime, lambda: browse.avatars() and not browse.listing_state()[2])
    listed = browse.avatars()
    assert [a.code for a in listed] == [first.avatar_code]
    assert listed[0].status == "Completed" and listed[0].name == "Ada"
    pump(runtime, lambda: browse.has_preview(f"thumb:{first.avatar_code}"), timeout=20)
    thumbs = Path(runtime.cache_root(runtime.preferences()), "thumbnails")
    assert (thumbs / f"{first.avatar_code}.png").is_file()

    creations = sandbox_posts(runtime, "/avatars/")
    bpy.ops.avatar_importer.import_avatar(code=first.avatar_code, name="Again")
    again = next(j for j in runtime.all_jobs() if j.spec.name == "Again")
    pump(runtime, lambda: again.stage.final)
    assert again.stage.value == "done", again.error
    assert "Again" in bpy.data.collections
    assert again.bytes_downloaded == 0, "the cached export is imported without downloading"
    assert sandbox_posts(runtime, "/avatars/") == creations, "no new avatar is computed"

    bpy.ops.avatar_importer.reexport(code=first.avatar_code, name="Redone")
    pump(runtime, lambda: any(j.spec.name == "Redone" and j.stage.final
                              for j in runtime.all_jobs()))
    redone = next(j for j in runtime.all_jobs() if j.spec.name == "Redone")
    assert redone.stage.value == "done", redone.error
    assert redone.export_code and redone.export_code != first.export_code
    assert sandbox_posts(runtime, "/exports/") == 1

    bpy.ops.avatar_importer.delete_avatar("EXEC_DEFAULT", code=first.avatar_code, name="Ada")
    pump(runtime, lambda: not browse.avatars() and not browse.listing_state()[2])


def test_interrupted_jobs_resume_and_discard(ui, tmp_path):
    runtime, browse, _catalogue = ui
    done = create(runtime, "Ada")
    engine = runtime.engine_for(runtime.preferences())
    cache = engine.cache
    # two records as a crash would leave them: remote ids known, state still active
    for job_id, name in (("resume0001", "Back"), ("discard001", "Gone")):
        cache.save_job({"id": job_id, "state": "active", "stage": "computing",
                        "service": "sandbox", "base_url": engine.service.base_url,
                        "player": cache.load_job(done.id)["player"],
                        "avatar_code": done.avatar_code,
                        "spec": {"name": name, "photo": None}})
    browse.request_interrupted(force=True)
    browse._scan_interrupted()  # what the one-shot timer runs in the UI
    pump(runtime, lambda: len(browse.interrupted()) == 2)
    bpy.ops.avatar_importer.discard_job(job_id="discard001")
    assert cache.load_job("discard001") is None
    bpy.ops.avatar_importer.resume_job(job_id="resume0001")
    resumed = next(j for j in runtime.all_jobs() if j.id == "resume0001")
    pump(runtime, lambda: resumed.stage.final)
    assert resumed.stage.value == "done", resumed.error
    assert "Back" in bpy.data.collections
    assert [r["id"] for r in browse.interrupted()] == []
    assert cache.load_job("resume0001")["state"] == "done"


def test_cache_size_and_clear_cache(ui):
    runtime, browse, _catalogue = ui
    create(runtime, "Ada")
    browse.measure_cache()  # what the preferences' draw schedules
    pump(runtime, lambda: browse.cache_size_text().endswith("MB"))
    before = browse._Browse.cache_size
    assert before and before > 10_000
    bpy.ops.avatar_importer.clear_cache()
    browse.measure_cache()
    pump(runtime, lambda: browse.cache_size_text().endswith("MB"))
    assert browse._Browse.cache_size < before
    cache = Path(runtime.cache_root(runtime.preferences()))
    assert not (cache / "static").exists() and not (cache / "exports").exists()


def test_photo_preview_follows_the_chosen_photo(ui, tmp_path):
    _runtime, browse, _catalogue = ui
    photo = tmp_path / "Other.png"
    photo.write_bytes(build_thumbnail("other", 40))
    bpy.context.scene.avatar_importer.photo = str(photo)
    assert browse.has_preview(browse.photo_key(str(photo)))


def test_network_operators_follow_online_access(ui):
    if bpy.app.version < (4, 2, 0):
        pytest.skip("online access exists from 4.2")
    prefs = bpy.context.preferences.addons["avatar_importer"].preferences
    prefs.service = "avatarsdk"
    bpy.context.preferences.system.use_online_access = False
    for op in (bpy.ops.avatar_importer.list_avatars, bpy.ops.avatar_importer.import_avatar,
               bpy.ops.avatar_importer.reexport, bpy.ops.avatar_importer.delete_avatar,
               bpy.ops.avatar_importer.resume_job, bpy.ops.avatar_importer.refresh_options):
        assert not op.poll()
    bpy.context.preferences.system.use_online_access = True
    assert bpy.ops.avatar_importer.list_avatars.poll()
    prefs.service = "sandbox"


def test_missing_credentials_are_reported_not_raised(ui):
    prefs = bpy.context.preferences.addons["avatar_importer"].preferences
    prefs.service = "avatarsdk"
    prefs.client_id = prefs.client_secret = ""
    bpy.context.preferences.system.use_online_access = True
    with pytest.raises(RuntimeError, match="credentials are missing"):
        bpy.ops.avatar_importer.list_avatars()
    prefs.service = "sandbox"


def test_import_settings_reach_the_import(ui):
    runtime, _browse, _catalogue = ui
    opts = bpy.context.scene.avatar_importer
    bpy.context.scene.cursor.location = (2.0, 0.0, 0.0)
    opts.at_cursor, opts.pack_textures = True, False
    job = create(runtime, "Placed")
    arm = next(o for o in bpy.data.collections["Placed"].all_objects if o.type == "ARMATURE")
    assert tuple(round(v, 3) for v in arm.matrix_world.translation) == (2.0, 0.0, 0.0)
    images = [i for i in bpy.data.images if i.source == "FILE"]
    assert images and not any(i.packed_file for i in images)
    from avatar_importer.core.report import report_lines
    lines = report_lines(job.result)
    assert any(line.startswith("Images: 19 resolved") for line in lines), lines
