"""Fault matrix, load (plain Python half): 50 avatars through one job engine, with the
threads and memory it may use bounded by its design. The Blender half runs the batch
script with 50 photos (tests/blender/test_fault_matrix_blender.py)."""

from __future__ import annotations

import threading
import time
from collections import Counter

from avatar_importer.core.engine import EngineOptions
from avatar_importer.core.stages import Stage

from .helpers import engine, part_files, since, spec

N_JOBS = 50
OPTIONS = EngineOptions()  # the defaults the add-on runs with
#: engine threads by design: one per running job, plus the static fetcher's pool
ENGINE_THREADS = OPTIONS.max_parallel + OPTIONS.static_workers
#: the in-process sandbox: its listener plus one handler per open keep-alive connection
#: (each engine thread holds at most one session, so at most one connection) + slack
SANDBOX_THREADS = 1 + ENGINE_THREADS + 4
RSS_GROWTH_MB = 64  # 50 job records, sessions, the sandbox's generated files, events (~11 MB seen)


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def test_fifty_avatars_threads_and_memory_bounded(fault, sandbox, photo, cache):
    row = fault.row("L01", f"{N_JOBS} avatars at once through one engine (compute 0.4 s)",
                    f"all done; engine threads <= {OPTIONS.max_parallel} job + "
                    f"{OPTIONS.static_workers} static; process threads <= baseline + "
                    f"{ENGINE_THREADS} + sandbox {SANDBOX_THREADS}; RSS growth <= "
                    f"{RSS_GROWTH_MB} MB; each static fetched once")
    baseline_threads, baseline_rss = threading.active_count(), _rss_mb()
    eng = engine(sandbox, cache, poll_interval=0.1)
    peak_total = peak_job = peak_static = 0
    peak_rss = baseline_rss
    t0 = time.monotonic()
    try:
        jobs = [eng.submit(spec(photo, f"A{i:02d}")) for i in range(N_JOBS)]
        deadline = time.monotonic() + 90
        while eng.active() and time.monotonic() < deadline:
            eng.pump(budget=0.02)
            names = [t.name for t in threading.enumerate()]
            peak_total = max(peak_total, len(names))
            peak_job = max(peak_job, sum(n.startswith("avatar-job") for n in names))
            peak_static = max(peak_static, sum(n.startswith("avatar-static") for n in names))
            peak_rss = max(peak_rss, _rss_mb())
            time.sleep(0.01)
        spent = time.monotonic() - t0
    finally:
        eng.shutdown()
    stages = Counter(j.stage.value for j in jobs)
    fetched = Counter(r.path for r in since(sandbox, 0, "/static_resources/"))
    growth = peak_rss - baseline_rss
    row.saw(f"{dict(stages)} in {spent:.1f} s; peak threads {peak_total} (baseline "
            f"{baseline_threads}; job {peak_job}, static {peak_static}); RSS +{growth:.0f} MB "
            f"(peak {peak_rss:.0f}); static fetches per file max {max(fetched.values())}")
    assert stages == {"done": N_JOBS}, [j.error for j in jobs if j.stage != Stage.DONE][:3]
    assert peak_job <= OPTIONS.max_parallel and peak_static <= OPTIONS.static_workers
    assert peak_total <= baseline_threads + ENGINE_THREADS + SANDBOX_THREADS
    assert growth <= RSS_GROWTH_MB and set(fetched.values()) == {1}
    assert not part_files(cache.root)
