"""The add-on as Blender loads it: preferences, operators, the pump driven by hand (timers
never fire headless), cancel, the online-access gate, and a clean unregister."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import addon_utils
import bpy
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from avatar_importer.sandbox.assets import build_thumbnail  # noqa: E402

SECRET = "Zq7-very-secret-client-secret-9x"


@pytest.fixture
def addon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    monkeypatch.setenv("AVATAR_IMPORTER_CACHE", str(tmp_path / "cache"))
    addon_utils.enable("avatar_importer", default_set=True, handle_error=None)
    prefs = bpy.context.preferences.addons["avatar_importer"].preferences
    prefs.service = "sandbox"
    prefs.sandbox_compute_seconds = 0.6
    from avatar_importer.blender import runtime
    yield runtime
    addon_utils.disable("avatar_importer", default_set=True, handle_error=None)


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "Ada.png"
    path.write_bytes(build_thumbnail("ada", 48))
    return path


def pump_until(runtime, done, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        runtime.pump_tick()
        time.sleep(0.01)
    assert done(), [j.status_line() for j in runtime.all_jobs()]


def test_preferences_resolve_by_package(addon):
    prefs = bpy.context.preferences.addons["avatar_importer"].preferences
    assert type(prefs).__name__ == "AVATAR_IMPORTER_AP_preferences"
    assert prefs.bl_rna.properties["client_secret"].subtype == "PASSWORD"


def test_create_import_and_no_secret_in_blend(addon, photo, tmp_path):
    runtime = addon
    prefs = bpy.context.preferences.addons["avatar_importer"].preferences
    prefs.client_secret = SECRET
    scene = bpy.context.scene
    scene.avatar_importer.photo = str(photo)
    assert bpy.ops.avatar_importer.create() == {"FINISHED"}
    jobs = runtime.all_jobs()
    assert len(jobs) == 1 and not jobs[0].stage.final
    pump_until(runtime, lambda: jobs[0].stage.final)
    assert jobs[0].stage.value == "done", jobs[0].error
    coll = bpy.data.collections["Ada"]
    names = {o.name for o in coll.all_objects}
    assert {"AvatarHead", "AvatarBody"} <= names
    arm = [o for o in coll.all_objects if o.type == "ARMATURE"]
    assert arm and len(arm[0].data.bones) >= 60
    head = bpy.data.objects["AvatarHead"]
    assert len(head.data.shape_keys.key_blocks) > 51
    assert all(img.size[0] > 0 for img in bpy.data.images if img.source == "FILE")
    assert runtime.TICKS and max(s for s, kind in runtime.TICKS if kind == "events") < 0.05

    blend = tmp_path / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    assert SECRET.encode() not in blend.read_bytes()


def test_cancel_while_computing_leaves_scene_unchanged(addon, photo):
    runtime = addon
    bpy.context.preferences.addons["avatar_importer"].preferences.sandbox_compute_seconds = 5
    before = (len(bpy.data.objects), len(bpy.data.collections), len(bpy.data.images),
              len(bpy.data.materials), len(bpy.data.meshes))
    bpy.context.scene.avatar_importer.photo = str(photo)
    bpy.ops.avatar_importer.create()
    job = runtime.all_jobs()[0]
    pump_until(runtime, lambda: job.stage.value in ("queued", "computing"))
    bpy.ops.avatar_importer.cancel(job_id=job.id)
    pump_until(runtime, lambda: job.stage.final)
    assert job.stage.value == "cancelled"
    after = (len(bpy.data.objects), len(bpy.data.collections), len(bpy.data.images),
             len(bpy.data.materials), len(bpy.data.meshes))
    assert after == before


def test_missing_photo_is_reported_and_nothing_starts(addon, tmp_path):
    bpy.context.scene.avatar_importer.photo = str(tmp_path / "nope.jpg")
    with pytest.raises(RuntimeError, match="does not exist"):
        bpy.ops.avatar_importer.create()
    assert addon.all_jobs() == []


@pytest.mark.skipif(bpy.app.version < (4, 2, 0), reason="online access exists from 4.2")
def test_online_access_gate(addon):
    prefs = bpy.context.preferences.addons["avatar_importer"].preferences
    prefs.service = "avatarsdk"
    bpy.context.preferences.system.use_online_access = False
    assert not bpy.ops.avatar_importer.create.poll()
    bpy.context.preferences.system.use_online_access = True
    assert bpy.ops.avatar_importer.create.poll()
    prefs.service = "sandbox"  # the sandbox is local: no network needed
    bpy.context.preferences.system.use_online_access = False
    assert bpy.ops.avatar_importer.create.poll()


def test_unregister_leaves_nothing(photo, tmp_path, monkeypatch):
    monkeypatch.setenv("AVATAR_IMPORTER_CACHE", str(tmp_path / "cache"))
    for _ in range(2):  # enable, use, disable, and again in the same session
        addon_utils.enable("avatar_importer", default_set=True, handle_error=None)
        from avatar_importer.blender import runtime
        prefs = bpy.context.preferences.addons["avatar_importer"].preferences
        prefs.service = "sandbox"
        prefs.sandbox_compute_seconds = 5
        bpy.context.scene.avatar_importer.photo = str(photo)
        bpy.ops.avatar_importer.create()
        assert bpy.app.timers.is_registered(runtime.pump_tick)
        addon_utils.disable("avatar_importer", default_set=True, handle_error=None)
        assert not bpy.app.timers.is_registered(runtime.pump_tick)
        assert not hasattr(bpy.types, "AVATAR_IMPORTER_OT_create")
        assert not hasattr(bpy.types, "VIEW3D_PT_avatar_importer")
        assert not hasattr(bpy.types.Scene, "avatar_importer")
        workers = [t for t in threading.enumerate()
                   if t.name.startswith(("avatar-job", "avatar-static", "sandbox"))]
        assert workers == []


@pytest.mark.parametrize("content,message", [(b"", "is empty"),
                                              (b"GIF89a not a photo", "not a JPEG or PNG")])
def test_bad_photo_is_reported_by_the_operator(addon, tmp_path, content, message):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(content)
    bpy.context.scene.avatar_importer.photo = str(bad)
    with pytest.raises(RuntimeError, match=message):
        bpy.ops.avatar_importer.create()
    assert addon.all_jobs() == []
