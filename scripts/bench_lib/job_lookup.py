"""Figure 10: submit's lookup of an unfinished job with the same photo and options
(``Cache.unfinished_job_for``, run by every ``JobEngine.submit``, on Blender's main thread
for the panel's Create) in a cache holding 1,000 and 10,000 job records: the job-record
index (core/job_index.py) vs the full scan it replaced (reproduced here:
:func:`full_scan_lookup`), side by side on the same files. No ``bpy``, no sandbox.

The records are written as a version without the index wrote them (files only); the first
indexed lookup indexes them (once per cache, reported beside the figure), then every
lookup is timed warm, as the full scan is.
"""

from __future__ import annotations

import json
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

from .common import Cache, JobSpec, Row, default_export_parameters, default_parameters

BASE_URL = "http://127.0.0.1:8000/"


def full_scan_lookup(cache: Cache, key: str, base_url: str) -> dict[str, Any] | None:
    """``Cache.unfinished_job_for`` before the index: read every record, every time."""
    from avatar_importer.core.cache import job_key
    found: dict[str, Any] | None = None
    for record in cache.unfinished_jobs():
        if record.get("base_url") != base_url or not record.get("spec"):
            continue
        if not key or job_key(record) != key:
            continue
        if found is None or float(record.get("created") or 0) > \
                float(found.get("created") or 0):
            found = record
    return found


def _spec(i: int) -> JobSpec:
    return JobSpec(photo=Path(f"/photos/shoot/face{i:05d}.jpg"), name=f"face{i:05d}",
                   subtype="female", parameters=default_parameters(),
                   export_parameters=default_export_parameters())


def _fill(cache: Cache, n: int) -> None:
    """``n`` realistic records: two in three finished, the rest unfinished (a killed run's,
    owner gone), each for its own photo."""
    cache.jobs_dir.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        spec = _spec(i)
        record = {"id": f"{i:012x}", "state": "done" if i % 3 else "active",
                  "stage": "done" if i % 3 else "computing", "spec": spec.to_record(),
                  "key": spec.key(), "created": 1.7e9 + i, "service": "sandbox",
                  "base_url": BASE_URL, "player": "p" * 36, "avatar_code": f"{i:036x}",
                  "export_code": f"{i:036x}", "creation_tag": f"avatar_importer job {i:032x}"}
        (cache.jobs_dir / f"{record['id']}.json").write_text(
            json.dumps(record, indent=1, sort_keys=True))


def _time(fn: Any, reps: int) -> float:
    """Median seconds of ``reps`` calls."""
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _time_markers(cache: Cache, reps: int) -> float:
    """Median seconds to add a new job's marker (``save_job`` does it before writing)."""
    ids = iter(range(10**6))
    return _time(lambda: cache._index.add(f"m{next(ids):011x}", f"{next(ids):032x}",
                                          BASE_URL), reps)


def figure_job_lookup(work: Path, counts: tuple[int, ...] = (1_000, 10_000),
                      reps: int = 7) -> list[Row]:
    rows = []
    for sub, n in zip("abcdefgh", counts, strict=False):
        root = work / f"job-lookup-{n}"
        cache = Cache(root)
        _fill(cache, n)
        new_key = _spec(n + 1).key()  # a new photo: what a batch submits
        resume_key = _spec(3 * (n // 6)).key()  # an unfinished one (i % 3 == 0)
        t0 = time.perf_counter()
        assert cache.unfinished_job_for(new_key, BASE_URL) is None  # indexes the cache
        build = time.perf_counter() - t0
        # the same answers both ways
        assert full_scan_lookup(cache, new_key, BASE_URL) is None
        old_hit, new_hit = (full_scan_lookup(cache, resume_key, BASE_URL),
                            cache.unfinished_job_for(resume_key, BASE_URL))
        assert old_hit is not None and new_hit is not None and old_hit["id"] == new_hit["id"]
        before = _time(lambda c=cache, k=new_key: full_scan_lookup(c, k, BASE_URL),
                       max(3, reps // 2))
        after = _time(lambda c=cache, k=new_key: c.unfinished_job_for(k, BASE_URL), reps * 20)
        after_hit = _time(lambda c=cache, k=resume_key: c.unfinished_job_for(k, BASE_URL),
                          reps * 20)
        fresh = _time(lambda r=root, k=new_key: Cache(r).unfinished_job_for(k, BASE_URL),
                      reps * 20)  # the panel makes a Cache per Create
        add = _time_markers(cache, reps * 20)
        rows.append(Row(
            f"10{sub}", f"10 submit's job lookup, {n:,} records", "ms",
            measured=after * 1e3, baseline=before * 1e3, target="<= 1 ms",
            met=after * 1e3 <= 1.0, baseline_kind="full scan",
            note=(f"{n:,} records: index lookup {after * 1e3:.3f} ms (new photo), "
                  f"{after_hit * 1e3:.3f} ms (resuming one), {fresh * 1e3:.3f} ms with a new "
                  f"Cache; full scan {before * 1e3:.1f} ms; indexing the never-indexed "
                  f"cache once {build:.2f} s; a new job's marker (in save_job) "
                  f"{add * 1e3:.3f} ms"),
            details={"records": n, "index_ms": after * 1e3, "index_hit_ms": after_hit * 1e3,
                     "index_new_cache_ms": fresh * 1e3, "full_scan_ms": before * 1e3,
                     "index_build_s": build, "marker_add_ms": add * 1e3}))
        shutil.rmtree(root, ignore_errors=True)
    return rows
