"""Fault matrix, money: an avatar is created once (issue 11, items 1 and 2).

Every row counts the avatars the sandbox holds for the player afterwards (what the user
pays for) and the POSTs that reached it. A gateway's 504 or a reset after the service
acted, a 500 before it acted, a lookup that cannot be made, a process killed in the middle
of its POST, and the same photo asked for again all end with exactly one avatar."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from avatar_importer.core.cache import Cache
from avatar_importer.core.errors import ProtocolError
from avatar_importer.core.once import TAG_PREFIX, creation_tag
from avatar_importer.core.stages import Stage
from avatar_importer.core.transport import RetryPolicy
from avatar_importer.sandbox.server import Sandbox, SandboxConfig

from .helpers import client, engine, pump_until, short, since, spec

WORKER = Path(__file__).with_name("worker.py")
ROOT = Path(__file__).resolve().parents[3]


def _avatars(sb, player: str | None = None) -> list:
    with sb._state.lock:
        return [a for a in sb._state.avatars.values() if player in (None, a.player)]


def _posts(sb, start: int = 0) -> list[int]:
    return [r.status for r in since(sb, start, "/avatars/")
            if r.method == "POST" and r.path == "/avatars/"]


def _posts_now(sb) -> list[int]:
    """POST /avatars/ statuses logged so far (no settling pause)."""
    return [r.status for r in list(sb.requests_log)
            if r.method == "POST" and r.path == "/avatars/"]


def _lists(sb, start: int = 0) -> int:
    return len([r for r in since(sb, start, "/avatars/")
                if r.method == "GET" and r.path == "/avatars/"])


def _run_one(sb, cache: Cache, photo: Path, **opts):
    eng = engine(sb, cache, **opts)
    try:
        job = eng.submit(spec(photo))
        eng.run_until_done(timeout=30)
    finally:
        eng.shutdown()
    return job


@pytest.mark.parametrize("switch,row_id,what", [
    ("act_then_504_next", "R40", "the service creates the avatar, then a gateway answers "
     "504 with an HTML page"),
    ("act_then_reset_next", "R41", "the service creates the avatar, then the connection is "
     "reset before the answer"),
])
def test_doubt_after_creation_adopts_the_avatar(fault, sandbox, photo, cache, switch,
                                                row_id, what):
    row = fault.row(row_id, f"{what} (POST /avatars/)",
                    "no second POST: the avatar is found in the player's list by its "
                    "creation tag and adopted; job done; exactly 1 avatar for the player")
    sandbox.faults.update({switch: 1, "error_path_prefix": "/avatars/"})
    job = _run_one(sandbox, cache, photo)
    record = cache.load_job(job.id)
    mine = _avatars(sandbox, record.get("player"))
    posts = _posts(sandbox)
    row.saw(f"{job.stage.value} {short(job.error)}; POST statuses {posts}; list reads "
            f"{_lists(sandbox)}; avatars for the player {len(mine)}; adopted "
            f"{job.avatar_code == (mine[0].code if mine else None)}")
    assert job.stage == Stage.DONE, job.error
    assert len(posts) == 1 and len(mine) == 1 and mine[0].code == job.avatar_code
    assert mine[0].description == record["creation_tag"]
    assert record["creation_tag"].startswith(TAG_PREFIX)


def test_500_before_acting_is_checked_then_posted_again(fault, sandbox, photo, cache):
    row = fault.row("R42", "500 on POST /avatars/ before the service acted",
                    "the list is read (tag absent), then one more POST; job done; exactly "
                    "1 avatar")
    sandbox.faults.update({"error_next": 1, "error_status": 500,
                           "error_path_prefix": "/avatars/"})
    job = _run_one(sandbox, cache, photo)
    posts, mine = _posts(sandbox), _avatars(sandbox)
    row.saw(f"{job.stage.value}; POST statuses {posts}; list reads {_lists(sandbox)}; "
            f"avatars {len(mine)}")
    assert job.stage == Stage.DONE, job.error
    assert posts == [500, 201] and _lists(sandbox) >= 1 and len(mine) == 1


def test_lookup_impossible_keeps_the_job_and_a_rerun_adopts(fault, sandbox, photo, cache):
    row = fault.row("R43", "504 after creation, and the avatar list answers an HTML page "
                    "(the lookup cannot be made); then the same photo again",
                    "job failed 'may have been created ... could not be read to check ... "
                    "Nothing was posted again', record kept active with its tag; the rerun "
                    "adopts the avatar: 1 POST in all, exactly 1 avatar")
    sandbox.faults.update({"act_then_504_next": 1, "error_path_prefix": "/avatars/"})
    # the lookup waits one backoff (0.5-1 s here) after the 504: time to switch the portal on
    eng = engine(sandbox, cache, client={"retry": RetryPolicy(base=1.0, cap=1.0)})
    try:
        job = eng.submit(spec(photo))
        deadline = time.monotonic() + 20
        while 504 not in _posts_now(sandbox) and time.monotonic() < deadline:
            eng.pump()
            time.sleep(0.005)
        sandbox.faults.update({"html_next": 100})  # every later /avatars/ call: a portal
        eng.run_until_done(timeout=30)
    finally:
        eng.shutdown()
    record = cache.load_job(job.id)
    first = f"{job.stage.value} [{job.error_kind}] {short(job.error, 220)}; record " \
        f"{record['state']}"
    sandbox.faults.reset()
    again = engine(sandbox, cache)
    try:
        rerun = again.submit(spec(photo))
        again.run_until_done(timeout=30)
    finally:
        again.shutdown()
    posts, mine = _posts(sandbox), _avatars(sandbox)
    row.saw(f"{first}; rerun: resumed={rerun.resumed} same job={rerun.id == job.id} "
            f"{rerun.stage.value}; POSTs {len(posts)}; avatars {len(mine)}")
    assert job.stage == Stage.FAILED and "may have been created" in job.error
    assert "HTML page" in job.error and "Nothing was posted again" in job.error
    assert record["state"] == "active" and "avatar_code" not in record
    assert rerun.resumed and rerun.id == job.id and rerun.stage == Stage.DONE, rerun.error
    assert len(posts) == 1 and len(mine) == 1 and mine[0].code == rerun.avatar_code


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1")


def _wait_record(cache: Cache, key: str, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for record in cache.jobs():
            if record.get(key):
                return record
        time.sleep(0.02)
    raise AssertionError(f"no job record with {key} within {timeout} s")


def test_killed_mid_post_resumes_by_lookup(fault, sandbox, photo, cache):
    row = fault.row("R44", "a (plain Python) process SIGKILLed while its POST /avatars/ is "
                    "being handled; the service creates the avatar after the process died; "
                    "the same photo is asked for again",
                    "the record written before the POST has the tag; the rerun resumes "
                    "that job, finds the avatar by its tag and adopts it: no second POST; "
                    "exactly 1 avatar")
    sandbox.faults.update({"stall_next": 1, "stall_seconds": 1.0,
                           "error_path_prefix": "/avatars/"})
    proc = subprocess.Popen([sys.executable, str(WORKER), "job", sandbox.base_url,
                             str(cache.root), str(photo)], env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        record = _wait_record(cache, "creation_tag")
        deadline = time.monotonic() + 20
        while sandbox.faults.stall_next and time.monotonic() < deadline:
            time.sleep(0.01)  # until the sandbox has the whole POST (and stalls it)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    deadline = time.monotonic() + 5
    while not _avatars(sandbox) and time.monotonic() < deadline:
        time.sleep(0.05)
    before = len(_avatars(sandbox))
    record = cache.load_job(record["id"])
    sandbox.faults.reset()
    start = len(sandbox.requests_log)
    job = _run_one(sandbox, cache, photo)
    mine = _avatars(sandbox)
    row.saw(f"after the kill: record {record['state']} tag={bool(record.get('creation_tag'))}"
            f" avatar_code={record.get('avatar_code')}; avatars {before}; rerun: "
            f"resumed={job.resumed} {job.stage.value}; POSTs after {len(_posts(sandbox, start))}"
            f"; avatars {len(mine)}")
    assert before == 1 and record["state"] == "active" and not record.get("avatar_code")
    assert job.resumed and job.id == record["id"] and job.stage == Stage.DONE, job.error
    assert _posts(sandbox, start) == [] and len(mine) == 1 and mine[0].code == job.avatar_code


def test_same_photo_again_resumes_with_or_without_resume(fault, sandbox, photo, cache):
    row = fault.row("R45", "a run killed mid-download, rerun with the same photo: once as "
                    "the plain command, once with --resume (resume all, then submit)",
                    "the same job goes on both times ('resuming unfinished job for <photo> "
                    "(avatar <code>) instead of creating a new one'); 1 POST in all, "
                    "exactly 1 avatar")
    sandbox.faults.update({"download_bytes_per_second": 20_000.0,
                           "download_path_prefix": "/avatars/"})
    first = engine(sandbox, cache)
    job = first.submit(spec(photo))
    pump_until(first, job, {Stage.DOWNLOADING})
    # a killed process leaves its record active; shutting down without letting the
    # pump record the cancel leaves the same
    first._closed = True
    for event in first._cancel.values():
        event.set()
    first.statics.shutdown(wait=True)
    first._pool.shutdown(wait=True)
    first.service.close()
    killed = cache.load_job(job.id)
    sandbox.faults.reset()
    plain = engine(sandbox, cache)
    try:
        rerun = plain.submit(spec(photo, name="Ada again"))
        said = rerun.resumed_text()
        plain.run_until_done(timeout=30)
    finally:
        plain.shutdown()
    # --resume after another kill: the batch resumes every unfinished job, then submits
    cache.save_job({**cache.load_job(job.id), "state": "active"})
    withresume = engine(sandbox, cache)
    try:
        resumed = [withresume.resume(r) for r in cache.unfinished_jobs()]
        again = withresume.submit(spec(photo))
        withresume.run_until_done(timeout=30)
    finally:
        withresume.shutdown()
    posts, mine = _posts(sandbox), _avatars(sandbox)
    row.saw(f"killed record {killed['state']}; plain rerun: resumed={rerun.resumed} "
            f"'{short(said, 200)}' {rerun.stage.value}; --resume: {len(resumed)} resumed, "
            f"submit gave the same job={again is resumed[0]}; POSTs {len(posts)}; avatars "
            f"{len(mine)}")
    assert killed["state"] == "active"
    assert rerun.resumed and rerun.id == job.id and rerun.stage == Stage.DONE, rerun.error
    assert said == (f"resuming unfinished job for {photo.resolve()} (avatar {job.avatar_code}) "
                    "instead of creating a new one")
    assert len(resumed) == 1 and again is resumed[0]
    assert len(posts) == 1 and len(mine) == 1


def test_other_options_are_another_job(sandbox, photo, cache):
    """The key is the photo *and* the options: another subtype is another avatar."""
    a, b = spec(photo), spec(photo)
    b.subtype = "male"
    assert a.key() != b.key() and a.key() == spec(photo, name="other").key()
    eng = engine(sandbox, cache)
    try:
        first = eng.submit(a)
        second = eng.submit(b)
        same = eng.submit(spec(photo))
        eng.run_until_done(timeout=30)
    finally:
        eng.shutdown()
    assert first.id != second.id and same is first and not first.resumed
    assert len(_avatars(sandbox)) == 2


def test_free_posts_stay_retried(fault, sandbox):
    row = fault.row("R55", "502 burst on POST /players/ and a 502 then a 200 HTML page on "
                    "the sign-in (POSTs that create nothing paid)",
                    "retried like a GET (a player costs nothing): succeeds; the sign-in "
                    "page is not asked for again")
    c = client(sandbox)
    c.authenticate()
    sandbox.faults.update({"error_next": 2, "error_status": 502,
                           "error_path_prefix": "/players/"})
    player = c.create_player()
    statuses = [r.status for r in since(sandbox, 0, "/players/")]
    sandbox.faults.update({"reset": True, "error_next": 1, "error_status": 502,
                           "html_next": 5, "error_path_prefix": "/o/token/"})
    start = len(sandbox.requests_log)
    with pytest.raises(ProtocolError) as err:
        c.authenticate()
    tokens = [r.status for r in since(sandbox, start, "/o/token/")]
    row.saw(f"player {player[:8]}; POST /players/ statuses {statuses}; sign-in statuses "
            f"{tokens}: {short(err.value.message)}")
    assert statuses == [502, 502, 201] and tokens == [502, 200]
    assert "an HTML page came instead" in err.value.message


def test_a_job_another_live_process_runs_is_left_alone(fault, sandbox, photo, cache):
    row = fault.row("R57", "--resume (or the same photo) while another live process runs "
                    "that job (its POST stalled)", "the record is not offered for resuming "
                    "while its owner lives (one avatar is never driven by two processes); "
                    "once the owner is killed it is")
    sandbox.faults.update({"stall_next": 1, "stall_seconds": 3.0,
                           "error_path_prefix": "/avatars/"})
    proc = subprocess.Popen([sys.executable, str(WORKER), "job", sandbox.base_url,
                             str(cache.root), str(photo)], env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        record = _wait_record(cache, "creation_tag")
        alive = [r["id"] for r in cache.unfinished_jobs()]
        owner = record.get("owner", "")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    dead = [r["id"] for r in cache.unfinished_jobs()]
    row.saw(f"owner {owner.rsplit('-', 1)[-1] == str(proc.pid)}; offered while it lives "
            f"{alive}; after the kill {dead == [record['id']]}")
    assert owner.endswith(f"-{proc.pid}") and alive == [] and dead == [record["id"]]


def test_lookup_reads_every_page(fault, photo, cache):
    """The tag is looked for on every page of the player's list (the oldest avatar is on
    the last one); absent means every page was read."""
    row = fault.row("R58", "the lookup after a doubt, for a player with 25 avatars (pages of "
                    "10)", "a tag on the last page is found (3 list reads); an absent tag "
                    "is 'absent' only after all 3 pages")
    with Sandbox(SandboxConfig(compute_seconds=0.2, page_size=10)) as sb:
        c = client(sb)
        player = c.ensure_player()
        tags = []
        for _ in range(25):
            tag, _fresh = creation_tag({})
            tags.append(tag)
            c.create_avatar(photo, name="x", subtype="female", parameters={},
                            export_parameters={}, description=tag)
        start = len(sb.requests_log)
        found = c.find_avatar_by_tag(tags[0], player=player)
        reads_found = len(since(sb, start, "/avatars/"))
        start = len(sb.requests_log)
        absent = c.find_avatar_by_tag(creation_tag({})[0], player=player)
        reads_absent = len(since(sb, start, "/avatars/"))
    row.saw(f"oldest found {found is not None and found.description == tags[0]} after "
            f"{reads_found} reads; absent {absent is None} after {reads_absent} reads")
    assert found is not None and found.description == tags[0] and reads_found == 3
    assert absent is None and reads_absent == 3
