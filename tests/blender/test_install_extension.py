"""The built extension zip, installed the way a user installs it (Blender 4.2+ wheels).

Install with ``extensions.package_install_files`` into the ``user_default`` repository of
an isolated ``BLENDER_USER_RESOURCES``, then use the INSTALLED copy
(``bl_ext.user_default.avatar_importer``, not the repo's ``avatar_importer``): preferences
by ``__package__``, the cache under ``extension_path_user``, a sandbox avatar created by
its operator and pumped by hand (timers never fire in the wheel), no file written into the
installed package; then disable, enable, uninstall and prove nothing is left behind.

The zip comes from ``scripts/build.py`` (run once per session with this bpy's own
``blender_ext.py``), or from ``$AVATAR_DIST/avatar_importer-<version>.zip`` when
``AVATAR_DIST`` is set (e.g. CI's already built ``dist/``).
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import threading
import time
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import addon_utils
import bpy
import pytest

ROOT = Path(__file__).resolve().parents[2]
PKG_ID = "avatar_importer"
REPO_NAME = "user_default"
MODULE = f"bl_ext.{REPO_NAME}.{PKG_ID}"
THREAD_PREFIXES = ("avatar-job", "avatar-static", "sandbox-")
CLASS_NAMES = ("AVATAR_IMPORTER_OT_create", "AVATAR_IMPORTER_OT_cancel",
               "AVATAR_IMPORTER_AP_preferences", "AVATAR_IMPORTER_PG_options",
               "VIEW3D_PT_avatar_importer")

pytestmark = pytest.mark.skipif(bpy.app.version < (4, 2, 0),
                                reason="extensions exist from Blender 4.2")


def _raise(exc: BaseException) -> None:
    raise exc


def manifest_version() -> str:
    with open(ROOT / "blender_manifest.toml", "rb") as fh:
        return str(tomllib.load(fh)["version"])


@pytest.fixture(scope="session")
def extension_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    name = f"{PKG_ID}-{manifest_version()}.zip"
    if os.environ.get("AVATAR_DIST"):
        path = Path(os.environ["AVATAR_DIST"]) / name
        assert path.is_file(), f"AVATAR_DIST is set but {path} does not exist"
        return path
    out = tmp_path_factory.mktemp("dist")
    tool = Path(bpy.utils.system_resource("SCRIPTS")) / "addons_core/bl_pkg/cli/blender_ext.py"
    assert tool.is_file(), tool
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "build.py"), "--only",
                           "extension", "--output-dir", str(out), "--blender-ext", str(tool)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (out / name).is_file(), proc.stdout
    return out / name


@pytest.fixture
def user_dir() -> Path:
    env = os.environ.get("BLENDER_USER_RESOURCES")
    if not env:
        pytest.skip("installs an extension: needs an isolated BLENDER_USER_RESOURCES "
                    "(scripts/run_blender_tests.sh sets one)")
    return Path(env).resolve()


def worker_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(THREAD_PREFIXES)]


def package_files(folder: Path) -> dict[str, tuple[int, int]]:
    """relative path -> (size, mtime_ns) of every file, ignoring __pycache__."""
    return {p.relative_to(folder).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*")
            if p.is_file() and "__pycache__" not in p.relative_to(folder).parts}


def repo_index() -> int:
    names = [repo.module for repo in bpy.context.preferences.extensions.repos]
    return names.index(REPO_NAME)


def repo_dir() -> Path:
    return Path(bpy.context.preferences.extensions.repos[repo_index()].directory).resolve()


def assert_nothing_registered(runtime: Any) -> None:
    for name in CLASS_NAMES:
        assert not hasattr(bpy.types, name), f"{name} still registered"
    assert not hasattr(bpy.types.Scene, "avatar_importer"), "Scene.avatar_importer left"
    assert MODULE not in bpy.context.preferences.addons
    assert not bpy.app.timers.is_registered(runtime.pump_tick), "pump timer left"
    assert not runtime._State.engines and runtime._State.sandbox is None
    assert not worker_threads(), f"threads left: {worker_threads()}"


def pump_until_final(runtime: Any, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runtime.pump_tick()
        jobs = runtime.all_jobs()
        if jobs and all(job.stage.final for job in jobs):
            return
        time.sleep(0.01)
    pytest.fail(f"jobs not final after {timeout}s: "
                f"{[j.status_line() for j in runtime.all_jobs()]}")


def test_extension_zip_contents(extension_zip: Path) -> None:
    with zipfile.ZipFile(extension_zip) as zf:
        names = zf.namelist()
        manifest = tomllib.loads(zf.read("blender_manifest.toml").decode())
    assert manifest["id"] == PKG_ID and manifest["version"] == manifest_version()
    assert manifest["blender_version_min"] == "4.2.0"
    assert set(manifest["permissions"]) == {"network", "files"}
    assert "__init__.py" in names and "core/engine.py" in names and "blender/batch.py" in names
    # the blender/ subpackages travel too (the add-on cannot register without them)
    assert {"blender/ui/prefs.py", "blender/importing/importer.py",
            "blender/library/assets.py", "blender/animation/apply.py"} <= set(names)
    assert not [n for n in names if n.startswith(("tests/", "scripts/"))
                or "__pycache__" in n or n.endswith(".pyc")]


def test_install_use_disable_enable_uninstall(extension_zip: Path, user_dir: Path,
                                              tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AVATAR_IMPORTER_CACHE", raising=False)
    assert MODULE not in bpy.context.preferences.addons
    result = bpy.ops.extensions.package_install_files(
        repo=REPO_NAME, filepath=str(extension_zip), enable_on_install=True)
    try:
        assert result == {"FINISHED"}, result
        assert MODULE in bpy.context.preferences.addons, \
            list(bpy.context.preferences.addons.keys())
        mod = sys.modules[MODULE]
        pkg_dir = Path(mod.__file__).resolve().parent
        assert pkg_dir == repo_dir() / PKG_ID, (pkg_dir, repo_dir())
        assert pkg_dir.is_relative_to(user_dir), (pkg_dir, user_dir)
        assert not pkg_dir.is_relative_to(ROOT)
        runtime = sys.modules[f"{MODULE}.blender.runtime"]
        assert runtime.ADDON_ID == MODULE

        # preferences resolve by __package__ (bl_ext.user_default.avatar_importer)
        prefs = bpy.context.preferences.addons[MODULE].preferences
        assert type(prefs).__name__ == "AVATAR_IMPORTER_AP_preferences"
        assert type(prefs).bl_idname == MODULE
        assert runtime.preferences() == prefs

        # the cache: Blender's extension user folder, inside the isolated user dir
        cache = runtime.cache_root(prefs).resolve()
        expected = Path(bpy.utils.extension_path_user(MODULE, path="cache")).resolve()
        assert cache == expected, (cache, expected)
        assert cache.is_relative_to(user_dir / "extensions"), (cache, user_dir)
        assert not cache.is_relative_to(pkg_dir)

        # a sandbox avatar through the installed copy's operator, pumped by hand
        before = package_files(pkg_dir)
        assert "blender_manifest.toml" in before and "__init__.py" in before
        assets = importlib.import_module(f"{MODULE}.sandbox.assets")
        photo = tmp_path / "Installed.png"
        photo.write_bytes(assets.build_thumbnail("installed", 48))
        prefs.service = "sandbox"
        prefs.sandbox_compute_seconds = 0.3
        bpy.context.scene.avatar_importer.photo = str(photo)
        start = time.monotonic()
        assert bpy.ops.avatar_importer.create() == {"FINISHED"}
        (job,) = runtime.all_jobs()
        assert bpy.app.timers.is_registered(runtime.pump_tick)
        pump_until_final(runtime)
        assert job.stage.value == "done", job.error
        print(f"\n{bpy.app.version_string}: sandbox avatar through the installed extension "
              f"in {time.monotonic() - start:.1f}s")
        coll = bpy.data.collections["Installed"]
        assert any(o.type == "ARMATURE" for o in coll.all_objects)
        assert {"AvatarHead", "AvatarBody"} <= {o.name.split(".")[0] for o in coll.all_objects}
        assert any(p.is_file() for p in (cache / "static").rglob("*")), \
            "static resources not in the extension cache"
        assert any(p.is_file() for p in (cache / "exports").rglob("*"))

        # disable: nothing left; the add-on wrote nothing into its own folder
        addon_utils.disable(MODULE, default_set=True, handle_error=_raise)
        assert_nothing_registered(runtime)
        assert package_files(pkg_dir) == before, "files written into the installed package"

        # enable again, then uninstall
        addon_utils.enable(MODULE, default_set=True, handle_error=_raise)
        assert MODULE in bpy.context.preferences.addons
        assert hasattr(bpy.types, "AVATAR_IMPORTER_OT_create")
        assert type(bpy.context.preferences.addons[MODULE].preferences).__name__ \
            == "AVATAR_IMPORTER_AP_preferences"
        runtime = sys.modules[f"{MODULE}.blender.runtime"]
    finally:
        if (repo_dir() / PKG_ID).exists():
            result = bpy.ops.extensions.package_uninstall(repo_index=repo_index(),
                                                          pkg_id=PKG_ID)
    assert result == {"FINISHED"}, result
    assert_nothing_registered(runtime)
    assert not pkg_dir.exists(), "package folder left after uninstall"
    assert not cache.exists(), "extension cache left after uninstall"
    assert not addon_utils.check(MODULE)[1]
