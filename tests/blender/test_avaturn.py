"""Avaturn in real Blender against the sandbox: the batch from photos and by avatar id,
the panel's editor session (opened, finished on the sandbox, offered, imported) and the
panel's creation from photos. Both GLB layouts import with their shape keys."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import addon_utils
import bpy
import pytest
import requests
from test_batch import run_batch

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from avatar_importer.core.avaturn import AvaturnClient  # noqa: E402
from avatar_importer.sandbox.assets import build_thumbnail  # noqa: E402
from avatar_importer.sandbox.server import Sandbox, SandboxConfig  # noqa: E402

TOKEN = "sandbox-avaturn"


@pytest.fixture
def photos(tmp_path: Path) -> list[Path]:
    out = []
    for name in ("front", "left", "right"):
        path = tmp_path / f"{name}.png"
        path.write_bytes(build_thumbnail(name, 48))
        out.append(path)
    return out


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    sb = Sandbox(SandboxConfig(compute_seconds=0.5, export_seconds=0.1,
                               separate_static_host=True)).start()
    yield sb
    sb.stop()


def test_batch_from_photos_split_head_layout(tmp_path, photos, sandbox):
    report = tmp_path / "r.json"
    proc = run_batch("--service", "avaturn", "--base-url", sandbox.base_url, "--token", TOKEN,
                     "--photo", str(photos[0]), "--side-photo", str(photos[1]),
                     "--side-photo", str(photos[2]), "--body-type", "female",
                     "--poll-interval", "0.1", "--cache-dir", str(tmp_path / "cache"),
                     "--report", str(report), tmp=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    avatar = json.loads(report.read_text())["avatars"][0]
    assert avatar["status"] == "done" and avatar["service"] == "avaturn"
    assert avatar["shape_keys"]["Head_Mesh"] >= 52 + 14  # ARKit and visemes
    assert {"Teeth_Mesh", "Eye_Mesh", "Eyelash_Mesh", "Body_Mesh"} <= set(avatar["objects"])
    assert all(img["resolved"] for img in avatar["images"])
    # the token went to the API only: never to the upload URL's or the export URL's host
    seen = [r for r in sandbox.requests_log if r.path.startswith(("/avaturn-upload/",
                                                                  "/avaturn-exports/"))]
    assert seen and not any(r.had_authorization for r in seen)
    assert TOKEN not in report.read_text() + proc.stdout + proc.stderr


def test_batch_imports_an_existing_avatar_by_id(tmp_path, sandbox):
    client = AvaturnClient(base_url=sandbox.base_url, api_token=TOKEN)
    user = client.ensure_user()
    session = client.create_session("create")
    requests.post(session.url.rstrip("/") + "/finish", data={"body_type": "male"},
                  timeout=10).raise_for_status()
    deadline = time.monotonic() + 20
    while not [a for a in client.list_avatars() if a.ready] and time.monotonic() < deadline:
        time.sleep(0.1)
    avatar_id = client.list_avatars()[0].id
    report = tmp_path / "r.json"
    proc = run_batch("--service", "avaturn", "--base-url", sandbox.base_url, "--token", TOKEN,
                     "--player", user, "--avatar-id", avatar_id, "--poll-interval", "0.1",
                     "--cache-dir", str(tmp_path / "cache"), "--report", str(report),
                     tmp=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    avatar = json.loads(report.read_text())["avatars"][0]
    assert avatar["status"] == "done" and avatar["avatar_code"] == avatar_id
    names = {n.split(".")[0] for n in avatar["objects"]}
    assert {"avaturn_body", "avaturn_hair_0", "avaturn_hair_1", "avaturn_look_0",
            "avaturn_shoes_0"} <= names
    assert avatar["bone_count"] >= 50
    assert not [r for r in sandbox.requests_log if r.method == "POST"
                and r.path.startswith("/api/v1/avatars/new")], "nothing was created anew"


def test_wrong_token_fails_clearly(tmp_path, photos, sandbox):
    report = tmp_path / "r.json"
    proc = run_batch("--service", "avaturn", "--base-url", sandbox.base_url,
                     "--token", "wrong-token-123", "--photo", str(photos[0]),
                     "--side-photo", str(photos[1]), "--side-photo", str(photos[2]),
                     "--cache-dir", str(tmp_path / "cache"), "--report", str(report),
                     tmp=tmp_path)
    assert proc.returncode == 1
    error = json.loads(report.read_text())["avatars"][0]["error"]
    assert "token" in error.lower()
    assert "wrong-token-123" not in report.read_text() + proc.stdout + proc.stderr


@pytest.fixture
def ui(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    monkeypatch.setenv("AVATAR_IMPORTER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("BROWSER", "true")  # "open the browser" = a command that does nothing
    addon_utils.enable("avatar_importer", default_set=True, handle_error=None)
    prefs = bpy.context.preferences.addons["avatar_importer"].preferences
    prefs.service = "sandbox_avaturn"
    prefs.sandbox_compute_seconds = 0.4
    from avatar_importer.blender import runtime
    from avatar_importer.blender.ui import browse
    yield runtime, browse
    addon_utils.disable("avatar_importer", default_set=True, handle_error=None)


def pump(runtime, done, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        runtime.pump_tick()
        time.sleep(0.01)
    assert done(), [j.status_line() for j in runtime.all_jobs()]


def test_panel_editor_session_is_offered_and_imported(ui):
    runtime, browse = ui
    assert bpy.ops.avatar_importer.open_editor(kind="create") == {"FINISHED"}
    pump(runtime, lambda: browse.watching()[0])
    _active, url, offered = browse.watching()
    assert url and offered == []
    # the user finishes the editor session in the browser (the sandbox's page button)
    requests.post(url.rstrip("/") + "/finish", data={"body_type": "female"},
                  timeout=10).raise_for_status()
    pump(runtime, lambda: browse.watching()[2], timeout=30)
    avatar = browse.watching()[2][0]
    bpy.ops.avatar_importer.import_avatar(code=avatar.code, name="Edited")
    assert browse.watching()[2] == []
    job = next(j for j in runtime.all_jobs() if j.spec.name == "Edited")
    pump(runtime, lambda: job.stage.final)
    assert job.stage.value == "done", job.error
    head = next(o for o in bpy.data.collections["Edited"].all_objects
                if o.name.startswith("Head_Mesh"))
    assert len(head.data.shape_keys.key_blocks) - 1 >= 66
    bpy.ops.avatar_importer.stop_watching()
    assert not browse.watching()[0]


def test_panel_creates_from_three_photos(ui, photos):
    runtime, _browse = ui
    opts = bpy.context.scene.avatar_importer
    opts.photo = str(photos[0])
    with pytest.raises(RuntimeError, match="two side photos"):
        bpy.ops.avatar_importer.create()
    opts.side_photo_1, opts.side_photo_2 = str(photos[1]), str(photos[2])
    opts.subtype = "male"
    opts.avatar_name = "Turned"
    assert bpy.ops.avatar_importer.create() == {"FINISHED"}
    job = next(j for j in runtime.all_jobs() if j.spec.name == "Turned")
    pump(runtime, lambda: job.stage.final)
    assert job.stage.value == "done", job.error
    names = {o.name.split(".")[0] for o in bpy.data.collections["Turned"].all_objects}
    assert "avaturn_body" in names
