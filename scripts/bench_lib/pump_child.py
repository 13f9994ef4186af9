"""Figure 4 child: main-thread pump ticks and resident memory while a big export downloads.

    python scripts/bench_lib/pump_child.py BASE_URL WORKDIR OUT.json

Runs in a fresh process of its own (the sandbox serving BASE_URL runs in another one), so
its resident memory is the add-on's alone. Like the UI timer, the main thread calls
``engine.pump(budget=0.004)`` about every 10 ms while the job's worker downloads, extracts
and fetches static resources; each call is timed. Then the obvious alternative is run in
the same process: the export fetched on the main thread with one ``requests.get`` whose
``.content`` is written to a file (the UI would be frozen for the whole download, and the
archive would sit in memory).
"""

from __future__ import annotations

import gc
import json
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_lib.common import make_engine, make_photos, rss_mb, spec_for

TICK = 0.010
BUDGET = 0.004


class RssSampler:
    """Peak VmRSS seen by a thread sampling every few milliseconds."""

    def __init__(self, every: float = 0.005) -> None:
        self.peak = rss_mb()
        self._stop = threading.Event()
        self._every = every
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self.peak = max(self.peak, rss_mb())

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())


def engine_run(base_url: str, work: Path) -> dict:
    photo = make_photos(work / "photos", 1)[0]
    engine = make_engine(base_url, work / "cache", poll_interval=0.1)
    ticks: list[tuple[float, float, str]] = []  # (start, seconds, stage)
    main_saves: list[float] = []  # job-record writes (write + fsync) done on this thread
    save_job = engine.cache.save_job

    def timed_save(record: dict) -> None:
        t0 = time.perf_counter()
        save_job(record)
        if threading.current_thread() is threading.main_thread():
            main_saves.append(time.perf_counter() - t0)

    engine.cache.save_job = timed_save  # type: ignore[method-assign]
    try:
        engine.service.client.header()  # sign in before the baseline reading
        gc.collect()
        rss_before = rss_mb()
        with RssSampler() as sampler:
            state = engine.submit(spec_for(photo, "Big"))
            started = time.perf_counter()
            next_tick = started
            while engine.active() or not engine.events.empty():
                stage = state.stage.value
                t0 = time.perf_counter()
                engine.pump(budget=BUDGET)
                ticks.append((t0 - started, time.perf_counter() - t0, stage))
                next_tick += TICK
                delay = next_tick - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                else:
                    next_tick = time.perf_counter()
                if time.perf_counter() - started > 600:
                    raise RuntimeError("the job did not finish within 10 minutes")
        wall = time.perf_counter() - started
        if state.stage.value != "done":
            raise RuntimeError(f"the job ended {state.stage.value}: {state.error}")
        durations = sorted(s for _, s, _ in ticks)
        during = sorted(s for _, s, st in ticks if st in ("downloading", "static"))
        worst = max(ticks, key=lambda t: t[1])
        export = engine.service.client.get_export(state.avatar_code, state.export_code)
        return {
            "ticks": len(ticks), "ticks_while_downloading": len(during),
            "max_ms": durations[-1] * 1e3, "p99_ms": _pct(durations, 99) * 1e3,
            "median_ms": statistics.median(durations) * 1e3,
            "max_downloading_ms": (during[-1] if during else 0.0) * 1e3,
            "worst_tick": {"at_s": worst[0], "ms": worst[1] * 1e3, "stage_before": worst[2]},
            "main_thread_save_job_ms": [x * 1e3 for x in main_saves],
            "rss_before_mb": rss_before, "rss_peak_mb": sampler.peak,
            "rss_growth_mb": sampler.peak - rss_before,
            "bytes_downloaded": state.bytes_downloaded, "wall_s": wall,
            "stage_seconds": state.stage_seconds,
            "file_url": export.main_file().file,
            "player": engine.service.client.player,
            "token": engine.service.client.header(),
        }
    finally:
        engine.shutdown()


def naive_run(file_url: str, token: str, player: str, work: Path) -> dict:
    """The seed's way, on the main thread: the whole body in memory, then to disk."""
    import requests
    gc.collect()
    rss_before = rss_mb()
    with RssSampler() as sampler:
        t0 = time.perf_counter()
        resp = requests.get(file_url, headers={"Authorization": token, "X-PlayerUID": player},
                            timeout=(5, 300))
        resp.raise_for_status()
        (work / "naive.zip").write_bytes(resp.content)
        blocked = time.perf_counter() - t0
        size = len(resp.content)
        del resp
    (work / "naive.zip").unlink(missing_ok=True)
    return {"blocked_s": blocked, "bytes": size, "rss_before_mb": rss_before,
            "rss_peak_mb": sampler.peak, "rss_growth_mb": sampler.peak - rss_before}


def _pct(sorted_values: list[float], pct: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, round(pct / 100 * (len(sorted_values) - 1)))
    return sorted_values[index]


def main(argv: list[str]) -> int:
    base_url, work, out = argv[0], Path(argv[1]), Path(argv[2])
    work.mkdir(parents=True, exist_ok=True)
    result = {"engine": engine_run(base_url, work)}
    eng = result["engine"]
    result["naive"] = naive_run(eng.pop("file_url"), eng.pop("token"), eng.pop("player"), work)
    out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
