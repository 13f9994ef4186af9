"""Fault matrix, secrets: where the bearer token goes, what logs, job records, reports and
error messages may contain, and which base URLs are accepted."""

from __future__ import annotations

import logging

import pytest

from avatar_importer.core.engine import EngineOptions, JobEngine
from avatar_importer.core.errors import ConfigError
from avatar_importer.core.report import job_report
from avatar_importer.core.settings import ServiceSettings, make_service
from avatar_importer.core.stages import Stage
from avatar_importer.core.transport import check_base_url
from avatar_importer.sandbox.server import SandboxConfig

from .helpers import client, engine, mark, since, spec

SECRET = "Zq7-fault-matrix-client-secret-9x"


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(compute_seconds=0.4, export_seconds=0.1, client_secret=SECRET,
                         separate_static_host=True)


def test_bearer_goes_only_to_the_api_host(fault, sandbox, photo, cache):
    row = fault.row("X01", "static resources on another host (own port)",
                    "every API call carries the bearer; no static request does")
    eng = engine(sandbox, cache)
    try:
        job = eng.submit(spec(photo))
        eng.run_until_done(timeout=30)
    finally:
        eng.shutdown()
    log = since(sandbox, 0)
    static = [r for r in log if r.path.startswith("/static_resources/")]
    api = [r for r in log if r.path.startswith(("/avatars/", "/players/", "/parameters/"))]
    with_bearer = sum(r.had_authorization for r in api)
    row.saw(f"job {job.stage.value}; API requests with bearer {with_bearer}/{len(api)}; "
            "static requests with bearer "
            f"{sum(r.had_authorization for r in static)}/{len(static)} (listener "
            f"{sorted({r.listener for r in static})})")
    assert job.stage == Stage.DONE and static and api
    assert all(r.had_authorization for r in api) and not any(r.had_authorization for r in static)
    assert {r.listener for r in static} == {"static"}


def test_redirect_to_another_origin_drops_the_bearer(fault, sandbox, photo, cache, tmp_path):
    row = fault.row("X02", "the API host redirects a download to another origin",
                    "followed (loopback), the bearer is not sent to the new origin; file "
                    "intact")
    eng = engine(sandbox, cache)
    try:
        job = eng.submit(spec(photo))
        eng.run_until_done(timeout=30)
    finally:
        eng.shutdown()
    path = next(r.path for r in since(sandbox, 0, "/static_resources/"))
    c = client(sandbox)
    c.ensure_player()
    sandbox.faults.update({"redirect_next": 1, "redirect_to": sandbox.static_base_url,
                           "error_path_prefix": "/static_resources/"})
    start = mark(sandbox)
    dest = tmp_path / "t.png"
    c.download(sandbox.base_url.rstrip("/") + path, dest)
    hops = [(r.listener, r.status, r.had_authorization) for r in since(sandbox, start, path)]
    row.saw(f"hops (listener, status, bearer): {hops}; file "
            f"{'intact' if dest.read_bytes() == sandbox.static_file(path) else 'DIFFERS'}")
    assert job.stage == Stage.DONE
    assert hops == [("api", 302, True), ("static", 200, False)]
    assert dest.read_bytes() == sandbox.static_file(path)


def test_secret_and_tokens_never_written_or_logged(fault, sandbox, photo, cache, caplog):
    row = fault.row("X03", "client secret and bearer tokens vs. logs, job records, cache, "
                    "reports, messages, reprs", "neither appears anywhere (DEBUG logs of "
                    "every logger included), also after a failed job")
    caplog.set_level(logging.DEBUG)
    settings = ServiceSettings(service="sandbox", base_url=sandbox.base_url,
                               client_id="sandbox", client_secret=SECRET)
    eng = JobEngine(make_service(settings), cache, EngineOptions(poll_interval=0.05))
    try:
        good = eng.submit(spec(photo))
        eng.run_until_done(timeout=30)
        sandbox.faults.expire_tokens()
        sandbox.faults.update({"error_next": 1000, "error_status": 401,
                               "error_path_prefix": "/avatars/"})
        bad = eng.submit(spec(photo, "Bob"))
        eng.run_until_done(timeout=30)
        texts = [repr(settings), str(settings), repr(eng.service), repr(good), repr(bad),
                 str(job_report(good)), str(job_report(bad)), good.error, bad.error]
    finally:
        eng.shutdown()
    with sandbox._state.lock:
        tokens = list(sandbox._state.tokens)
    files = [p for p in cache.root.rglob("*") if p.is_file()]
    blobs = [p.read_bytes() for p in files]
    logs = "\n".join(r.getMessage() for r in caplog.records)
    needles = [SECRET, *tokens]
    leaks = [n[:6] + "..." for n in needles
             if any(n in t for t in texts) or n in logs or any(n.encode() in b for b in blobs)]
    row.saw(f"jobs {good.stage.value}/{bad.stage.value}; {len(tokens)} tokens + secret searched "
            f"in {len(caplog.records)} log records, {len(files)} cache files, {len(texts)} "
            f"reports/messages/reprs; leaks {leaks}")
    assert good.stage == Stage.DONE and bad.stage == Stage.FAILED and len(tokens) >= 2
    assert leaks == [] and caplog.records


_URLS = [
    ("X04a", "http://api.avatarsdk.com/", False),
    ("X04b", "http://192.168.1.20:8765/", False),
    ("X04c", "http://localhost.evil.example/", False),
    ("X04d", "ftp://api.avatarsdk.com/", False),
    ("X04e", "https://api.avatarsdk.com/", True),
    ("X04f", "http://127.0.0.1:8765", True),
    ("X04g", "http://localhost:8765/", True),
    ("X04h", "http://[::1]:8765/", True),
]


@pytest.mark.parametrize("row_id,url,ok", _URLS, ids=[u[0] for u in _URLS])
def test_plain_http_refused_unless_loopback(fault, row_id, url, ok):
    row = fault.row(row_id, f"base URL {url}",
                    "accepted" if ok else "ConfigError before any request")
    try:
        normalised = check_base_url(url)
        make_service(ServiceSettings(service="avatarsdk", base_url=url, client_id="i",
                                     client_secret="s"))
        seen = f"accepted as {normalised}"
    except ConfigError as exc:
        seen = f"ConfigError: {exc.message}"
    row.saw(seen)
    assert seen.startswith("accepted") == ok
