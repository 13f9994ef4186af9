"""The legacy zip installed the way a Blender 3.4-4.1 user installs it (standalone script).

    BLENDER_USER_RESOURCES=$(mktemp -d) \\
        blender -b --factory-startup --python-exit-code 1 -P tests/blender34/test_legacy_install.py

No pytest (Debian's Blender 3.4 has none): it runs top to bottom, prints each step and
ends with ``legacy install: PASSED``; any failed assert exits 1. ``scripts/test.sh``'s
``blender-3.4`` suite runs every ``tests/blender34/test_*.py`` like this, each in its own
Blender with its own user dir.

Steps: build ``avatar_importer-<version>-legacy.zip`` (``scripts/build.py --only legacy``;
or take it from ``$AVATAR_DIST``), ``preferences.addon_install`` it into the isolated user
dir, enable it with the repo NOT importable (the installed copy must be the one used),
create a sandbox avatar with its operator (pumped by hand: timers never fire while this
script runs), check the add-on wrote nothing into its own folder, disable it and check
nothing is left (classes, timers, threads), then remove it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from pathlib import Path
from typing import Any

import addon_utils
import bpy

REPO = Path(__file__).resolve().parents[2]
ADDON = "avatar_importer"
THREAD_PREFIXES = ("avatar-job", "avatar-static", "sandbox-")
CLASS_NAMES = ("AVATAR_IMPORTER_OT_create", "AVATAR_IMPORTER_OT_cancel",
               "AVATAR_IMPORTER_AP_preferences", "AVATAR_IMPORTER_PG_options",
               "VIEW3D_PT_avatar_importer")
TMP = Path(tempfile.mkdtemp(prefix="avatar-legacy-"))
T0 = time.monotonic()


def step(text: str) -> None:
    print(f"[legacy-install {time.monotonic() - T0:6.1f}s] {text}", flush=True)


def _raise(exc: BaseException) -> None:
    raise exc


def manifest_version() -> str:
    with open(REPO / "blender_manifest.toml", "rb") as fh:
        return str(tomllib.load(fh)["version"])


def legacy_zip() -> Path:
    name = f"{ADDON}-{manifest_version()}-legacy.zip"
    if os.environ.get("AVATAR_DIST"):
        path = Path(os.environ["AVATAR_DIST"]) / name
        assert path.is_file(), f"AVATAR_DIST is set but {path} does not exist"
        return path
    python = sys.executable if Path(sys.executable).name.startswith("python") \
        else shutil.which("python3.11") or shutil.which("python3") or "python3"
    proc = subprocess.run([python, str(REPO / "scripts" / "build.py"), "--only", "legacy",
                           "--output-dir", str(TMP / "dist")],
                          capture_output=True, text=True, timeout=300, cwd=TMP,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return TMP / "dist" / name


def hide_repo() -> None:
    """Make the repo's ``avatar_importer`` unimportable (PYTHONPATH or cwd may add it)."""
    os.chdir(TMP)
    sys.path[:] = [p for p in sys.path
                   if p not in ("", ".") and Path(p).resolve() != REPO]
    for name in [m for m in sys.modules if m == ADDON or m.startswith(ADDON + ".")]:
        del sys.modules[name]


def worker_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(THREAD_PREFIXES)]


def package_files(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(folder).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*")
            if p.is_file() and "__pycache__" not in p.relative_to(folder).parts}


def assert_nothing_left(runtime: Any) -> None:
    assert addon_utils.check(ADDON)[1] is False, addon_utils.check(ADDON)
    assert ADDON not in bpy.context.preferences.addons
    for name in CLASS_NAMES:
        assert not hasattr(bpy.types, name), f"{name} still registered"
    assert not hasattr(bpy.types.Scene, "avatar_importer"), "Scene.avatar_importer left"
    assert not bpy.app.timers.is_registered(runtime.pump_tick), "pump timer left"
    assert not runtime._State.engines and runtime._State.sandbox is None
    assert not worker_threads(), f"threads left: {worker_threads()}"


def main() -> None:
    user_env = os.environ.get("BLENDER_USER_RESOURCES")
    assert user_env, "set BLENDER_USER_RESOURCES to a private folder: this installs an add-on"
    user_dir = Path(user_env).resolve()
    os.environ["AVATAR_IMPORTER_CACHE"] = str(TMP / "cache")  # legacy: no extension dir
    step(f"{bpy.app.version_string}, user dir {user_dir}")

    zip_path = legacy_zip()
    step(f"zip {zip_path}")
    hide_repo()
    assert ADDON not in sys.modules

    assert bpy.ops.preferences.addon_install(filepath=str(zip_path)) == {"FINISHED"}
    addons_dir = Path(bpy.utils.user_resource("SCRIPTS", path="addons")).resolve()
    pkg_dir = addons_dir / ADDON
    assert pkg_dir.is_dir() and pkg_dir.is_relative_to(user_dir), (pkg_dir, user_dir)
    assert not (pkg_dir / "blender_manifest.toml").exists()
    step(f"installed into {pkg_dir}")

    mod = addon_utils.enable(ADDON, default_set=True, handle_error=_raise)
    assert mod is not None and addon_utils.check(ADDON) == (True, True)
    mod_file = Path(sys.modules[ADDON].__file__).resolve()
    assert mod_file == pkg_dir / "__init__.py", f"not the installed copy: {mod_file}"
    version = tuple(int(x) for x in manifest_version().split("-")[0].split("+")[0].split("."))
    assert tuple(mod.bl_info["version"]) == version, (mod.bl_info["version"], version)
    runtime = sys.modules[f"{ADDON}.blender.runtime"]
    assert Path(runtime.__file__).resolve().is_relative_to(pkg_dir)
    prefs = bpy.context.preferences.addons[ADDON].preferences
    assert type(prefs).__name__ == "AVATAR_IMPORTER_AP_preferences"
    assert runtime.cache_root(prefs) == TMP / "cache", runtime.cache_root(prefs)
    step(f"enabled {mod_file} (bl_info version {mod.bl_info['version']})")

    before = package_files(pkg_dir)
    from avatar_importer.sandbox.assets import build_thumbnail  # the installed copy
    photo = TMP / "Legacy.png"
    photo.write_bytes(build_thumbnail("legacy", 48))
    prefs.service = "sandbox"
    prefs.sandbox_compute_seconds = 0.3
    bpy.context.scene.avatar_importer.photo = str(photo)
    start = time.monotonic()
    assert bpy.ops.avatar_importer.create() == {"FINISHED"}
    (job,) = runtime.all_jobs()
    assert bpy.app.timers.is_registered(runtime.pump_tick)
    deadline = time.monotonic() + 120
    while not job.stage.final and time.monotonic() < deadline:
        runtime.pump_tick()
        time.sleep(0.01)
    assert job.stage.value == "done", (job.status_line(), job.error)
    coll = bpy.data.collections["Legacy"]
    assert any(o.type == "ARMATURE" for o in coll.all_objects)
    assert {"AvatarHead", "AvatarBody"} <= {o.name.split(".")[0] for o in coll.all_objects}
    images = [img for img in bpy.data.images if img.source == "FILE"]
    assert images and all(img.size[0] > 0 for img in images)  # pixels load
    assert any(p.is_file() for p in (TMP / "cache" / "static").rglob("*"))
    step(f"sandbox avatar imported through the installed copy in "
         f"{time.monotonic() - start:.1f}s")

    addon_utils.disable(ADDON, default_set=True, handle_error=_raise)
    assert_nothing_left(runtime)
    after = package_files(pkg_dir)
    assert after == before, f"files written into the installed add-on: {set(after) ^ set(before)}"
    step("disabled: no classes, timers or threads left; nothing written into the add-on")

    # addon_remove ends with context.area.tag_redraw(): give it a window and an area
    window = bpy.context.window_manager.windows[0]
    with bpy.context.temp_override(window=window, area=window.screen.areas[0]):
        assert bpy.ops.preferences.addon_remove(module=ADDON) == {"FINISHED"}
    assert not pkg_dir.exists(), "add-on folder left after addon_remove"
    step("removed")


try:
    main()
finally:
    shutil.rmtree(TMP, ignore_errors=True)
print("legacy install: PASSED", flush=True)
