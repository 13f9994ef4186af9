"""Studio mode: a manifest in, an asset library and a crowd scene out; the batch script run
as a user runs it (separate processes) against the sandbox on loopback."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import bpy
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "batch_import.py"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from avatar_importer.core import asset_catalogs  # noqa: E402
from avatar_importer.core.row_lock import try_lock  # noqa: E402
from avatar_importer.sandbox.assets import build_thumbnail  # noqa: E402
from avatar_importer.sandbox.server import Sandbox, SandboxConfig  # noqa: E402


def batch(*args: str, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(cwd / "user"))
    for key in ("AVATARSDK_CLIENT_ID", "AVATARSDK_CLIENT_SECRET", "AVATURN_API_TOKEN"):
        env.pop(key, None)
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=cwd)


def creations(sandbox: Sandbox) -> int:
    """Avatars the sandbox created (a refused request creates none)."""
    return sum(1 for r in sandbox.requests_log
               if r.method == "POST" and r.path == "/avatars/" and r.status < 300)


@pytest.fixture
def sandbox():
    sb = Sandbox(SandboxConfig(compute_seconds=1.0, export_seconds=0.1)).start()
    yield sb
    sb.stop()


@pytest.fixture
def cast(tmp_path: Path) -> Path:
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("ada", "bob"):
        (photos / f"{name}.png").write_bytes(build_thumbnail(name, 48))
    (photos / "broken.png").write_text("not a photo")  # the permanent failure
    manifest = tmp_path / "cast.csv"
    manifest.write_text("name,photo,catalog,tags,description,lod\n"
                        "Ada,photos/ada.png,Cast/Leads,lead;hero,The lead,LOD1\n"
                        "Broken,photos/broken.png,,,,\n"
                        "Bob,photos/bob.png,,,,\n")
    return manifest


def common(sandbox: Sandbox, tmp: Path) -> list[str]:
    return ["--service", "sandbox", "--base-url", sandbox.base_url, "--poll-interval", "0.2",
            "--cache-dir", str(tmp / "cache")]


def test_manifest_to_library_and_crowd_then_rerun_creates_nothing(tmp_path, sandbox, cast):
    lib, crowd = tmp_path / "studio" / "lib", tmp_path / "studio" / "crowd.blend"
    proc = batch(*common(sandbox, tmp_path), "--manifest", str(cast), "--library", str(lib),
                 "--assemble", str(crowd), "--report", str(tmp_path / "r.json"), cwd=tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "row 2 (Broken)" in proc.stderr and "not a JPEG or PNG" in proc.stderr
    assert sorted(p.name for p in lib.glob("*.blend")) == ["Ada.blend", "Bob.blend"]
    assert creations(sandbox) == 2, "the bad photo never reached the service"
    report = json.loads((tmp_path / "r.json").read_text())
    assert [r["status"] for r in report["rows"]] == ["done", "failed", "done"]
    assert report["rows"][1]["error_kind"] == "input"

    cats = {c.path: c for c in asset_catalogs.read(lib)}
    assert {"Cast", "Cast/Leads", "Avatars", "Avatars/sandbox", "Avatars/sandbox/female"} \
        <= set(cats)
    catalogue = json.loads((lib / "library.json").read_text())
    assert [a["name"] for a in catalogue["assets"]] == ["Ada", "Bob"]
    assert "Broken" in catalogue["failed_rows"]

    # each asset file, opened on its own: an asset with catalog, tags, description,
    # preview and packed images
    for name, catalog, tags in (("Ada", "Cast/Leads", {"lead", "hero"}),
                                ("Bob", "Avatars/sandbox/female", set())):
        bpy.ops.wm.open_mainfile(filepath=str(lib / f"{name}.blend"))
        coll = bpy.data.collections[name]
        data = coll.asset_data
        assert data is not None
        assert data.catalog_id == cats[catalog].uuid
        assert tags | {"sandbox", "avatar"} == {t.name for t in data.tags}
        code = next(r["avatar_code"] for r in report["rows"] if r["name"] == name)
        assert f"Avatar code: {code}" in data.description and "Service: sandbox" in \
            data.description and "lod=LOD1" in data.description
        assert name != "Ada" or data.description.startswith("The lead")
        preview = coll.preview
        assert preview is not None and preview.image_size[0] > 0
        assert max(preview.image_pixels_float) > 0.05, "the preview has a picture"
        assert len(coll.all_objects) >= 10
        images = [i for i in bpy.data.images if i.source == "FILE"]
        assert images and all(i.packed_file is not None for i in images)

    # the crowd, moved with its library to another folder, opened in a fresh Blender
    moved = tmp_path / "elsewhere"
    shutil.copytree(tmp_path / "studio", moved)
    shutil.rmtree(tmp_path / "studio")
    check = textwrap.dedent(f"""
        import json, bpy
        bpy.ops.wm.open_mainfile(filepath={str(moved / 'crowd.blend')!r})
        out = {{
            "libraries": [l.filepath for l in bpy.data.libraries],
            "overrides": sorted(c.name for c in bpy.data.collections
                                if c.override_library is not None),
            "scene": sorted(c.name for c in bpy.context.scene.collection.children),
            "images": [(i.name, tuple(i.size)) for i in bpy.data.images],
            "roots": sorted((tuple(round(v, 3) for v in o.location))
                            for o in bpy.data.objects
                            if o.override_library is not None and o.parent is None),
        }}
        print("RESULT" + json.dumps(out))
    """)
    res = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True,
                         timeout=120, env=dict(os.environ,
                                               BLENDER_USER_RESOURCES=str(tmp_path / "u2")))
    line = next(x for x in res.stdout.splitlines() if x.startswith("RESULT"))
    crowd_info = json.loads(line[len("RESULT"):])
    assert crowd_info["libraries"] == ["//lib/Ada.blend", "//lib/Bob.blend"], "linked, relative"
    assert crowd_info["overrides"] == ["Ada", "Bob"] == crowd_info["scene"]
    assert crowd_info["images"] and all(w > 0 and h > 0 for _n, (w, h) in crowd_info["images"])
    assert len({tuple(r[:2]) for r in crowd_info["roots"]}) == 2, "laid out apart on a grid"

    # rerun (the library moved back): done rows are skipped, nothing is created
    shutil.copytree(moved, tmp_path / "studio")
    stamps = {p.name: p.stat().st_mtime_ns for p in lib.glob("*.blend")}
    again = batch(*common(sandbox, tmp_path), "--manifest", str(cast), "--library", str(lib),
                  cwd=tmp_path)
    assert again.returncode == 1, again.stdout + again.stderr  # the bad row is still bad
    assert "row 1 Ada: skipped" in again.stdout and "row 3 Bob: skipped" in again.stdout
    assert creations(sandbox) == 2
    assert {p.name: p.stat().st_mtime_ns for p in lib.glob("*.blend")} == stamps
    only_good = batch(*common(sandbox, tmp_path), "--manifest", str(cast), "--library",
                      str(lib), "--rows", "3", cwd=tmp_path)
    assert only_good.returncode == 0 and creations(sandbox) == 2


def test_row_killed_midway_resumes_without_second_creation(tmp_path, sandbox, cast):
    sandbox.config.compute_seconds = 4.0
    lib = tmp_path / "lib"
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "user"))
    args = [*common(sandbox, tmp_path), "--manifest", str(cast), "--library", str(lib),
            "--rows", "1"]
    proc = subprocess.Popen([sys.executable, str(SCRIPT), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    state_file = lib / ".avatar_importer" / "rows" / "Ada.json"
    deadline = time.monotonic() + 120
    state: dict = {}
    while time.monotonic() < deadline and not state.get("avatar_code"):
        time.sleep(0.1)
        try:
            state = json.loads(state_file.read_text())
        except (OSError, ValueError):
            state = {}
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert state.get("avatar_code") and state["status"] == "created", state
    assert creations(sandbox) == 1
    assert not (lib / "Ada.blend").exists(), "killed before the import"

    again = batch(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert creations(sandbox) == 1, "resumed, not created again"
    assert f"resuming avatar {state['avatar_code']}" in again.stdout
    done = json.loads(state_file.read_text())
    assert done["status"] == "done" and done["avatar_code"] == state["avatar_code"]
    assert (lib / "Ada.blend").is_file()


def test_row_held_by_another_worker_is_left_to_it_exit_75(tmp_path, cast):
    lib = tmp_path / "lib"
    lock = try_lock(lib / ".avatar_importer" / "locks" / "Ada.lock")
    assert lock is not None
    try:
        proc = batch("--service", "sandbox", "--manifest", str(cast), "--library", str(lib),
                     "--rows", "1", "--cache-dir", str(tmp_path / "cache"), cwd=tmp_path)
    finally:
        lock.release()
    assert proc.returncode == 75, proc.stdout + proc.stderr
    assert "another worker is working on this row" in proc.stderr
    assert not list(lib.glob("*.blend"))


def test_bad_manifest_and_options_exit_2(tmp_path):
    bad = tmp_path / "m.csv"
    bad.write_text("name,photo,shoe_size\nAda,a.png,42\n")
    proc = batch("--service", "sandbox", "--manifest", str(bad), "--library",
                 str(tmp_path / "lib"), cwd=tmp_path)
    assert proc.returncode == 2 and "unknown column(s) 'shoe_size'" in proc.stderr
    proc = batch("--service", "sandbox", "--manifest", str(bad), cwd=tmp_path)
    assert proc.returncode == 2 and "need --library" in proc.stderr
    from avatar_importer.core.library_rows import LibraryRows
    LibraryRows(tmp_path / "lib").update("crowd", status="done")
    proc = batch("--library", str(tmp_path / "lib"), "--assemble",
                 str(tmp_path / "lib" / "crowd.blend"), cwd=tmp_path)
    assert proc.returncode == 2 and "replace the asset of the row named 'crowd'" in proc.stderr


def test_same_manifest_twice_at_once_creates_each_avatar_once(tmp_path, sandbox):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("ann", "ben", "cal"):
        (photos / f"{name}.png").write_bytes(build_thumbnail(name, 40))
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps([{"name": n.title(), "photo": f"photos/{n}.png"}
                                    for n in ("ann", "ben", "cal")]))
    lib = tmp_path / "lib"
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "user"))
    args = [sys.executable, str(SCRIPT), *common(sandbox, tmp_path), "--manifest",
            str(manifest), "--library", str(lib)]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env, cwd=tmp_path) for _ in range(2)]
    results = [(p.wait(240), *p.communicate()) for p in procs]
    codes = sorted(r[0] for r in results)
    assert set(codes) <= {0, 75}, results  # 75: rows left to the other worker
    assert creations(sandbox) == 3, "each row's avatar was created once"
    assert sorted(p.name for p in lib.glob("*.blend")) == ["Ann.blend", "Ben.blend",
                                                           "Cal.blend"]
    rerun = batch(*common(sandbox, tmp_path), "--manifest", str(manifest), "--library",
                  str(lib), cwd=tmp_path)
    assert rerun.returncode == 0 and creations(sandbox) == 3


def test_service_throttling_exits_75_and_the_rerun_finishes(tmp_path, sandbox, cast):
    lib = tmp_path / "lib"
    # every avatar request throttled (Retry-After: 0, so the client's retries are quick)
    sandbox.faults.update({"throttle_next": 1000, "retry_after": 0,
                           "error_path_prefix": "/avatars/"})
    args = [*common(sandbox, tmp_path), "--manifest", str(cast), "--library", str(lib),
            "--rows", "1"]
    down = batch(*args, cwd=tmp_path)
    assert down.returncode == 75, down.stdout + down.stderr
    state = json.loads((lib / ".avatar_importer" / "rows" / "Ada.json").read_text())
    assert state["status"] == "failed" and state["transient"] is True
    assert state["error_kind"] == "throttled"
    assert not (lib / "Ada.blend").exists()
    sandbox.faults.update({"reset": True})
    back = batch(*args, cwd=tmp_path)
    assert back.returncode == 0, back.stdout + back.stderr
    assert (lib / "Ada.blend").is_file() and creations(sandbox) == 1


def test_killed_before_the_row_state_knew_the_code_resumes_from_the_job_record(
        tmp_path, sandbox, cast):
    """The window between the service's answer (saved in this machine's job record at once)
    and the row's state: the next run finds the code through the job id."""
    from avatar_importer.core.avatarsdk import AvatarSdkClient
    from avatar_importer.core.cache import Cache
    from avatar_importer.core.library_rows import LibraryRows
    from avatar_importer.core.params import default_export_parameters

    client = AvatarSdkClient(base_url=sandbox.base_url, client_id="sandbox",
                             client_secret="sandbox")
    player = client.ensure_player()
    avatar = client.create_avatar(tmp_path / "photos" / "ada.png", name="Ada",
                                  subtype="female", parameters={},
                                  export_parameters=default_export_parameters())
    client.close()
    cache = Cache(tmp_path / "cache")
    cache.save_job({"id": "a1b2c3d4e5f6", "state": "active", "stage": "computing",
                    "service": "sandbox", "base_url": sandbox.base_url, "player": player,
                    "avatar_code": avatar.code, "spec": {"name": "Ada"}})
    lib = tmp_path / "lib"
    LibraryRows(lib).update("Ada", status="creating", job_id="a1b2c3d4e5f6",
                            service="sandbox", base_url=sandbox.base_url)
    assert creations(sandbox) == 1

    proc = batch(*common(sandbox, tmp_path), "--manifest", str(cast), "--library", str(lib),
                 "--rows", "1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "job record remembers" in proc.stdout
    assert creations(sandbox) == 1, "no second creation"
    state = LibraryRows(lib).load("Ada")
    assert state["status"] == "done" and state["avatar_code"] == avatar.code
    assert cache.load_job("a1b2c3d4e5f6")["state"] == "superseded"
