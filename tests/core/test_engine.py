"""The job engine end to end against the sandbox, driven by the headless pump loop."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import make_engine, settled_log

from avatar_importer.core.params import default_export_parameters, default_parameters
from avatar_importer.core.stages import JobSpec, Stage
from avatar_importer.sandbox.server import SandboxConfig


def spec(photo: Path, name: str = "Ada") -> JobSpec:
    return JobSpec(photo=photo, name=name, subtype="female",
                   parameters=default_parameters(),
                   export_parameters=default_export_parameters())


def static_requests(sandbox) -> Counter[str]:
    return Counter(r.path for r in settled_log(sandbox)
                   if r.path.startswith("/static_resources/") and r.status == 200)


def no_part_files(root: Path) -> bool:
    return not [p for p in root.rglob("*") if p.name.endswith(".part")]


def test_two_photos_in_flight_each_static_downloaded_once(sandbox, photo, cache, tmp_path):
    other = tmp_path / "other.png"
    other.write_bytes(photo.read_bytes())
    engine = make_engine(sandbox, cache)
    try:
        jobs = [engine.submit(spec(photo, "Ada")), engine.submit(spec(other, "Bob"))]
        # both avatars are computing at the same time, not one after the other
        both_busy = False
        deadline = time.monotonic() + 30
        while engine.active() and time.monotonic() < deadline:
            engine.pump()
            stages = {j.stage for j in jobs}
            both_busy |= stages <= {Stage.QUEUED, Stage.COMPUTING}
            time.sleep(0.01)
        assert both_busy
        assert [j.stage for j in jobs] == [Stage.DONE, Stage.DONE], [j.error for j in jobs]
    finally:
        engine.shutdown()
    counts = static_requests(sandbox)
    assert counts and set(counts.values()) == {1}
    assert sum(j.static_fetched for j in jobs) == len(counts)
    for job in jobs:
        assert job.glb_path is not None and job.glb_path.is_file()
        assert job.search and all(p.is_file() for p in job.search.values())
        assert job.stage_seconds["computing"] > 0
    assert no_part_files(cache.root)


def test_second_avatar_reuses_every_static_resource(sandbox, photo, cache):
    for expected_fetch in (True, False):
        engine = make_engine(sandbox, cache)
        job = engine.submit(spec(photo))
        engine.run_until_done(timeout=30)
        engine.shutdown()
        assert job.stage == Stage.DONE, job.error
        assert (job.static_fetched > 0) == expected_fetch
    assert job.static_fetched == 0 and job.static_reused > 0
    assert set(static_requests(sandbox).values()) == {1}


@pytest.fixture
def separate_static(sandbox_config: SandboxConfig) -> SandboxConfig:
    sandbox_config.separate_static_host = True
    return sandbox_config


def test_bearer_token_goes_only_to_the_api_host(separate_static, sandbox, photo, cache):
    assert sandbox.static_base_url != sandbox.base_url
    engine = make_engine(sandbox, cache)
    job = engine.submit(spec(photo))
    engine.run_until_done(timeout=30)
    engine.shutdown()
    assert job.stage == Stage.DONE, job.error
    static = [r for r in settled_log(sandbox) if r.path.startswith("/static_resources/")]
    api = [r for r in settled_log(sandbox) if r.path.startswith("/avatars/")]
    assert static and not any(r.had_authorization for r in static)
    assert api and all(r.had_authorization for r in api)


def test_failed_avatar_ends_in_a_clear_error(sandbox, photo, cache):
    sandbox.faults.fail_next_avatars = 1
    sandbox.faults.fail_status = "Failed"
    engine = make_engine(sandbox, cache)
    job = engine.submit(spec(photo))
    engine.run_until_done(timeout=30)
    engine.shutdown()
    assert job.stage == Stage.FAILED
    assert "could not compute" in job.error and "Failed" in job.error
    assert job.glb_path is None
    assert not (cache.root / "exports").exists() or not any((cache.root / "exports").rglob("*.zip"))


def test_token_expiry_mid_poll_succeeds(sandbox, photo, cache):
    engine = make_engine(sandbox, cache)
    job = engine.submit(spec(photo))
    deadline = time.monotonic() + 10
    while job.stage not in (Stage.QUEUED, Stage.COMPUTING) and time.monotonic() < deadline:
        engine.pump()
        time.sleep(0.01)
    sandbox.faults.expire_tokens()
    engine.run_until_done(timeout=30)
    engine.shutdown()
    assert job.stage == Stage.DONE, job.error
    assert len([r for r in settled_log(sandbox) if r.path == "/o/token/"]) == 2


def run_until(engine, job, stages, timeout=20.0):
    deadline = time.monotonic() + timeout
    while job.stage not in stages and time.monotonic() < deadline:
        engine.pump()
        time.sleep(0.005)
    assert job.stage in stages, f"never reached {stages}: {job.stage} {job.error}"


@pytest.mark.parametrize("stage", [Stage.AUTHENTICATE, Stage.UPLOAD, Stage.QUEUED,
                                   Stage.COMPUTING, Stage.EXPORTING, Stage.DOWNLOADING,
                                   Stage.STATIC, Stage.READY])
def test_cancel_at_each_stage_leaves_no_partial_files(sandbox, photo, cache, stage):
    if stage in (Stage.AUTHENTICATE, Stage.UPLOAD):
        sandbox.faults.latency_seconds = 0.3  # every request is slow: time to cancel
    elif stage == Stage.EXPORTING:
        sandbox.faults.export_stuck = True
    elif stage == Stage.DOWNLOADING:
        sandbox.faults.download_bytes_per_second = 20000.0
    elif stage == Stage.STATIC:
        sandbox.faults.download_path_prefix = "/static_resources/"
        sandbox.faults.download_bytes_per_second = 2000.0
    sandbox.config.compute_seconds = 1.5
    imported = []
    engine = make_engine(sandbox, cache)
    engine.importer = imported.append if stage == Stage.READY else None
    job = engine.submit(spec(photo))
    if stage == Stage.READY:
        # stop just before the import: the ready event is applied, import not yet run
        deadline = time.monotonic() + 60
        while job.stage != Stage.READY and time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):
                engine._apply(engine.events.get(timeout=0.1))
    else:
        run_until(engine, job, {stage}, timeout=60)
    engine.cancel(job.id)
    engine.run_until_done(timeout=30)
    engine.shutdown()
    assert job.stage == Stage.CANCELLED
    assert imported == []
    assert no_part_files(cache.root)
    if stage not in (Stage.STATIC, Stage.READY):
        assert not list(cache.root.rglob("export.zip"))
    if stage != Stage.READY:  # a static resource is either whole in the cache or absent
        for path in (cache.root / "static").rglob("*"):
            data = path.read_bytes() if path.is_file() else b""
            assert not path.is_file() or (data[:4] == b"\x89PNG" and data[-8:-4] == b"IEND")
    assert not [t for t in threading.enumerate() if t.name.startswith("avatar-job")]
    assert cache.load_job(job.id)["state"] == "cancelled"


def test_interrupted_job_resumes_without_recompute(sandbox, photo, cache):
    sandbox.config.compute_seconds = 1.0
    engine = make_engine(sandbox, cache)
    job = engine.submit(spec(photo))
    run_until(engine, job, {Stage.QUEUED, Stage.COMPUTING})
    # simulate a crash: the process goes away without cancelling (the record stays active)
    engine._cancel[job.id].set()
    engine.shutdown()
    record = cache.load_job(job.id)
    assert record["avatar_code"] and record["state"] == "active"
    assert "client_secret" not in str(record) and "sandbox" not in str(record.get("spec"))
    posts_before = len([r for r in settled_log(sandbox)
                        if r.method == "POST" and r.path == "/avatars/"])

    fresh = make_engine(sandbox, cache)
    unfinished = cache.unfinished_jobs()
    assert [r["id"] for r in unfinished] == [job.id]
    resumed = fresh.resume(unfinished[0])
    fresh.run_until_done(timeout=30)
    fresh.shutdown()
    assert resumed.stage == Stage.DONE, resumed.error
    assert resumed.avatar_code == record["avatar_code"]
    posts_after = len([r for r in settled_log(sandbox)
                       if r.method == "POST" and r.path == "/avatars/"])
    assert posts_after == posts_before == 1
    assert cache.load_job(job.id)["state"] == "done"


def test_pump_respects_its_budget(sandbox, photo, cache):
    engine = make_engine(sandbox, cache)
    for i in range(3):
        engine.submit(spec(photo, f"A{i}"))
    worst = 0.0
    while engine.active():
        start = time.perf_counter()
        engine.pump(budget=0.004)
        worst = max(worst, time.perf_counter() - start)
        time.sleep(0.005)
    engine.shutdown()
    assert worst < 0.05
