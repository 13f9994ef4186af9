"""Fault matrix, Avaturn (issue 11, items 1, 7 and 8): a customization is set before a
photo avatar is exported, an avatar given by id alone is exported directly, and a doubtful
``avatars/new`` or upload still ends with exactly one avatar for the user."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from avatar_importer.core.avaturn import AvaturnClient
from avatar_importer.core.avaturn_service import AvaturnService
from avatar_importer.core.cache import Cache
from avatar_importer.core.engine import EngineOptions, JobEngine
from avatar_importer.core.stages import JobSpec, Stage
from avatar_importer.sandbox.assets import build_thumbnail
from avatar_importer.sandbox.avaturn import state_of
from avatar_importer.sandbox.server import Sandbox, SandboxConfig

from .helpers import QUICK, short, since

TOKEN = "sandbox-avaturn"


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    sandbox = Sandbox(SandboxConfig(compute_seconds=0.3, export_seconds=0.1,
                                    separate_static_host=True)).start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def photos(tmp_path: Path) -> list[Path]:
    out = []
    for name in ("front", "left", "right"):
        path = tmp_path / f"{name}.png"
        path.write_bytes(build_thumbnail(name, 32))
        out.append(path)
    return out


def _service(sb: Sandbox, user: str | None = None) -> AvaturnService:
    return AvaturnService(AvaturnClient(base_url=sb.base_url, api_token=TOKEN, user_id=user,
                                        retry=QUICK, timeout=(2.0, 5.0)))


def _spec(photos: list[Path]) -> JobSpec:
    return JobSpec(photo=photos[0], name="Photo", subtype="male",
                   extra={"side_photos": [str(p) for p in photos[1:]]})


def _run(service: AvaturnService, cache: Cache, submit) -> object:
    eng = JobEngine(service, cache, EngineOptions(poll_interval=0.05))
    try:
        job = submit(eng)
        eng.run_until_done(timeout=30)
    finally:
        eng.shutdown()
    return job


def _avatars(sb: Sandbox, user: str | None = None) -> list:
    state = state_of(sb)
    with state.lock:
        return [a for a in state.avatars.values() if user in (None, a.user_id)]


def test_photo_avatar_gets_its_customization_before_export(fault, sb, photos, tmp_path):
    row = fault.row("R50", "Avaturn avatar made from photos, then exported",
                    "its customization is read (GET) and set back (PUT) before the first "
                    "exports/new; the sandbox, which refuses (409) to export a photo avatar "
                    "without one, records it set; job done")
    service = _service(sb)
    job = _run(service, Cache(tmp_path / "c"), lambda eng: eng.submit(_spec(photos)))
    calls = [(r.method, r.path.rsplit("/", 1)[-1], r.status)
             for r in since(sb, 0, "/api/v1/") if "customization" in r.path
             or "exports/new" in r.path]
    avatar = _avatars(sb)[0]
    row.saw(f"{job.stage.value} {short(job.error)}; calls {calls[:4]}; customization set "
            f"{avatar.customization is not None}")
    assert job.stage == Stage.DONE, job.error
    assert [c[:2] for c in calls[:3]] == [("GET", "customization"), ("PUT", "customization"),
                                          ("POST", "new")]
    assert calls[1][2] == 202 and avatar.customization is not None


def test_avatar_id_alone_is_exported_directly(fault, sb, tmp_path):
    row = fault.row("R51", "Avaturn --avatar-id without --player (no user known)",
                    "exported directly by id: no users/new, no list call; job done (was: a "
                    "throwaway user, then 'not among Avaturn user ...'s avatars')")
    owner = _service(sb)
    session = owner.client.create_session("create")
    requests.post(session.url.rstrip("/") + "/finish", data={"body_type": "male"},
                  timeout=10).raise_for_status()
    avatar_id = owner.client.list_avatars()[0].id
    start = len(sb.requests_log)
    fresh = _service(sb)  # knows no user
    job = _run(fresh, Cache(tmp_path / "c"),
               lambda eng: eng.import_existing(avatar_id, JobSpec(photo=None, name="web")))
    reqs = since(sb, start, "/api/v1/")
    users = [r for r in reqs if r.path.startswith("/api/v1/users")]
    row.saw(f"{job.stage.value} {short(job.error)}; user calls {len(users)}; API calls "
            f"{sorted({r.path for r in reqs})}")
    assert job.stage == Stage.DONE, job.error
    assert not users and fresh.client.user_id is None and job.avatar_code == avatar_id


@pytest.mark.parametrize("switch,row_id,what", [
    ("act_then_504_next", "R52", "a gateway answers 504 (HTML) after the service made the "
     "avatar (POST avatars/new)"),
    ("act_then_reset_next", "R53", "the connection is reset after the service made the "
     "avatar (POST avatars/new)"),
])
def test_doubtful_new_avatar_leaves_one(fault, sb, photos, tmp_path, switch, row_id, what):
    row = fault.row(row_id, f"Avaturn: {what}",
                    "the orphan (waiting for photos, its upload URL lost) is deleted and "
                    "avatars/new sent again; job done; exactly 1 avatar for the user")
    sb.faults.update({switch: 1, "error_path_prefix": "/api/v1/avatars/new"})
    service = _service(sb)
    job = _run(service, Cache(tmp_path / "c"), lambda eng: eng.submit(_spec(photos)))
    news = [r.status for r in since(sb, 0, "/api/v1/avatars/new")]
    mine = _avatars(sb, service.client.user_id)
    row.saw(f"{job.stage.value} {short(job.error)}; avatars/new statuses {news}; avatars "
            f"for the user {len(mine)}")
    assert job.stage == Stage.DONE, job.error
    assert len(news) == 2 and len(mine) == 1 and mine[0].id == job.avatar_code


def test_doubtful_upload_is_adopted(fault, sb, photos, tmp_path):
    row = fault.row("R54", "Avaturn: a gateway answers 504 after the photos were taken "
                    "(POST upload_url)", "the user's list shows the avatar computing: "
                    "adopted, photos not sent again; job done; exactly 1 avatar")
    sb.faults.update({"act_then_504_next": 1, "error_path_prefix": "/avaturn-upload/"})
    service = _service(sb)
    job = _run(service, Cache(tmp_path / "c"), lambda eng: eng.submit(_spec(photos)))
    uploads = [r.status for r in since(sb, 0, "/avaturn-upload/")]
    mine = _avatars(sb)
    row.saw(f"{job.stage.value} {short(job.error)}; upload statuses {uploads}; avatars "
            f"{len(mine)}")
    assert job.stage == Stage.DONE, job.error
    assert uploads == [504] and len(mine) == 1 and mine[0].id == job.avatar_code
