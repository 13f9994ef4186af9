"""Headless tests in Debian's Blender 3.4 (system Python 3.11; pytest is not assumed).

    blender -b --factory-startup --python-exit-code 1 -P tests/blender34/run.py [-- WORD ...]

(``scripts/run_blender_tests.sh 3.4`` runs exactly this, with a private
BLENDER_USER_RESOURCES.) Plain ``test_*`` functions with asserts, run in the order
written (later ones rely on Blender's process-wide state being as the earlier left it);
``WORD`` arguments keep only the tests whose name contains one of them. The last line
printed is ``N passed, M failed``; any failure exits 1 (``SystemExit``, so nothing is
printed after that line). Timers never fire in ``blender -b`` while this script runs:
the add-on's pump is called by hand, as in tests/blender.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import addon_utils
import bpy

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

ADDON = "avatar_importer"
TMP = Path(tempfile.mkdtemp(prefix="avatar-b34-"))
os.environ["AVATAR_IMPORTER_CACHE"] = str(TMP / "cache")
EVENT_TICK_BUDGET = 0.010  # seconds: no tick that only applies events may take longer
THREAD_PREFIXES = ("avatar-job", "avatar-static", "sandbox-")

TESTS: list[Callable[[], None]] = []


def test(fn: Callable[[], None]) -> Callable[[], None]:
    TESTS.append(fn)
    return fn


# --- helpers -----------------------------------------------------------------------------


def _raise(exc: BaseException) -> None:
    raise exc


def photo(name: str, seed: str) -> Path:
    from avatar_importer.sandbox.assets import build_thumbnail
    path = TMP / f"{name}.png"
    path.write_bytes(build_thumbnail(seed, 64))
    return path


def worker_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(THREAD_PREFIXES)]


def enable() -> Any:
    mod = addon_utils.enable(ADDON, default_set=True, handle_error=_raise)
    assert mod is not None, "addon_utils.enable returned None"
    prefs = bpy.context.preferences.addons[ADDON].preferences
    prefs.service = "sandbox"
    prefs.sandbox_compute_seconds = 0.5
    from avatar_importer.blender import runtime
    return runtime


def disable_and_check(runtime: Any) -> None:
    addon_utils.disable(ADDON, default_set=True, handle_error=_raise)
    assert addon_utils.check(ADDON) == (False, False), addon_utils.check(ADDON)
    assert ADDON not in bpy.context.preferences.addons
    assert not bpy.app.timers.is_registered(runtime.pump_tick), "pump timer left"
    assert not hasattr(bpy.types.Scene, "avatar_importer"), "Scene.avatar_importer left"
    for name in ("VIEW3D_PT_avatar_importer", "AVATAR_IMPORTER_OT_create",
                 "AVATAR_IMPORTER_OT_cancel", "AVATAR_IMPORTER_AP_preferences",
                 "AVATAR_IMPORTER_PG_options"):
        assert not hasattr(bpy.types, name), f"{name} still registered"
    assert not runtime._State.engines and runtime._State.sandbox is None
    assert not worker_threads(), f"threads left: {worker_threads()}"


@contextlib.contextmanager
def addon_enabled() -> Iterator[Any]:
    runtime = enable()
    try:
        yield runtime
    finally:
        if addon_utils.check(ADDON)[1]:
            addon_utils.disable(ADDON, default_set=True)


def pump_until(runtime: Any, done: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        runtime.pump_tick()
        time.sleep(0.01)
    assert done(), [j.status_line() for j in runtime.all_jobs()]


def check_avatar_in_scene(name: str) -> dict[str, int]:
    coll = bpy.data.collections.get(name)
    assert coll is not None, f"no collection {name!r}: {list(bpy.data.collections.keys())}"
    assert coll.name in bpy.context.scene.collection.children
    arms = [o for o in coll.all_objects if o.type == "ARMATURE"]
    assert len(arms) == 1, [o.name for o in arms]
    bones = len(arms[0].data.bones)
    assert bones >= 60, bones
    head = next((o for o in coll.all_objects if o.name.split(".")[0] == "AvatarHead"), None)
    assert head is not None and head.data.shape_keys is not None, "AvatarHead has no keys"
    keys = len(head.data.shape_keys.key_blocks) - 1
    assert keys >= 51, keys
    images = [img for img in bpy.data.images if img.source == "FILE"]
    assert images and all(img.has_data for img in images), \
        [img.name for img in images if not img.has_data]
    return {"bones": bones, "shape_keys": keys, "images": len(images)}


def check_report(path: Path, name: str) -> dict[str, Any]:
    body = json.loads(path.read_text())
    assert body["ok"] is True, body
    assert body["blender"].startswith(f"{bpy.app.version[0]}.{bpy.app.version[1]}"), body
    (avatar,) = body["avatars"]
    assert avatar["name"] == name and avatar["status"] == "done", avatar
    assert avatar["collection"] == name, avatar
    assert avatar["images"] and all(img["resolved"] for img in avatar["images"]), \
        avatar["images"]
    head = [k for k in avatar["shape_keys"] if k.split(".")[0] == "AvatarHead"]
    assert len(head) == 1 and avatar["shape_keys"][head[0]] >= 51, avatar["shape_keys"]
    assert avatar["bone_count"] >= 60, avatar["bone_count"]
    return avatar


# --- tests ---------------------------------------------------------------------------------


@test
def test_enable_as_legacy_addon() -> None:
    with addon_enabled():
        assert addon_utils.check(ADDON) == (True, True), addon_utils.check(ADDON)
        mod = sys.modules[ADDON]
        assert Path(mod.__file__).resolve().parent == REPO / ADDON, mod.__file__
        assert mod.bl_info["blender"] <= tuple(bpy.app.version), mod.bl_info["blender"]
        assert ADDON in bpy.context.preferences.addons
        assert hasattr(bpy.types, "VIEW3D_PT_avatar_importer")
        assert bpy.types.VIEW3D_PT_avatar_importer.bl_category == "Avatar"
        for op in ("create", "cancel", "dismiss", "clear_cache", "reset_player"):
            assert getattr(bpy.ops.avatar_importer, op).get_rna_type() is not None, op
        assert bpy.context.scene.avatar_importer.subtype == "female"
        import numpy
        assert "bool" in numpy.__dict__, "the np.bool alias Blender 3.4's glTF importer needs"


@test
def test_preferences_resolve_by_package() -> None:
    with addon_enabled() as runtime:
        assert runtime.ADDON_ID == ADDON
        prefs = bpy.context.preferences.addons[ADDON].preferences
        assert type(prefs).__name__ == "AVATAR_IMPORTER_AP_preferences"
        assert type(prefs).bl_idname == ADDON
        assert runtime.preferences() == prefs
        assert prefs.bl_rna.properties["client_secret"].subtype == "PASSWORD"
        assert prefs.service == "sandbox"
        # legacy add-on: no extension cache dir, AVATAR_IMPORTER_CACHE wins
        assert runtime.cache_root(prefs) == TMP / "cache", runtime.cache_root(prefs)


@test
def test_create_operator_pumped_by_hand() -> None:
    with addon_enabled() as runtime:
        runtime.TICKS.clear()
        bpy.context.scene.avatar_importer.photo = str(photo("Hand", "hand"))
        assert bpy.ops.avatar_importer.create() == {"FINISHED"}
        (job,) = runtime.all_jobs()
        assert bpy.app.timers.is_registered(runtime.pump_tick)
        pump_until(runtime, lambda: job.stage.final)
        assert job.stage.value == "done", job.error
        facts = check_avatar_in_scene("Hand")
        events = [s for s, kind in runtime.TICKS if kind == "events"]
        imports = [s for s, kind in runtime.TICKS if kind == "import"]
        assert events and len(imports) == 1, list(runtime.TICKS)
        assert max(events) <= EVENT_TICK_BUDGET, max(events)
        print(f"    {facts}; event ticks max {max(events) * 1000:.2f} ms, "
              f"import tick {imports[0]:.2f} s")
        disable_and_check(runtime)


@test
def test_cancel_while_computing_changes_nothing() -> None:
    with addon_enabled() as runtime:
        bpy.context.preferences.addons[ADDON].preferences.sandbox_compute_seconds = 5.0
        before = {k: len(getattr(bpy.data, k)) for k in
                  ("objects", "collections", "meshes", "materials", "images")}
        bpy.context.scene.avatar_importer.photo = str(photo("Gone", "gone"))
        bpy.ops.avatar_importer.create()
        job = next(j for j in runtime.all_jobs() if j.spec.name == "Gone")
        pump_until(runtime, lambda: job.stage.value in ("queued", "computing"))
        assert bpy.ops.avatar_importer.cancel(job_id=job.id) == {"FINISHED"}
        pump_until(runtime, lambda: job.stage.final, timeout=15)
        assert job.stage.value == "cancelled", job.stage
        after = {k: len(getattr(bpy.data, k)) for k in before}
        assert after == before, (before, after)
        disable_and_check(runtime)


@test
def test_disable_and_enable_again_leave_nothing() -> None:
    for _ in range(2):
        runtime = enable()
        runtime.engine_for(runtime.preferences())  # starts the sandbox and the pools
        runtime.ensure_timer()
        assert worker_threads(), "expected the sandbox's listener thread"
        disable_and_check(runtime)


@test
def test_batch_main_in_process() -> None:
    from avatar_importer.blender import batch
    report = TMP / "in-process.json"
    rc = batch.main(["--service", "sandbox", "--photo", str(photo("Batchy", "batchy")),
                     "--cache-dir", str(TMP / "batch-cache"), "--report", str(report),
                     "--sandbox-compute-seconds", "0.5", "--poll-interval", "0.1"])
    assert rc == 0, rc
    avatar = check_report(report, "Batchy")
    check_avatar_in_scene("Batchy")
    assert not worker_threads(), f"threads left: {worker_threads()}"
    print(f"    {avatar['bone_count']} bones, {len(avatar['images'])} images, "
          f"{avatar['seconds_total']} s")


def run_batch_script(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(TMP / "user-subprocess"))
    env.pop("AVATARSDK_CLIENT_SECRET", None)
    cmd = [bpy.app.binary_path, "-b", "--factory-startup", "-P",
           str(REPO / "scripts" / "batch_import.py"), "--", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env,
                          cwd=TMP)


@test
def test_batch_script_subprocess() -> None:
    report, out = TMP / "subprocess.json", TMP / "out" / "sub.blend"
    proc = run_batch_script("--service", "sandbox", "--photo", str(photo("Sub", "sub")),
                            "--cache-dir", str(TMP / "sub-cache"), "--report", str(report),
                            "--out", str(out), "--sandbox-compute-seconds", "0.5",
                            "--poll-interval", "0.1")
    assert proc.returncode == 0, f"exit code {proc.returncode}\n{proc.stdout[-3000:]}\n" \
        f"{proc.stderr[-3000:]}"
    check_report(report, "Sub")
    assert out.is_file() and out.stat().st_size > 100_000, out


@test
def test_batch_script_bad_photo_exits_2() -> None:
    proc = run_batch_script("--service", "sandbox", "--photo", str(TMP / "missing.jpg"),
                            "--cache-dir", str(TMP / "sub-cache"))
    assert proc.returncode == 2, f"exit code {proc.returncode}\n{proc.stdout[-2000:]}"
    assert "does not exist" in proc.stdout, proc.stdout[-2000:]


# --- the runner ------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    words = argv[argv.index("--") + 1:] if "--" in argv else []
    chosen = [t for t in TESTS if not words or any(w in t.__name__ for w in words)]
    print(f"blender34: Blender {bpy.app.version_string}, Python {sys.version.split()[0]}, "
          f"{len(chosen)} of {len(TESTS)} tests", flush=True)
    passed = failed = 0
    for fn in chosen:
        started = time.monotonic()
        try:
            fn()
        except BaseException:  # report every failure and go on with the next test
            failed += 1
            print(f"FAIL {fn.__name__} ({time.monotonic() - started:.1f} s)", flush=True)
            traceback.print_exc()
            sys.stderr.flush()
        else:
            passed += 1
            print(f"PASS {fn.__name__} ({time.monotonic() - started:.1f} s)", flush=True)
        finally:
            with contextlib.suppress(Exception):
                if addon_utils.check(ADDON)[1]:
                    addon_utils.disable(ADDON, default_set=True)
    shutil.rmtree(TMP, ignore_errors=True)
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed or not chosen else 0


if __name__ == "__main__":
    code = main(sys.argv)
    if code:
        raise SystemExit(code)
