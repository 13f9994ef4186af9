"""The Avaturn client against the sandbox's Avaturn API (real sockets on 127.0.0.1)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import FAST_RETRY, settled_log

from avatar_importer.core.avaturn import AvaturnAvatar, AvaturnClient, ExportState
from avatar_importer.core.errors import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    ConfigError,
    InputError,
    NotFoundError,
    ProtocolError,
)
from avatar_importer.core.glb import read_glb
from avatar_importer.core.transport import validation_detail
from avatar_importer.sandbox.assets import build_thumbnail
from avatar_importer.sandbox.server import Sandbox, SandboxConfig

TOKEN = "sandbox-avaturn"


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    # files (uploads, exports) on a second listener: "another host" for the client
    return SandboxConfig(compute_seconds=0.3, export_seconds=0.1, separate_static_host=True)


def make_avaturn(sb: Sandbox, **kw: Any) -> AvaturnClient:
    args: dict[str, Any] = {"base_url": sb.base_url, "api_token": TOKEN, "retry": FAST_RETRY,
                            "timeout": (2.0, 5.0)}
    args.update(kw)
    return AvaturnClient(**args)


@pytest.fixture
def photos(tmp_path: Path) -> list[Path]:
    paths = []
    for name in ("front.png", "left.png", "right.jpg"):
        path = tmp_path / name
        data = build_thumbnail(name, 32)
        path.write_bytes(b"\xff\xd8\xff\xe0" + data if name.endswith(".jpg") else data)
        paths.append(path)
    return paths


def wait_ready(client: AvaturnClient, avatar_id: str, timeout: float = 5.0) -> AvaturnAvatar:
    until = time.monotonic() + timeout
    while True:
        avatar = client.get_avatar(avatar_id)
        if avatar.ready or time.monotonic() > until:
            assert avatar.ready, avatar
            return avatar
        time.sleep(0.05)


def ready_export(client: AvaturnClient, avatar_id: str, timeout: float = 5.0) -> ExportState:
    until = time.monotonic() + timeout
    first = None
    while True:
        state = client.request_export(avatar_id)
        first = first or state
        if state.ready or time.monotonic() > until:
            assert first.status == "pending" and first.url is None
            assert state.ready, state
            return state
        time.sleep(0.05)


def finish(session_url: str, **fields: str) -> dict[str, Any]:
    resp = requests.post(session_url + "finish", data=fields, timeout=5)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def browser_avatar(client: AvaturnClient, body_type: str = "male") -> str:
    session = client.create_session("create")
    return str(finish(session.url, body_type=body_type)["avatar_id"])


# --- users and sessions ------------------------------------------------------------------


def test_user_is_created_once_and_reused(sandbox: Sandbox) -> None:
    client = make_avaturn(sandbox)
    user = client.ensure_user()
    assert len(user) == 32 and client.ensure_user() == user
    client.list_avatars()
    assert len(sandbox.requests_to("/api/v1/users/new")) == 1
    again = make_avaturn(sandbox, user_id=user)  # a kept id: no new user
    assert again.list_avatars() == []
    assert len(sandbox.requests_to("/api/v1/users/new")) == 1
    fresh = client.create_user()  # a new one on request
    assert fresh != user and client.user_id == fresh


def test_the_three_session_types(sandbox: Sandbox) -> None:
    client = make_avaturn(sandbox)
    created = client.create_session("create")
    assert created.url.startswith(sandbox.base_url) and created.id in created.url
    page = requests.get(created.url, timeout=5)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    assert 'action="finish"' in page.text and "Finish" in page.text
    avatar_id = finish(created.url)["avatar_id"]

    edit = client.create_session("edit_existing", avatar_id=avatar_id)
    assert edit.url != created.url
    assert f'value="{avatar_id}"' in requests.get(edit.url, timeout=5).text
    either = client.create_session()  # create_or_edit_existing
    assert either.id not in (created.id, edit.id)

    with pytest.raises(InputError, match="edit_existing"):
        client.create_session("edit_existing")
    with pytest.raises(InputError, match="session type"):
        client.create_session("clone")
    with pytest.raises(NotFoundError):
        client.create_session("edit_existing", avatar_id="0" * 32)


def test_session_finish_rules(sandbox: Sandbox) -> None:
    client = make_avaturn(sandbox)
    session = client.create_session("create")
    first = finish(session.url, body_type="female")
    assert first["type"] == "create" and first["status"] == "processing"
    again = requests.post(session.url + "finish", timeout=5)
    assert again.status_code == 409 and "finished" in again.json()["detail"]
    unknown = requests.post(f"{sandbox.base_url}avaturn/session/{'a' * 32}/finish", timeout=5)
    assert unknown.status_code == 404
    html = requests.post(client.create_session("create").url + "finish",
                         headers={"Accept": "text/html"}, timeout=5)
    assert html.status_code == 200 and "close this page" in html.text


# --- the browser flow: finish -> listed -> export -> GLB ------------------------------------


def test_browser_session_to_downloaded_glb(sandbox: Sandbox, tmp_path: Path) -> None:
    client = make_avaturn(sandbox)
    avatar_id = browser_avatar(client)
    listed = client.list_avatars()
    assert [a.id for a in listed] == [avatar_id] and listed[0].status == "processing"
    assert client.list_avatars(include_not_ready=False) == []
    avatar = wait_ready(client, avatar_id)
    assert avatar.gender == "male" and avatar.created_at and avatar.thumbnail
    assert [a.id for a in client.list_avatars(include_not_ready=False)] == [avatar_id]

    state = ready_export(client, avatar_id)
    assert state.url is not None and state.url.startswith(sandbox.static_base_url)
    size = client.download(state.url, tmp_path / "model.glb")
    glb = read_glb(tmp_path / "model.glb")
    assert size == (tmp_path / "model.glb").stat().st_size
    assert glb.json["nodes"][0]["name"] == "Armature"
    assert "avaturn_body" in [m["name"] for m in glb.json["meshes"]]  # classic layout

    log = settled_log(sandbox)
    api = [r for r in log if r.path.startswith("/api/v1/")]
    files = [r for r in log if r.path.startswith("/avaturn-exports/")]
    assert api and all(r.had_authorization and r.listener == "api" for r in api)
    assert files and not any(r.had_authorization for r in files)
    assert all(r.listener == "static" for r in files)


def test_edit_existing_changes_the_avatar(sandbox: Sandbox, tmp_path: Path) -> None:
    client = make_avaturn(sandbox)
    avatar_id = browser_avatar(client)
    before = wait_ready(client, avatar_id)
    time.sleep(0.01)
    edit = client.create_session("edit_existing", avatar_id=avatar_id)
    assert finish(edit.url, body_type="female")["avatar_id"] == avatar_id
    after = client.get_avatar(avatar_id)
    assert after.status == "processing" and after.updated_at > before.updated_at
    after = wait_ready(client, avatar_id)
    assert after.gender == "female"
    url = ready_export(client, avatar_id).url
    assert url is not None
    client.download(url, tmp_path / "edited.glb")
    meshes = [m["name"] for m in read_glb(tmp_path / "edited.glb").json["meshes"]]
    assert "Head_Mesh" in meshes  # female: the split-head layout
    # create_or_edit_existing: the avatar named at finish is edited, none given -> new
    either = client.create_session()
    assert finish(either.url, avatar_id=avatar_id)["avatar_id"] == avatar_id
    new = finish(client.create_session().url)["avatar_id"]
    assert new != avatar_id and len(client.list_avatars()) == 2


# --- creation from photos ----------------------------------------------------------------


def test_create_from_photos(sandbox: Sandbox, photos: list[Path], tmp_path: Path) -> None:
    client = make_avaturn(sandbox)
    created = client.create_from_photos(photos[0], photos[1:], body_type="female",
                                        telephoto=True)
    assert created.upload_url.startswith(sandbox.static_base_url)
    avatar = wait_ready(client, created.avatar_id)
    assert avatar.gender == "female" and avatar.source == "photos"
    with pytest.raises(ApiError, match="no customization") as refused:
        client.request_export(created.avatar_id)  # the sandbox refuses to skip it
    assert refused.value.status == 409
    client.settle_customization(created.avatar_id)
    url = ready_export(client, created.avatar_id).url
    assert url is not None
    client.download(url, tmp_path / "photo.glb")
    head = next(m for m in read_glb(tmp_path / "photo.glb").json["meshes"]
                if m["name"] == "Head_Mesh")
    assert len(head["extras"]["targetNames"]) == 67
    uploads = [r for r in settled_log(sandbox) if r.path.startswith("/avaturn-upload/")]
    assert len(uploads) == 1 and uploads[0].status == 200
    assert not uploads[0].had_authorization and uploads[0].listener == "static"


def test_photos_are_checked_before_anything_is_sent(sandbox: Sandbox, photos: list[Path],
                                                     tmp_path: Path) -> None:
    client = make_avaturn(sandbox, user_id="f" * 32)
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(InputError, match="not a JPEG or PNG"):
        client.create_from_photos(photos[0], [photos[1], text], body_type="male")
    with pytest.raises(InputError, match="does not exist"):
        client.create_from_photos(tmp_path / "missing.jpg", photos[1:], body_type="male")
    with pytest.raises(InputError, match="two side photos at most"):
        client.create_from_photos(photos[0], photos, body_type="male")
    with pytest.raises(InputError, match="male or female"):
        client.create_from_photos(photos[0], photos[1:], body_type="other")
    assert settled_log(sandbox) == []


def test_upload_url_on_the_api_host_gets_the_token(photos: list[Path]) -> None:
    """Without a second listener the upload URL is on the API host: the Transport may send
    the bearer token there (it is the API host), and the upload works."""
    with Sandbox(SandboxConfig(compute_seconds=0.2, export_seconds=0.05)) as sb:
        client = make_avaturn(sb)
        created = client.create_from_photos(photos[0], photos[1:], body_type="male")
        assert created.upload_url.startswith(sb.base_url)
        assert wait_ready(client, created.avatar_id).gender == "male"


# --- errors ------------------------------------------------------------------------------


def test_validation_errors_are_readable(sandbox: Sandbox, photos: list[Path]) -> None:
    client = make_avaturn(sandbox)
    target = client.new_photo_avatar()
    only_front = client.check_photos(photos[0], [])
    with pytest.raises(BadRequestError) as err:
        client.upload_photos(target.upload_url, only_front, body_type="male")
    assert err.value.status == 422
    assert str(err.value) == ("The service rejected the request's data: image-side-1: field "
                              "required; image-side-2: field required")
    with pytest.raises(BadRequestError, match=r"config\.avatar_id: field required"):
        client.transport.json("POST", "api/v1/sessions/new", json_body={
            "user_id": client.ensure_user(), "config": {"type": "edit_existing"}})
    assert validation_detail([{"loc": ["query", "avatar_id"], "msg": "field required",
                               "type": "value_error.missing"}, "odd"]) == (
        "avatar_id: field required; odd")


def test_wrong_token_is_a_clear_error(sandbox: Sandbox) -> None:
    secret = "wrong-token-value"
    client = make_avaturn(sandbox, api_token=secret)
    assert secret not in repr(client)
    with pytest.raises(AuthenticationError) as err:
        client.ensure_user()
    assert "API token" in str(err.value) and "AVATURN_API_TOKEN" in str(err.value)
    assert secret not in str(err.value)
    assert len(settled_log(sandbox)) == 1  # a static token: no pointless second try
    with pytest.raises(ConfigError, match="token is missing"):
        make_avaturn(sandbox, api_token=" ")


def test_delete_avatar(sandbox: Sandbox) -> None:
    client = make_avaturn(sandbox)
    keep, gone = browser_avatar(client), browser_avatar(client)
    client.delete_avatar(gone)
    assert [a.id for a in client.list_avatars()] == [keep]
    with pytest.raises(NotFoundError, match="not among"):
        client.get_avatar(gone)
    with pytest.raises(NotFoundError):
        client.delete_avatar(gone)
    with pytest.raises(NotFoundError):
        client.request_export(gone)
    with pytest.raises(InputError, match="plain id"):
        client.delete_avatar("../users")


def test_export_url_is_temporary(tmp_path: Path) -> None:
    config = SandboxConfig(compute_seconds=0.1, export_seconds=0.05, avaturn_url_seconds=0.3)
    with Sandbox(config) as sb:
        client = make_avaturn(sb)
        avatar_id = browser_avatar(client)
        wait_ready(client, avatar_id)
        url = ready_export(client, avatar_id).url
        assert url is not None and client.request_export(avatar_id).url == url
        time.sleep(0.35)
        with pytest.raises(ApiError, match="expired") as err:
            client.download(url, tmp_path / "late.glb")
        assert err.value.status == 410 and not (tmp_path / "late.glb").exists()
        fresh = client.request_export(avatar_id)
        assert fresh.ready and fresh.url != url
        assert fresh.url is not None
        client.download(fresh.url, tmp_path / "fresh.glb")
        read_glb(tmp_path / "fresh.glb")


def test_failed_avatar_cannot_be_exported(sandbox: Sandbox) -> None:
    client = make_avaturn(sandbox)
    sandbox.faults.fail_next_avatars = 1
    avatar_id = browser_avatar(client)
    time.sleep(0.35)
    avatar = client.get_avatar(avatar_id)
    assert avatar.failed and not avatar.ready
    with pytest.raises(ApiError, match="failed") as err:
        client.request_export(avatar_id)
    assert err.value.status == 409


def test_throttling_and_server_errors_are_retried(sandbox: Sandbox) -> None:
    client = make_avaturn(sandbox)
    sandbox.faults.update({"throttle_next": 1, "retry_after": 0, "error_path_prefix": "/api/"})
    assert client.ensure_user()
    sandbox.faults.update({"error_next": 2, "error_status": 503})
    assert client.list_avatars() == []


def test_avatar_records_are_read_tolerantly() -> None:
    assert AvaturnAvatar.from_json({"id": "a", "ready": True}).ready
    done = AvaturnAvatar.from_json({"id": "a", "status": "COMPLETED", "body_type": "male",
                                    "preview": "https://x/p.png"})
    assert done.ready and done.gender == "male" and done.thumbnail == "https://x/p.png"
    failed = AvaturnAvatar.from_json({"id": "a", "status": "failed", "ready": True})
    assert failed.failed and not failed.ready
    waiting = AvaturnAvatar.from_json({"id": "a", "status": "processing", "progress": 42.5,
                                       "unknown": [1]})
    assert not waiting.ready and waiting.progress == 42
    assert not AvaturnAvatar.from_json({"id": "a"}).ready
    with pytest.raises(ProtocolError):
        AvaturnAvatar.from_json({"status": "ready"})
    assert not ExportState("ready", None).ready and ExportState("ready", "https://x").ready
