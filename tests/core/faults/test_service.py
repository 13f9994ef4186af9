"""Fault matrix, service states: failed and timed-out avatars, exports that never finish
(per-stage deadlines), avatars deleted while polling, garbled answers mid-job, missing
static resources. Every row checks the job's message, its record (resumable or not) and
what the cache holds afterwards."""

from __future__ import annotations

import time

import pytest

from avatar_importer.core.service import Deadlines
from avatar_importer.core.stages import Stage

from .helpers import engine, part_files, pump_until, short, since, spec


def _exports(cache) -> list:
    return list((cache.root / "exports").rglob("export.zip")) if cache.root.exists() else []


@pytest.mark.parametrize("status,row_id", [("Failed", "S01"), ("Timed Out", "S02")])
def test_avatar_failed_or_timed_out(fault, sandbox, photo, cache, status, row_id):
    row = fault.row(row_id, f"the service ends the avatar '{status}'",
                    f"job failed: 'could not compute ... {status}' + photo advice; record "
                    "not resumable; nothing downloaded")
    sandbox.faults.update({"fail_next_avatars": 1, "fail_status": status})
    eng = engine(sandbox, cache)
    try:
        job = eng.submit(spec(photo))
        eng.run_until_done(timeout=30)
    finally:
        eng.shutdown()
    record = cache.load_job(job.id)
    row.saw(f"{job.stage.value} [{job.error_kind}] {short(job.error)}; record state "
            f"{record['state']}; exports cached {len(_exports(cache))}")
    assert job.stage == Stage.FAILED and job.error_kind == "remote_failed"
    assert "could not compute" in job.error and status in job.error and "photo" in job.error
    assert record["state"] == "failed" and not _exports(cache) and not part_files(cache.root)


def test_export_never_completes_hits_its_deadline_and_stays_resumable(
        fault, sandbox, photo, cache):
    row = fault.row("S03", "export never completes (export deadline set to 1 s; default "
                    "20 min)", "job failed 'The export did not finish within 1 second; ... "
                    "can be resumed'; record active with avatar + export codes; a resume "
                    "completes with no second upload")
    sandbox.faults.export_stuck = True
    eng = engine(sandbox, cache, deadlines=Deadlines(compute=60.0, export=1.0))
    try:
        job = eng.submit(spec(photo))
        eng.run_until_done(timeout=30)
    finally:
        eng.shutdown()
    record = cache.load_job(job.id)
    first = f"{job.stage.value}: {job.error}; record {record['state']}"
    sandbox.faults.export_stuck = False
    again = engine(sandbox, cache)
    try:
        resumed = again.resume(cache.unfinished_jobs()[0])
        again.run_until_done(timeout=30)
    finally:
        again.shutdown()
    posts = [r for r in since(sandbox, 0, "/avatars/") if r.method == "POST"]
    row.saw(f"{first}; resume: {resumed.stage.value}; avatar uploads {len(posts)}")
    assert job.stage == Stage.FAILED and job.error_kind == "deadline"
    assert "The export did not finish within 1 second" in job.error
    assert "resumed" in job.error
    assert record["state"] == "active" and record["avatar_code"] and record["export_code"]
    assert resumed.stage == Stage.DONE and len(posts) == 1


def test_deadline_message_never_says_zero_minutes(fault, sandbox, photo, cache):
    row = fault.row("R06", "regression: compute deadline shorter than a minute (0.5 s)",
                    "'Avatar computation did not finish within 1 second' (was: 'within 0 "
                    "minutes'); record resumable")
    sandbox.config.compute_seconds = 5.0
    eng = engine(sandbox, cache, deadlines=Deadlines(compute=0.5, export=60.0))
    try:
        job = eng.submit(spec(photo))
        eng.run_until_done(timeout=30)
    finally:
        eng.shutdown()
    record = cache.load_job(job.id)
    row.saw(f"{job.stage.value}: {job.error}; record {record['state']}")
    assert "Avatar computation did not finish within 1 second" in job.error
    assert "0 minutes" not in job.error and record["state"] == "active"


def test_avatar_deleted_while_polling(fault, sandbox, photo, cache):
    row = fault.row("S04", "avatar deleted on the service while polling (404)",
                    "job failed 'no longer exists ... deleted'; record not resumable; one "
                    "404, no retry storm")
    sandbox.config.compute_seconds = 3.0
    eng = engine(sandbox, cache)
    try:
        job = eng.submit(spec(photo))
        pump_until(eng, job, {Stage.QUEUED, Stage.COMPUTING})
        sandbox.delete_avatar(job.avatar_code)
        eng.run_until_done(timeout=30)
    finally:
        eng.shutdown()
    record = cache.load_job(job.id)
    gone = [r for r in since(sandbox, 0, "/avatars/") if r.status == 404]
    row.saw(f"{job.stage.value} [{job.error_kind}] {short(job.error)}; record "
            f"{record['state']}; 404 answers {len(gone)}")
    assert job.stage == Stage.FAILED and job.error_kind == "not_found"
    assert "no longer exists" in job.error and record["state"] == "failed" and len(gone) == 1


def test_garbled_answers_mid_poll_keep_the_job_resumable(fault, sandbox, photo, cache):
    row = fault.row("R07", "regression: a proxy's sign-in page answers every poll",
                    "job failed with the HTML hint, record stays resumable (was: failed for "
                    "good, the computed avatar lost); a resume completes")
    sandbox.config.compute_seconds = 1.0
    eng = engine(sandbox, cache)
    try:
        job = eng.submit(spec(photo))
        pump_until(eng, job, {Stage.QUEUED, Stage.COMPUTING})
        sandbox.faults.update({"html_next": 1000, "error_path_prefix": "/avatars/"})
        eng.run_until_done(timeout=30)
    finally:
        eng.shutdown()
    record = cache.load_job(job.id)
    sandbox.faults.reset()
    again = engine(sandbox, cache)
    try:
        resumed = again.resume(cache.unfinished_jobs()[0])
        again.run_until_done(timeout=30)
    finally:
        again.shutdown()
    row.saw(f"{job.stage.value} [{job.error_kind}] {short(job.error, 110)}; record "
            f"{record['state']}; resume {resumed.stage.value}")
    assert job.stage == Stage.FAILED and "sign-in page" in job.error
    assert record["state"] == "active" and resumed.stage == Stage.DONE


def test_static_resource_missing_fails_before_import(fault, sandbox, photo, cache):
    row = fault.row("R08", "regression: a static texture answers 404 for good",
                    "job failed naming the texture ('Shared texture X could not be "
                    "downloaded'; was: 'Not found on the service (deleted?)'); importer "
                    "never called (no pink avatar); no partial files; no retry storm")
    imported = []
    sandbox.faults.update({"error_next": 1000, "error_status": 404,
                           "error_path_prefix": "/static_resources/metaperson_2.0/textures/"
                                                "outfits/"})
    eng = engine(sandbox, cache, importer=imported.append)
    try:
        job = eng.submit(spec(photo))
        eng.run_until_done(timeout=30)
    finally:
        eng.shutdown()
    missing = [r for r in since(sandbox, 0, "/static_resources/") if r.status == 404]
    row.saw(f"{job.stage.value} [{job.error_kind}] {short(job.error)}; imports "
            f"{len(imported)}; 404 answers {len(missing)}")
    assert job.stage == Stage.FAILED and job.error_kind == "not_found" and not imported
    assert job.error.startswith("Shared texture ") and "could not be downloaded" in job.error
    assert not part_files(cache.root) and 0 < len(missing) <= 8


def test_stage_times_and_polls_are_bounded(fault, sandbox, photo, cache):
    row = fault.row("S06", "polling cadence while computing (poll 0.05 s, compute 1 s)",
                    "status polls spaced by the poll interval: at most ~1 per interval")
    sandbox.config.compute_seconds = 1.0
    eng = engine(sandbox, cache)
    try:
        t0 = time.monotonic()
        job = eng.submit(spec(photo))
        eng.run_until_done(timeout=30)
        spent = time.monotonic() - t0
    finally:
        eng.shutdown()
    polls = [r for r in since(sandbox, 0, "/avatars/")
             if r.method == "GET" and r.path.count("/") == 3]
    row.saw(f"{job.stage.value} in {spent:.2f} s with {len(polls)} status polls")
    assert job.stage == Stage.DONE and len(polls) <= spent / 0.05 + 2


@pytest.mark.parametrize("row_id,prefix,what", [
    ("R14", "/o/token/", "sign-in"),
    ("R15", "/players/", "player creation"),
])
def test_cancel_while_sign_in_is_throttled(fault, sandbox, photo, cache, row_id, prefix, what):
    row = fault.row(row_id, f"regression: Cancel while the {what} is throttled (429, "
                    "Retry-After 2, for good), two jobs", "both jobs cancelled within 0.5 s "
                    "(was: ~14 s here, up to 8 x 120 s with the defaults, and then 'failed' "
                    "instead of 'cancelled')")
    sandbox.faults.update({"throttle_next": 1000, "retry_after": 2,
                           "error_path_prefix": prefix})
    eng = engine(sandbox, cache)
    try:
        jobs = [eng.submit(spec(photo, name)) for name in ("Ada", "Bob")]
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            eng.pump()
            time.sleep(0.01)
        t0 = time.monotonic()
        for job in jobs:
            eng.cancel(job.id)
        eng.run_until_done(timeout=30)
        spent = time.monotonic() - t0
    finally:
        eng.shutdown()
    row.saw(f"{[j.stage.value for j in jobs]} after {spent:.2f} s")
    assert [j.stage for j in jobs] == [Stage.CANCELLED] * 2 and spent < 0.5
