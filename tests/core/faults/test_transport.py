"""Fault matrix, transport: throttling, 5xx bursts, broken connections, timeouts, broken
bodies, resumed downloads, token expiry, permanent auth errors, unreadable answers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from avatar_importer.core.errors import (
    AuthenticationError,
    NetworkError,
    PaymentRequiredError,
    PermissionDeniedError,
    ProtocolError,
    ServerError,
    ThrottledError,
)
from avatar_importer.core.params import default_export_parameters, default_parameters
from avatar_importer.core.stages import Stage
from avatar_importer.core.transport import RetryPolicy
from avatar_importer.sandbox.assets import build_thumbnail
from avatar_importer.sandbox.server import Sandbox, SandboxConfig

from .helpers import client, engine, mark, pump_until, sha256, short, since, spec

ARCHIVE_PAD = 6_000_000  # a "large" export: ~6 MB


@dataclass
class Ready:
    """A sandbox with one completed avatar and export, shared by the download rows."""

    sb: Sandbox
    url: str
    path: str  # URL path of the export file
    size: int
    digest: str
    player: str  # the export file answers 404 to other players


@pytest.fixture(scope="module")
def ready(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ready]:
    tmp = tmp_path_factory.mktemp("ready")
    photo = tmp / "face.png"
    photo.write_bytes(build_thumbnail("face", 32))
    sb = Sandbox(SandboxConfig(compute_seconds=0.3, export_seconds=0.05,
                               extra_archive_bytes=ARCHIVE_PAD)).start()
    try:
        c = client(sb)
        avatar = c.create_avatar(photo, name="r", subtype="female",
                                 parameters=default_parameters(),
                                 export_parameters=default_export_parameters())
        while not c.get_avatar(avatar.code).done:
            time.sleep(0.05)
        export = c.list_exports(avatar.code)[0]
        while not export.done:
            time.sleep(0.05)
            export = c.get_export(avatar.code, export.code)
        url = export.main_file().file
        ref = tmp / "reference.zip"
        c.download(url, ref)
        c.close()
        yield Ready(sb, url, url.split(sb.base_url.rstrip("/"), 1)[1], ref.stat().st_size,
                    sha256(ref), c.ensure_player())
    finally:
        sb.stop()


@pytest.fixture
def fresh(ready: Ready) -> Iterator[Ready]:
    ready.sb.faults.reset()
    yield ready
    ready.sb.faults.reset()


# --- throttling ------------------------------------------------------------------------


def test_429_with_retry_after_is_honoured(fault, sandbox):
    row = fault.row("T01", "429 with Retry-After: 1", "waits the Retry-After (not the "
                    "backoff), then succeeds; 2 requests")
    c = client(sandbox)
    c.ensure_player()
    sandbox.faults.update({"throttle_next": 1, "retry_after": 1})
    start, t0 = mark(sandbox), time.monotonic()
    assert c.available_parameters("female")
    waited = time.monotonic() - t0
    statuses = [r.status for r in since(sandbox, start, "/parameters/")]
    row.saw(f"succeeded after {waited:.2f} s; statuses {statuses}")
    assert statuses == [429, 200] and 1.0 <= waited < 1.8


def test_429_without_retry_after_gives_up_after_a_bounded_number(fault, sandbox):
    row = fault.row("T02", "429 without Retry-After, never ending",
                    "capped backoff; ThrottledError 'throttling' after throttle_attempts=4 "
                    "requests (no retry storm)")
    c = client(sandbox, retry=RetryPolicy(base=0.01, cap=0.05, throttle_attempts=4))
    c.ensure_player()
    sandbox.faults.update({"throttle_next": 1000, "retry_after": None})
    start = mark(sandbox)
    with pytest.raises(ThrottledError) as err:
        c.available_parameters("female")
    statuses = [r.status for r in since(sandbox, start, "/parameters/")]
    row.saw(f"{type(err.value).__name__}: {short(err.value.message)}; {len(statuses)} "
            "requests")
    assert "throttling" in err.value.message and statuses == [429] * 4


@pytest.mark.parametrize("status,row_id", [(500, "T03"), (502, "T04"), (503, "T05")])
def test_5xx_burst_on_get_is_retried(fault, sandbox, status, row_id):
    row = fault.row(row_id, f"burst of three {status} on a GET",
                    "retried with backoff, then succeeds: 4 requests")
    c = client(sandbox)
    c.ensure_player()
    sandbox.faults.update({"error_next": 3, "error_status": status})
    start = mark(sandbox)
    assert c.available_export_parameters("female")
    statuses = [r.status for r in since(sandbox, start, "/export_parameters/")]
    row.saw(f"succeeded; statuses {statuses}")
    assert statuses == [status] * 3 + [200]


def test_500_on_avatar_creation_is_not_repeated(fault, sandbox, photo):
    row = fault.row("T06", "500 on POST /avatars/ (may have acted)",
                    "ServerError marked in doubt at once, exactly 1 POST: the transport "
                    "never posts again (the job looks the avatar up first: R40-R43)")
    c = client(sandbox)
    c.ensure_player()
    sandbox.faults.update({"error_next": 1, "error_status": 500,
                           "error_path_prefix": "/avatars/"})
    start = mark(sandbox)
    with pytest.raises(ServerError) as err:
        c.create_avatar(photo, name="x", subtype="female", parameters={},
                        export_parameters=default_export_parameters())
    posts = [r for r in since(sandbox, start, "/avatars/") if r.method == "POST"]
    row.saw(f"{type(err.value).__name__}: {short(err.value.message)}; {len(posts)} POST")
    assert len(posts) == 1 and "HTTP 500" in err.value.message and err.value.in_doubt


def test_503_on_avatar_creation_is_retried_once_safely(fault, sandbox, photo):
    row = fault.row("T07", "503 with Retry-After on POST /avatars/ (server did not act)",
                    "retried; 2 POSTs, exactly 1 avatar exists")
    c = client(sandbox)
    c.ensure_player()
    sandbox.faults.update({"error_next": 1, "error_status": 503, "retry_after": 0,
                           "error_path_prefix": "/avatars/"})
    start = mark(sandbox)
    avatar = c.create_avatar(photo, name="x", subtype="female", parameters={},
                             export_parameters=default_export_parameters())
    posts = [r.status for r in since(sandbox, start, "/avatars/") if r.method == "POST"]
    with sandbox._state.lock:
        count = len(sandbox._state.avatars)
    row.saw(f"created {avatar.code[:8]}; POST statuses {posts}; avatars on service: {count}")
    assert posts == [503, 201] and count == 1


# --- connections -------------------------------------------------------------------------


def test_connection_refused(fault, sandbox):
    row = fault.row("T08", "connection refused (service down)",
                    "NetworkError 'connection refused' after max_attempts=3, within 1 s")
    url = sandbox.base_url
    sandbox.stop()
    c = client(sandbox, base_url=url, retry=RetryPolicy(base=0.01, cap=0.05, max_attempts=3))
    t0 = time.monotonic()
    with pytest.raises(NetworkError) as err:
        c.authenticate()
    spent = time.monotonic() - t0
    row.saw(f"{type(err.value).__name__} after {spent:.2f} s: {short(err.value.message)}")
    assert "connection refused" in err.value.message and spent < 1.0


def _download(ready: Ready, tmp: Path, **kw) -> tuple[int, int, list, float]:
    c = client(ready.sb, **kw)
    start, t0 = mark(ready.sb), time.monotonic()
    dest = tmp / "export.zip"
    size = c.download(ready.url, dest, player=ready.player)
    spent = time.monotonic() - t0
    received = c.transport.bytes_received
    reqs = since(ready.sb, start, ready.path)
    assert sha256(dest) == ready.digest, "the downloaded archive differs from the original"
    assert not list(tmp.glob(".*.part"))
    c.close()
    return size, received, reqs, spent


def _ranges(reqs) -> list[str]:
    return [f"{r.status}{' ' + r.range if r.range else ''}" for r in reqs]


def test_reset_mid_body_resumes_with_range(fault, fresh, tmp_path):
    row = fault.row("T09", "connection reset (RST) mid-body of a download",
                    "resumed with Range from the bytes kept; identical file; no byte "
                    "fetched twice")
    fresh.sb.faults.update({"reset_next_downloads": 1, "truncate_at_bytes": 1_000_000})
    size, received, reqs, _ = _download(fresh, tmp_path)
    row.saw(f"{_ranges(reqs)}; {received} bytes received for a {size}-byte file; "
            "checksum equal")
    assert [r.status for r in reqs] == [200, 206] and reqs[1].range.startswith("bytes=")
    assert int(reqs[1].range[6:-1]) > 0 and received == size == fresh.size


def test_read_timeout_mid_body_resumes(fault, fresh, tmp_path):
    row = fault.row("T10", "read timeout mid-body (server goes silent for 3 s)",
                    "times out after the read timeout (0.5 s), resumes with Range; "
                    "identical file")
    fresh.sb.faults.update({"stall_next_downloads": 1, "truncate_at_bytes": 500_000,
                            "stall_seconds": 3.0})
    size, received, reqs, spent = _download(fresh, tmp_path, timeout=(1.0, 0.5))
    row.saw(f"{_ranges(reqs)} in {spent:.2f} s; {received} of {size} bytes received once")
    assert [r.status for r in reqs] == [200, 206] and reqs[1].range == "bytes=500000-"
    assert received == size and spent < 2.5


def test_truncated_body_resumes_with_range(fault, fresh, tmp_path):
    row = fault.row("T11", "truncated body: closes cleanly before Content-Length",
                    "the short body is detected and resumed with Range; identical file")
    fresh.sb.faults.update({"truncate_next_downloads": 1, "truncate_at_bytes": 250_000})
    size, received, reqs, _ = _download(fresh, tmp_path)
    row.saw(f"{_ranges(reqs)}; {received} bytes received for {size}")
    assert _ranges(reqs) == ["200", "206 bytes=250000-"] and received == size


def test_large_download_broken_three_times_is_resumed_not_restarted(fault, fresh, tmp_path):
    row = fault.row("T12", "~6 MB download broken off 3 times (every 1.5 MB)",
                    "3 Range resumes continuing where it stopped; bytes received == file "
                    "size (no restart); identical file")
    fresh.sb.faults.update({"truncate_next_downloads": 3, "truncate_at_bytes": 1_500_000})
    size, received, reqs, _ = _download(fresh, tmp_path)
    row.saw(f"{_ranges(reqs)}; {received} bytes received for a {size}-byte file")
    assert _ranges(reqs) == ["200", "206 bytes=1500000-", "206 bytes=3000000-",
                             "206 bytes=4500000-"]
    assert received == size > 6_000_000


def test_read_timeout_before_answer_is_retried(fault, sandbox):
    row = fault.row("T13", "read timeout on a GET (server silent 2 s before answering)",
                    "times out after 0.5 s, asked again, succeeds")
    c = client(sandbox, timeout=(1.0, 0.5))
    c.ensure_player()
    sandbox.faults.update({"stall_next": 1, "stall_seconds": 2.0,
                           "error_path_prefix": "/parameters/"})
    t0 = time.monotonic()
    assert c.available_parameters("female")
    spent = time.monotonic() - t0
    row.saw(f"succeeded after {spent:.2f} s")
    assert 0.5 <= spent < 1.5


def test_read_timeout_on_avatar_creation_is_not_repeated(fault, sandbox, photo):
    row = fault.row("T14", "read timeout on POST /avatars/",
                    "NetworkError 'timed out' at once; exactly 1 POST (no second avatar)")
    c = client(sandbox, timeout=(1.0, 0.5))
    c.ensure_player()
    sandbox.faults.update({"stall_next": 1, "stall_seconds": 1.0,
                           "error_path_prefix": "/avatars/"})
    start = mark(sandbox)
    with pytest.raises(NetworkError) as err:
        c.create_avatar(photo, name="x", subtype="female", parameters={},
                        export_parameters=default_export_parameters())
    time.sleep(1.0)  # the stalled request lands in the log when the server answers
    posts = [r for r in since(sandbox, start, "/avatars/") if r.method == "POST"]
    row.saw(f"{type(err.value).__name__}: {short(err.value.message)}; {len(posts)} POST")
    assert "timed out" in err.value.message and len(posts) == 1


# --- authentication ----------------------------------------------------------------------


def test_token_expired_mid_poll_one_reauthentication(fault, sandbox, photo, cache):
    row = fault.row("T15", "token expires while the avatar is computing",
                    "one new token (2 token requests in all), the job completes")
    sandbox.config.compute_seconds = 1.0
    eng = engine(sandbox, cache)
    try:
        job = eng.submit(spec(photo))
        pump_until(eng, job, {Stage.QUEUED, Stage.COMPUTING})
        sandbox.faults.expire_tokens()
        eng.run_until_done(timeout=30)
    finally:
        eng.shutdown()
    tokens = since(sandbox, 0, "/o/token/")
    unauthorized = [r for r in since(sandbox, 0) if r.status == 401]
    row.saw(f"job {job.stage.value}; token requests {len(tokens)}; 401 answers "
            f"{len(unauthorized)}")
    assert job.stage == Stage.DONE and len(tokens) == 2 and len(unauthorized) == 1


def test_permanent_401_renews_once_then_fails(fault, sandbox):
    row = fault.row("T16", "permanent 401 on API calls",
                    "one renewal, then AuthenticationError 'did not accept the credentials'"
                    "; 2 API requests + 1 token request")
    c = client(sandbox)
    c.ensure_player()
    sandbox.faults.update({"error_next": 1000, "error_status": 401,
                           "error_path_prefix": "/parameters/"})
    start = mark(sandbox)
    with pytest.raises(AuthenticationError) as err:
        c.available_parameters("female")
    api = [r.status for r in since(sandbox, start, "/parameters/")]
    tokens = since(sandbox, start, "/o/token/")
    row.saw(f"{short(err.value.message)}; API statuses {api}; token requests {len(tokens)}")
    assert api == [401, 401] and len(tokens) == 1
    assert "did not accept the credentials" in err.value.message


@pytest.mark.parametrize("status,row_id,cls,words", [
    (402, "T17", PaymentRequiredError, "plan limit"),
    (403, "T18", PermissionDeniedError, "Access denied"),
])
def test_permanent_402_403_fail_at_once(fault, sandbox, status, row_id, cls, words):
    row = fault.row(row_id, f"permanent {status} on API calls",
                    f"{cls.__name__} '{words}' after exactly 1 request (no retry storm)")
    c = client(sandbox)
    c.ensure_player()
    sandbox.faults.update({"error_next": 1000, "error_status": status,
                           "error_path_prefix": "/parameters/"})
    start = mark(sandbox)
    with pytest.raises(cls) as err:
        c.available_parameters("female")
    api = [r.status for r in since(sandbox, start, "/parameters/")]
    row.saw(f"{short(err.value.message)}; statuses {api}")
    assert api == [status] and words in err.value.message


def test_wrong_client_secret_one_token_request(fault, sandbox):
    row = fault.row("T19", "wrong client secret",
                    "AuthenticationError naming the client ID and secret (not the secret's "
                    "value); exactly 1 token request")
    c = client(sandbox, client_secret="wr0ng-s3cret-value")
    with pytest.raises(AuthenticationError) as err:
        c.ensure_player()
    tokens = since(sandbox, 0, "/o/token/")
    row.saw(f"{short(err.value.message)}; token requests {len(tokens)}")
    assert len(tokens) == 1 and "client ID and secret" in err.value.message
    assert "wr0ng-s3cret-value" not in err.value.message


# --- unreadable answers ---------------------------------------------------------------


def _get_params(sb: Sandbox, **faults) -> tuple[object, list[int], float]:
    c = client(sb, retry=RetryPolicy(base=0.01, cap=0.05, max_attempts=3))
    c.ensure_player()
    sb.faults.update({"error_path_prefix": "/parameters/", **faults})
    start, t0 = mark(sb), time.monotonic()
    try:
        out: object = c.available_parameters("female")
    except Exception as exc:
        out = exc
    return out, [r.status for r in since(sb, start, "/parameters/")], time.monotonic() - t0


def test_malformed_json_once_is_asked_again(fault, sandbox):
    row = fault.row("R01", "regression: malformed JSON (200) once on a GET",
                    "asked again, succeeds (was: ProtocolError, job lost)")
    out, statuses, _ = _get_params(sandbox, malformed_json_next=1)
    row.saw(f"{'succeeded' if isinstance(out, dict) else short(str(out))}; statuses "
            f"{statuses}")
    assert isinstance(out, dict) and statuses == [200, 200]


def test_malformed_json_for_good_is_a_protocol_error(fault, sandbox):
    row = fault.row("T20", "malformed JSON (200) on every answer",
                    "ProtocolError 'not JSON' with a one-line excerpt after 3 tries")
    out, statuses, _ = _get_params(sandbox, malformed_json_next=100)
    row.saw(f"{type(out).__name__}: {short(str(out))}; statuses {statuses}")
    assert isinstance(out, ProtocolError) and "not JSON" in out.message
    assert "\n" not in out.message and len(out.message) < 240 and statuses == [200] * 3


def test_html_page_where_json_was_expected(fault, sandbox):
    row = fault.row("R02", "regression: HTML page (200) instead of JSON, for good "
                    "(Wi-Fi sign-in page)", "ProtocolError naming an HTML page and the "
                    "likely proxy / sign-in page, after 3 tries (was: no hint, 1 try)")
    out, statuses, _ = _get_params(sandbox, html_next=100)
    row.saw(f"{type(out).__name__}: {short(str(out))}; statuses {statuses}")
    assert isinstance(out, ProtocolError) and "HTML page" in out.message
    assert "sign-in page" in out.message and statuses == [200] * 3


def test_html_error_page_with_502_is_retried(fault, sandbox):
    row = fault.row("T21", "proxy's HTML error page with 502",
                    "treated as a 502: retried, then succeeds")
    out, statuses, _ = _get_params(sandbox, html_next=2, html_status=502)
    row.saw(f"{'succeeded' if isinstance(out, dict) else short(str(out))}; statuses "
            f"{statuses}")
    assert isinstance(out, dict) and statuses == [502, 502, 200]


@pytest.mark.parametrize("switch,row_id,what", [
    ("truncate_next_json", "R03", "JSON body shorter than Content-Length"),
    ("reset_next_json", "R04", "connection reset in the middle of a JSON body"),
])
def test_broken_json_body_is_asked_again(fault, sandbox, switch, row_id, what):
    row = fault.row(row_id, f"regression: {what} (GET)",
                    "asked again, succeeds (was: NetworkError at once)")
    out, statuses, _ = _get_params(sandbox, **{switch: 1})
    row.saw(f"{'succeeded' if isinstance(out, dict) else short(str(out))}; statuses "
            f"{statuses}")
    assert isinstance(out, dict) and statuses == [200, 200]


def test_malformed_json_on_creation_is_not_repeated(fault, sandbox, photo):
    row = fault.row("T22", "malformed JSON answering POST /avatars/",
                    "ProtocolError; exactly 1 POST (never a second paid avatar)")
    c = client(sandbox)
    c.ensure_player()
    sandbox.faults.update({"malformed_json_next": 1, "error_path_prefix": "/avatars/"})
    start = mark(sandbox)
    with pytest.raises(ProtocolError) as err:
        c.create_avatar(photo, name="x", subtype="female", parameters={},
                        export_parameters=default_export_parameters())
    posts = [r for r in since(sandbox, start, "/avatars/") if r.method == "POST"]
    row.saw(f"{short(err.value.message)}; {len(posts)} POST")
    assert len(posts) == 1


def test_redirect_to_plain_http_elsewhere_is_refused(fault, sandbox):
    row = fault.row("R05", "regression: API redirects to plain http://192.0.2.1 "
                    "(not loopback)", "ProtocolError before following it; the host is "
                    "never contacted (was: followed over plain http)")
    c = client(sandbox)
    c.ensure_player()
    sandbox.faults.update({"redirect_next": 1, "redirect_to": "http://192.0.2.1:9",
                           "error_path_prefix": "/parameters/"})
    t0 = time.monotonic()
    with pytest.raises(ProtocolError) as err:
        c.available_parameters("female")
    spent = time.monotonic() - t0
    row.saw(f"{short(err.value.message)} after {spent:.2f} s")
    assert "only https redirects" in err.value.message and spent < 0.5
