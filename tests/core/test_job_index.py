"""Submit's lookup of "the unfinished job for this photo" through the job-record index
(core/job_index.py): exactly-once stays exact across processes, and a batch reads each
record a bounded number of times (not once per submit). Real files, real processes, the
real sandbox."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import make_engine

from avatar_importer.core import cache as cache_mod
from avatar_importer.core.cache import Cache
from avatar_importer.core.job_index import INDEX_DIR, PRUNE_AFTER_SECONDS, slot_name
from avatar_importer.core.params import default_export_parameters, default_parameters
from avatar_importer.core.stages import JobSpec, Stage
from avatar_importer.sandbox.assets import build_thumbnail, write_photos
from avatar_importer.sandbox.server import SandboxConfig

ROOT = Path(__file__).resolve().parents[2]
WORKER = ROOT / "tests" / "core" / "faults" / "worker.py"
BASE = "http://127.0.0.1:9/"


def spec(photo: Path, name: str | None = None) -> JobSpec:
    # the same options as tests/core/faults/worker.py: the same photo is the same job
    return JobSpec(photo=photo, name=name or photo.stem, parameters=default_parameters(),
                   export_parameters=default_export_parameters())


def record(job_id: str, photo: Path, *, state: str = "active", base_url: str = BASE,
           created: float | None = None, keyed: bool = True) -> dict:
    s = spec(photo)
    out = {"id": job_id, "state": state, "stage": "computing", "spec": s.to_record(),
           "created": time.time() if created is None else created, "service": "sandbox",
           "base_url": base_url}
    if keyed:
        out["key"] = s.key()
    return out


def other_process(cache_root: Path, code: str) -> None:
    """Run ``code`` in a separate Python process with ``cache = Cache(cache_root)``."""
    script = "from pathlib import Path\nfrom avatar_importer.core.cache import Cache\n" \
        f"cache = Cache(Path({str(cache_root)!r}))\n" + textwrap.dedent(code)
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def photos(folder: Path, n: int) -> list[Path]:
    return write_photos(folder, n, digits=3)


def write_legacy(cache: Cache, records: list[dict]) -> None:
    """Records as an add-on version without the index wrote them: files only."""
    cache.jobs_dir.mkdir(parents=True, exist_ok=True)
    for r in records:
        (cache.jobs_dir / f"{r['id']}.json").write_text(json.dumps(r))


def marker_path(cache: Cache, photo: Path, job_id: str) -> Path:
    slot = slot_name(spec(photo).key(), BASE)
    return cache.jobs_dir / INDEX_DIR / slot[:2] / f"{slot}-{job_id}"


@pytest.fixture
def reads(monkeypatch) -> Counter[str]:
    """Every job-record read (by file name), counted at the one reader all reads use."""
    counts: Counter[str] = Counter()
    real = cache_mod.read_record

    def counting(path: Path):
        counts[path.name] += 1
        return real(path)

    monkeypatch.setattr(cache_mod, "read_record", counting)
    return counts


# -- exactly-once -----------------------------------------------------------------------


def test_record_another_process_writes_after_the_first_lookup_is_found(cache, photo):
    key = spec(photo).key()
    assert cache.unfinished_job_for(key, BASE) is None  # index built, nothing there
    other_process(cache.root, f"""
        import json
        cache.save_job(json.loads({json.dumps(json.dumps(record("b0b0b0b0b0b0", photo)))}))
    """)
    found = cache.unfinished_job_for(key, BASE)
    assert found is not None and found["id"] == "b0b0b0b0b0b0"
    # another service (base URL) or other options: not the same job
    assert cache.unfinished_job_for(key, "http://127.0.0.1:10/") is None
    other = spec(photo)
    other.subtype = "male"
    assert cache.unfinished_job_for(other.key(), BASE) is None


def test_finished_or_deleted_elsewhere_is_not_resumed(cache, tmp_path):
    a, b, c = photos(tmp_path / "in", 3)
    for job_id, photo in (("aaaaaaaaaaaa", a), ("bbbbbbbbbbbb", b), ("cccccccccccc", c)):
        cache.save_job(record(job_id, photo))
        assert cache.unfinished_job_for(spec(photo).key(), BASE)["id"] == job_id
    other_process(cache.root, """
        record = cache.load_job("aaaaaaaaaaaa")
        cache.save_job({**record, "state": "done", "stage": "done"})
        cache.forget_job("bbbbbbbbbbbb")
        (cache.jobs_dir / "cccccccccccc.json").unlink()  # removed by hand
    """)
    for photo in (a, b, c):
        assert cache.unfinished_job_for(spec(photo).key(), BASE) is None
    # the hand-removed record's marker goes once it is old (a new one may be a writer
    # between its marker and its record)
    marker = marker_path(cache, c, "cccccccccccc")
    assert marker.is_file()
    old = time.time() - PRUNE_AFTER_SECONDS - 5
    os.utime(marker, (old, old))
    assert cache.unfinished_job_for(spec(c).key(), BASE) is None
    assert not marker.exists()
    assert marker_path(cache, a, "aaaaaaaaaaaa").exists()  # finished: still indexed
    assert not marker_path(cache, b, "bbbbbbbbbbbb").exists()  # forget_job took its own


def test_newest_unfinished_wins_and_legacy_records_are_found(cache, photo):
    """Records written before the index (and before keys) are indexed on first use."""
    write_legacy(cache, [record("0ld0ld0ld0ld", photo, created=100.0, keyed=False),
                         record("0ld0ld0ld0l2", photo, created=200.0),
                         record("0ld0ld0ld0l3", photo, created=300.0, state="done")])
    found = cache.unfinished_job_for(spec(photo).key(), BASE)
    assert found is not None and found["id"] == "0ld0ld0ld0l2"


def test_an_avatars_jobs_are_found_by_its_code_reading_only_them(cache, tmp_path, reads):
    """My Avatars' Import describes a listed avatar by the job that made it: found through
    the index (records of a version-1 index are filed again once), not by reading every
    record."""
    many = write_photos(tmp_path / "many", 60, digits=3)
    legacy = [{**record(f"leg{i:09d}", p), "avatar_code": f"code-{i}"}
              for i, p in enumerate(many)]
    write_legacy(cache, legacy)
    index = cache.jobs_dir / INDEX_DIR
    index.mkdir(parents=True, exist_ok=True)
    (index / "complete.json").write_text(json.dumps({"version": 1}))  # before avatars
    mine = {**record("mine00000001", many[7]), "avatar_code": "code-7", "state": "done"}
    cache.save_job(mine)
    cache.save_job({**record("other0000001", many[8]), "avatar_code": "code-7",
                    "base_url": "http://127.0.0.1:10/"})  # another service's avatar

    first = {r["id"] for r in cache.jobs_for_avatar("code-7", BASE)}
    assert first == {"leg000000007", "mine00000001"}
    reads.clear()
    again = Cache(cache.root).jobs_for_avatar("code-7", BASE)  # another process
    assert {r["id"] for r in again} == first
    assert sum(reads.values()) == 2  # the two records, not the 62
    cache.forget_job("mine00000001")
    assert [r["id"] for r in cache.jobs_for_avatar("code-7", BASE)] == ["leg000000007"]


@pytest.mark.parametrize("sandbox_config",
                         [SandboxConfig(compute_seconds=0.4, export_seconds=0.1)])
def test_same_photo_twice_and_a_killed_process_give_one_avatar(sandbox, photo, cache):
    """The same photo submitted twice is one job; a process killed mid-POST, whose record
    appeared after this process's first lookup, is resumed by the next submit."""
    eng = make_engine(sandbox, cache)
    try:
        first = eng.submit(spec(photo))
        again = eng.submit(spec(photo, name="Ada again"))
        assert again is first
        eng.run_until_done(timeout=30)
    finally:
        eng.shutdown()
    assert first.stage == Stage.DONE, first.error
    other = photo.with_name("other.png")
    other.write_bytes(build_thumbnail("other", 32))
    assert cache.unfinished_job_for(spec(other).key(), sandbox.base_url) is None
    sandbox.faults.update({"stall_next": 1, "stall_seconds": 3.0,
                           "error_path_prefix": "/avatars/"})
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.Popen([sys.executable, str(WORKER), "job", sandbox.base_url,
                             str(cache.root), str(other)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        killed = None
        while killed is None and time.monotonic() < deadline:
            killed = next((r for r in cache.jobs() if r.get("creation_tag")
                           and r["id"] != first.id), None)
            time.sleep(0.02)
        assert killed is not None, "the other process wrote no record"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    sandbox.faults.reset()
    eng = make_engine(sandbox, cache)
    try:
        rerun = eng.submit(spec(other))
        eng.run_until_done(timeout=30)
    finally:
        eng.shutdown()
    assert rerun.resumed and rerun.id == killed["id"] and rerun.stage == Stage.DONE, \
        rerun.error
    with sandbox._state.lock:
        assert len(sandbox._state.avatars) == 2  # one per photo


# -- cost ---------------------------------------------------------------------------------


@pytest.mark.parametrize("sandbox_config",
                         [SandboxConfig(compute_seconds=0.3, export_seconds=0.05)])
def test_a_batch_reads_each_record_a_bounded_number_of_times(sandbox, cache, tmp_path,
                                                            reads):
    old_photos = photos(tmp_path / "old", 4)
    n_old, n = 400, 12
    write_legacy(cache, [record(f"01d{i:09d}", old_photos[i % 4],
                                state="active" if i % 3 else "done",
                                base_url=sandbox.base_url if i % 2 else BASE)
                         for i in range(n_old)])
    batch = photos(tmp_path / "batch", n)
    for round_ in range(2):  # the second batch: a new engine and Cache (another process)
        if round_:
            cache = Cache(cache.root)
        eng = make_engine(sandbox, cache)
        try:
            jobs = [eng.submit(spec(p)) for p in batch]
            again = [eng.submit(spec(p)) for p in batch]  # while they run: the same jobs
            eng.run_until_done(timeout=60)
        finally:
            eng.shutdown()
        assert [j.id for j in again] == [j.id for j in jobs]
        assert all(j.stage == Stage.DONE for j in jobs), [j.error for j in jobs]
        old = {name: c for name, c in reads.items() if name.startswith("01d")}
        if round_ == 0:
            # the never-indexed cache is indexed once: each old record read once in all
            # (the full scan read each of them once per submit: 24 times)
            assert len(old) == n_old and max(old.values()) == 1, old
        else:
            assert max(old.values()) == 1, "the index was built again"
    new = {name: c for name, c in reads.items() if not name.startswith("01d")}
    assert len(new) == 2 * n
    # a new record: read by its 2 submits' lookups, its finish, and in round 2 by the
    # lookups of the same photo (the finished job is a candidate, not resumed)
    assert max(new.values()) <= 5, new
    assert sum(reads.values()) <= n_old + 5 * 2 * n
    with sandbox._state.lock:
        assert len(sandbox._state.avatars) == 2 * n
