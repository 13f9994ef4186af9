"""AvaturnService driven by the job engine, its browsing calls, and the settings factory."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import FAST_RETRY, settled_log

from avatar_importer.core.avaturn import AvaturnClient
from avatar_importer.core.avaturn_service import AvaturnService, export_code
from avatar_importer.core.cache import Cache
from avatar_importer.core.engine import EngineOptions, JobEngine
from avatar_importer.core.errors import ConfigError, InputError
from avatar_importer.core.glb import read_glb
from avatar_importer.core.settings import SERVICES, ServiceSettings, make_service
from avatar_importer.core.stages import JobSpec, JobState, Stage
from avatar_importer.sandbox.assets import build_thumbnail
from avatar_importer.sandbox.server import Sandbox, SandboxConfig

TOKEN = "sandbox-avaturn"


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(compute_seconds=0.3, export_seconds=0.1, separate_static_host=True)


@pytest.fixture
def photos(tmp_path: Path) -> list[Path]:
    paths = []
    for name in ("front", "left", "right"):
        path = tmp_path / f"{name}.png"
        path.write_bytes(build_thumbnail(name, 32))
        paths.append(path)
    return paths


def make_service_for(sb: Sandbox, token: str = TOKEN, user: str | None = None) -> AvaturnService:
    return AvaturnService(AvaturnClient(base_url=sb.base_url, api_token=token, user_id=user,
                                        retry=FAST_RETRY, timeout=(2.0, 5.0)))


@pytest.fixture
def service(sandbox: Sandbox) -> AvaturnService:
    return make_service_for(sandbox)


def run(engine: JobEngine, *jobs: JobState) -> None:
    try:
        engine.run_until_done(timeout=20)
    finally:
        engine.shutdown()
    for job in jobs:
        assert job.stage.final, job.status_line()


def engine_for(service: AvaturnService, cache: Cache) -> JobEngine:
    return JobEngine(service, cache, EngineOptions(poll_interval=0.05))


def photo_spec(photos: list[Path], **extra: Any) -> JobSpec:
    return JobSpec(photo=photos[0], name="Photo", subtype="male",
                   extra={"side_photos": [str(p) for p in photos[1:]], **extra})


def browser_avatar(service: AvaturnService, body_type: str = "male",
                   kind: str = "create", avatar_id: str | None = None) -> str:
    url = service.open_session(kind, avatar_id)
    resp = requests.post(url + "finish", data={"body_type": body_type}, timeout=5)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["avatar_id"])


def exports_downloaded(sb: Sandbox) -> int:
    return sum(1 for r in settled_log(sb) if r.path.startswith("/avaturn-exports/"))


# --- jobs --------------------------------------------------------------------------------


def test_photo_job_reaches_done(sandbox: Sandbox, service: AvaturnService, cache: Cache,
                                photos: list[Path]) -> None:
    engine = engine_for(service, cache)
    stages: list[str] = []
    engine.listeners.append(lambda s, e: stages.append(e.data.get("stage", "")))
    job = engine.submit(photo_spec(photos, body_type="female", telephoto=True))
    run(engine, job)
    assert job.stage == Stage.DONE, job.error
    assert job.glb_path is not None and job.glb_path.name == "model.glb"
    glb = read_glb(job.glb_path)
    assert "Head_Mesh" in [m["name"] for m in glb.json["meshes"]]  # female: split head
    record = cache.load_job(job.id)
    assert record is not None and record["service"] == "avaturn"
    assert record["player"] == service.user_id and record["avatar_code"] == job.avatar_code
    assert job.export_code.startswith("v-") and "/" not in job.export_code
    assert {"upload", "computing", "exporting", "downloading"} <= set(stages)
    log = settled_log(sandbox)
    off_api = [r for r in log if r.listener == "static"]
    assert {r.path.split("/")[1] for r in off_api} == {"avaturn-upload", "avaturn-exports"}
    assert not any(r.had_authorization for r in off_api)


def test_import_existing_reuses_an_unchanged_export(sandbox: Sandbox, service: AvaturnService,
                                                    cache: Cache) -> None:
    avatar_id = browser_avatar(service)
    engine = engine_for(service, cache)
    first = engine.import_existing(avatar_id, JobSpec(photo=None, name="web"),
                                   player=service.user_id)
    engine.run_until_done(timeout=20)
    assert first.stage == Stage.DONE, first.error
    assert first.glb_path is not None
    assert "avaturn_body" in [m["name"] for m in read_glb(first.glb_path).json["meshes"]]
    assert exports_downloaded(sandbox) == 1

    again = engine.import_existing(avatar_id, JobSpec(photo=None, name="web"))
    engine.run_until_done(timeout=20)
    assert again.stage == Stage.DONE and again.export_code == first.export_code
    assert exports_downloaded(sandbox) == 1  # same avatar version: the cached GLB

    browser_avatar(service, "female", "edit_existing", avatar_id)
    edited = engine.import_existing(avatar_id, JobSpec(photo=None, name="web"))
    run(engine, edited)
    assert edited.stage == Stage.DONE and edited.export_code != first.export_code
    assert edited.glb_path is not None
    assert "Head_Mesh" in [m["name"] for m in read_glb(edited.glb_path).json["meshes"]]
    assert exports_downloaded(sandbox) == 2


@pytest.mark.parametrize(("extra", "message"), [
    ({"side_photos": []}, "two side photos"),
    ({"body_type": "child"}, "male or female"),
])
def test_bad_inputs_fail_before_any_request(sandbox: Sandbox, service: AvaturnService,
                                            cache: Cache, photos: list[Path],
                                            extra: dict[str, Any], message: str) -> None:
    engine = engine_for(service, cache)
    job = engine.submit(photo_spec(photos, **extra))
    run(engine, job)
    assert job.stage == Stage.FAILED and job.error_kind == "input"
    assert message in job.error
    assert settled_log(sandbox) == []


def test_failed_avatar_fails_the_job(sandbox: Sandbox, service: AvaturnService, cache: Cache,
                                     photos: list[Path]) -> None:
    sandbox.faults.fail_next_avatars = 1
    engine = engine_for(service, cache)
    job = engine.submit(photo_spec(photos))
    run(engine, job)
    assert job.stage == Stage.FAILED and job.error_kind == "remote_failed"
    assert "could not make the avatar" in job.error


def test_avatar_deleted_while_computing(sandbox: Sandbox, service: AvaturnService,
                                        cache: Cache, photos: list[Path]) -> None:
    engine = engine_for(service, cache)
    job = engine.submit(photo_spec(photos))
    until = time.monotonic() + 5
    while not job.avatar_code and time.monotonic() < until:
        engine.pump(0.01)
        time.sleep(0.01)
    service.client.delete_avatar(job.avatar_code)
    run(engine, job)
    assert job.stage == Stage.FAILED and job.error_kind == "not_found"
    assert job.avatar_code in job.error and "deleted" in job.error


def test_wrong_token_fails_the_job_clearly(sandbox: Sandbox, cache: Cache,
                                           photos: list[Path]) -> None:
    engine = engine_for(make_service_for(sandbox, token="nope"), cache)
    job = engine.submit(photo_spec(photos))
    run(engine, job)
    assert job.stage == Stage.FAILED and job.error_kind == "authentication"
    assert "API token" in job.error


def test_upload_failure_removes_the_empty_avatar(sandbox: Sandbox, service: AvaturnService,
                                                 cache: Cache, photos: list[Path]) -> None:
    """A refused upload (the service did not take the photos) leaves no empty avatar."""
    sandbox.faults.update({"error_next": 1, "error_status": 400,
                           "error_path_prefix": "/avaturn-upload/"})
    engine = engine_for(service, cache)
    job = engine.submit(photo_spec(photos))
    run(engine, job)
    assert job.stage == Stage.FAILED and job.error_kind == "bad_request"
    assert service.list_avatars() == ([], False)


def test_upload_500_is_checked_then_sent_again(sandbox: Sandbox, service: AvaturnService,
                                               cache: Cache, photos: list[Path]) -> None:
    """A 500 on the upload leaves doubt: the list shows the avatar still waiting for its
    photos, so they are sent again; one avatar, computed once."""
    sandbox.faults.update({"error_next": 1, "error_status": 500,
                           "error_path_prefix": "/avaturn-upload/"})
    engine = engine_for(service, cache)
    job = engine.submit(photo_spec(photos))
    run(engine, job)
    uploads = [r.status for r in settled_log(sandbox) if r.path.startswith("/avaturn-upload/")]
    assert job.stage == Stage.DONE, job.error
    assert uploads == [500, 200] and [a.code for a in service.list_avatars()[0]] == \
        [job.avatar_code]


# --- browsing and sessions ---------------------------------------------------------------


def test_browsing(sandbox: Sandbox, service: AvaturnService, tmp_path: Path) -> None:
    assert service.discover("female") == ({}, {})
    avatar_id = browser_avatar(service)
    avatars, more = service.list_avatars()
    assert not more and [a.code for a in avatars] == [avatar_id]
    assert avatars[0].status == "Computing" and avatars[0].name.startswith("Avaturn male ")
    time.sleep(0.35)
    ready = service.list_avatars()[0][0]
    assert ready.status == "Completed" and ready.created_on
    assert service.list_avatars(page=2) == ([], False)
    service.fetch_thumbnail(ready, tmp_path / "thumb.png")
    assert (tmp_path / "thumb.png").read_bytes().startswith(b"\x89PNG")
    with pytest.raises(InputError, match="no export parameters"):
        service.reexport(avatar_id, {})
    service.delete_avatar(avatar_id)
    assert service.list_avatars() == ([], False)
    thumbs = [r for r in settled_log(sandbox) if r.path.startswith("/avaturn-thumbnails/")]
    assert thumbs and not any(r.had_authorization for r in thumbs)


def test_sessions_and_new_user(sandbox: Sandbox, service: AvaturnService) -> None:
    avatar_id = browser_avatar(service)
    for kind, target in (("create", None), ("edit_existing", avatar_id),
                         ("create_or_edit_existing", None)):
        url = service.open_session(kind, target)
        assert url.startswith(sandbox.base_url + "avaturn/session/")
    user = service.user_id
    assert user and service.new_user() != user
    assert service.list_avatars() == ([], False)  # a new user starts from scratch
    assert service.record() == {"service": "avaturn", "base_url": sandbox.base_url,
                                "player": service.user_id}
    assert TOKEN not in str(service.record())


def test_export_codes_are_plain_names() -> None:
    by_version = export_code("a" * 32, "2026-01-01T00:00:00Z", "https://x/e/1/model.glb")
    assert by_version == export_code("a" * 32, "2026-01-01T00:00:00Z", "https://y/other")
    by_url = export_code("a" * 32, "", "https://x/e/1/model.glb?sig=1")
    assert by_url == export_code("a" * 32, "", "https://x/e/1/model.glb?sig=2")
    assert by_url != export_code("a" * 32, "", "https://x/e/2/model.glb")
    for code in (by_version, by_url):
        assert code.replace("-", "").isalnum()


# --- settings ----------------------------------------------------------------------------


def test_settings_make_an_avaturn_service(sandbox: Sandbox) -> None:
    assert "avaturn" in SERVICES
    settings = ServiceSettings(service="avaturn", player="b" * 32).with_env(
        {"AVATURN_API_TOKEN": "from-env"})
    assert settings.api_token == "from-env" and "from-env" not in repr(settings)
    assert "from-env" not in settings.account() and settings.account().startswith("token-")
    made = make_service(settings)
    assert isinstance(made, AvaturnService)
    assert made.base_url == "https://api.avaturn.me/" and made.user_id == "b" * 32
    local = make_service(ServiceSettings(service="avaturn", base_url=sandbox.base_url,
                                         api_token=TOKEN, timeout=5.0))
    assert isinstance(local, AvaturnService) and local.client.ensure_user()
    with pytest.raises(ConfigError, match="AVATURN_API_TOKEN"):
        make_service(ServiceSettings(service="avaturn").with_env({}))
    assert ServiceSettings(client_id="id").account() == "id"
