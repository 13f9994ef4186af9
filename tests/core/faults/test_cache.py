"""Fault matrix, crash safety and cancellation in the cache: killed writers, two processes
on one cache, cancelling slow downloads (no worker left busy)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from avatar_importer.core.cache import Cache, partial_path
from avatar_importer.core.stages import Stage

from .helpers import (
    busy_workers,
    engine,
    part_files,
    pump_until,
    sha256,
    since,
    spec,
    wait_idle,
)

WORKER = Path(__file__).with_name("worker.py")
ROOT = Path(__file__).resolve().parents[3]


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1")


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


def _static_url(sandbox, photo, cache) -> str:
    """The biggest static resource of a completed export (runs one job)."""
    eng = engine(sandbox, cache)
    try:
        job = eng.submit(spec(photo))
        eng.run_until_done(timeout=30)
    finally:
        eng.shutdown()
    assert job.stage == Stage.DONE, job.error
    paths = [r.path for r in since(sandbox, 0, "/static_resources/")]
    biggest = max(paths, key=lambda path: len(sandbox.static_file(path) or b""))
    return sandbox.base_url.rstrip("/") + biggest


def test_kill_mid_download_leaves_no_corrupt_entry(fault, sandbox, photo, cache, tmp_path):
    row = fault.row("K01", "SIGKILL a (plain Python) process in the middle of a download "
                    "into the cache", "no file under its final name, only a .part; the next "
                    "engine sweeps it and completes the job")
    url = _static_url(sandbox, photo, Cache(tmp_path / "warmup"))
    sandbox.faults.update({"download_bytes_per_second": 300.0,
                           "download_path_prefix": "/static_resources/"})
    dest = cache.static_path(url)
    proc = subprocess.Popen([sys.executable, str(WORKER), "download", url, str(dest)],
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while not part_files(cache.root) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    partials, existed = part_files(cache.root), dest.exists()
    after_kill = f"final file {'present' if existed else 'absent'}, {len(partials)} .part"
    sandbox.faults.reset()
    eng = engine(sandbox, cache)
    swept = part_files(cache.root)
    try:
        job = eng.submit(spec(photo))
        eng.run_until_done(timeout=30)
    finally:
        eng.shutdown()
    row.saw(f"after kill: {after_kill}; after the next engine started: {len(swept)} .part; "
            f"job {job.stage.value}; {dest.name} {'whole' if dest.is_file() else 'absent'}")
    assert proc.returncode == -signal.SIGKILL and len(partials) == 1 and not existed
    assert swept == [] and job.stage == Stage.DONE and dest.read_bytes()[-8:-4] == b"IEND"


def test_sweep_removes_only_dead_writers_partials(fault, tmp_path):
    row = fault.row("R11", "regression: temporary files left by killed writers",
                    "swept at engine start: a dead process's (this host) and >1 day old "
                    "ones; kept: a live writer's and another host's fresh one (was: never "
                    "removed, the cache grew with every crash)")
    cache = Cache(tmp_path / "cache")
    folder = cache.root / "static" / "x"
    folder.mkdir(parents=True)
    host = partial_path(folder / "a.png").name.split(".")[-2].split("-")[0]
    dead = folder / f".a.png.{host}-{_dead_pid()}-deadbeef.part"
    mine = partial_path(folder / "b.png")
    other_host = folder / ".c.png.ffffff-1-12345678.part"
    old_legacy = folder / ".d.png.0123abcd.part"
    old_dir = cache.root / "exports" / "s" / "a" / "e" / ".extracted.ffffff-1-abcdefgh.part"
    old_dir.mkdir(parents=True)
    (old_dir / "model.glb").write_bytes(b"x")
    for path in (dead, mine, other_host, old_legacy):
        path.write_bytes(b"partial")
    two_days = time.time() - 2 * 86400
    for path in (old_legacy, old_dir):
        os.utime(path, (two_days, two_days))
    removed = cache.sweep_partials()
    left = sorted(p.name for p in part_files(cache.root))
    row.saw(f"removed {removed}; left {left}")
    assert removed == 3 and left == sorted([mine.name, other_host.name])


def test_two_processes_share_one_cache(fault, sandbox, photo, cache, tmp_path):
    row = fault.row("P01", "two plain-Python processes, one cache, at the same time",
                    "both complete; every cached static file identical to the service's "
                    "(sha256); no .part left")
    sandbox.faults.update({"download_bytes_per_second": 200_000.0})  # overlap the fetches
    procs = [subprocess.Popen([sys.executable, str(WORKER), "job", sandbox.base_url,
                               str(cache.root), str(photo)], env=_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=90)[0] for p in procs]
    results = [json.loads(out.strip().splitlines()[-1]) for out in outs]
    statics = [p for p in (cache.root / "static").rglob("*") if p.is_file()]
    bad = [p.name for p in statics
           if sha256(p) != hashlib.sha256(sandbox.static_file(
               "/" + p.relative_to(cache.root / "static").as_posix()) or b"").hexdigest()]
    fetched = Counter(r.path for r in since(sandbox, 0, "/static_resources/"))
    row.saw(f"exit codes {[p.returncode for p in procs]}; {[r['stage'] for r in results]}; "
            f"{len(statics)} static files, {len(bad)} differ; max fetches of one file "
            f"{max(fetched.values())}")
    assert [p.returncode for p in procs] == [0, 0] and statics and bad == []
    assert max(fetched.values()) <= 2 and not part_files(cache.root)


def test_cancel_during_slow_static_fetch_stops_the_pool(fault, sandbox, photo, cache):
    row = fault.row("R12", "regression: cancel while shared textures download slowly "
                    "(300 B/s)", "job cancelled; no pool thread busy 1 s later; no further "
                    "texture fetched (was: 8 threads kept downloading every queued texture "
                    "for 10+ s)")
    sandbox.faults.update({"download_bytes_per_second": 300.0,
                           "download_path_prefix": "/static_resources/"})
    eng = engine(sandbox, cache)
    try:
        job = eng.submit(spec(photo))
        pump_until(eng, job, {Stage.STATIC})
        time.sleep(0.3)
        eng.cancel(job.id)
        eng.run_until_done(timeout=10)
        busy, waited = wait_idle(timeout=3.0)
        started = len(since(sandbox, 0, "/static_resources/"))
        time.sleep(0.5)
        later = len(since(sandbox, 0, "/static_resources/"))
        files = [p for p in (cache.root / "static").rglob("*") if p.is_file()]
    finally:
        eng.shutdown()
    row.saw(f"{job.stage.value}; busy workers after {waited:.2f} s: {busy}; static "
            f"requests {started} then {later}; whole files {len(files)}, .part "
            f"{len(part_files(cache.root))}")
    assert job.stage == Stage.CANCELLED and busy == [] and waited < 1.0
    assert later == started and not part_files(cache.root)


def test_cancel_during_a_very_slow_download_is_prompt(fault, sandbox, photo, cache):
    row = fault.row("R13", "regression: cancel during a 1 kB/s export download",
                    "cancelled within 0.5 s, no worker busy (was: up to 16 s, a whole "
                    "16 kB chunk had to arrive first)")
    sandbox.config.extra_archive_bytes = 100_000
    sandbox.faults.update({"download_bytes_per_second": 1000.0,
                           "download_path_prefix": "/avatars/"})
    eng = engine(sandbox, cache)
    try:
        job = eng.submit(spec(photo))
        pump_until(eng, job, {Stage.DOWNLOADING})
        time.sleep(0.5)
        t0 = time.monotonic()
        eng.cancel(job.id)
        eng.run_until_done(timeout=30)
        spent = time.monotonic() - t0
        busy = busy_workers()
    finally:
        eng.shutdown()
    row.saw(f"{job.stage.value} after {spent:.2f} s; busy workers {busy}; export.zip "
            f"{'present' if list(cache.root.rglob('export.zip')) else 'absent'}")
    assert job.stage == Stage.CANCELLED and spent < 0.5 and busy == []
    assert not list(cache.root.rglob("export.zip")) and not part_files(cache.root)


@pytest.mark.parametrize("row_id,how", [("R16", "cancel"), ("R17", "shutdown")])
def test_stalled_download_does_not_hold_cancel_or_shutdown(fault, sandbox, photo, cache,
                                                           row_id, how):
    what = "Cancel" if how == "cancel" else "engine shutdown (add-on disabled, Blender quits)"
    row = fault.row(row_id, f"regression: {what} while the export download is stalled "
                    "(server silent, read timeout 8 s)", "done within 0.5 s, no worker busy "
                    "(was: waited for the read timeout, 60 s by default: a frozen UI on "
                    "unregister)")
    sandbox.config.extra_archive_bytes = 300_000
    sandbox.faults.update({"stall_next_downloads": 1, "truncate_at_bytes": 50_000,
                           "stall_seconds": 30.0, "download_path_prefix": "/avatars/"})
    eng = engine(sandbox, cache, client={"timeout": (2.0, 8.0)})
    try:
        job = eng.submit(spec(photo))
        pump_until(eng, job, {Stage.DOWNLOADING})
        time.sleep(0.5)  # the server has gone silent
        t0 = time.monotonic()
        if how == "cancel":
            eng.cancel(job.id)
            eng.run_until_done(timeout=30)
        else:
            eng.shutdown(wait=True)
        spent = time.monotonic() - t0
        busy = busy_workers()
    finally:
        eng.shutdown()
    row.saw(f"{how} took {spent:.2f} s; job {job.stage.value}; busy workers {busy}; .part "
            f"{len(part_files(cache.root))}")
    assert spent < 0.5 and busy == [] and not part_files(cache.root)
    if how == "cancel":
        assert job.stage == Stage.CANCELLED
