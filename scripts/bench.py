#!/usr/bin/env python3
"""Benchmarks of the add-on against the loopback sandbox (not part of the test suite).

    python scripts/bench.py [--quick] [--json OUT.json] [--bpy-python PATH]

Every figure is measured against the obvious alternative in the same run, and reported as
measured / baseline:

1. import: ``import_avatar_glb`` (checks, URI rewiring, collection, verification) vs a plain
   ``bpy.ops.import_scene.gltf`` of the same GLB with its textures beside it (needs a
   ``bpy`` venv: run in a subprocess; skipped with the reason when there is none);
2. static resources: bytes fetched for a second avatar (vs the first); 16 static files
   with 50 ms latency per request, the add-on's fetcher vs one ``requests.get`` after
   another as the seed's curl loop does;
3. batch: 10 photos at 20 s of sandbox compute each, all at once vs one after another;
4. responsiveness: longest main-thread ``pump`` tick and resident-memory growth while a
   200 MB export downloads (vs fetching it with ``requests.get`` on the main thread);
5. polling: status requests per avatar vs ``ceil(compute / poll interval)``;
6. crowd: 100 avatars (quick: 30) into one scene: import time of the last 10 vs the first
   10 (add-on, and the plain importer beside it), image datablocks vs distinct files, the
   packed .blend vs distinct texture + mesh bytes, resident memory per avatar;
7. realistic avatar (2K.jpg textures at real sizes, generated once per profile with a bpy
   venv into ~/.cache/avatar_importer/bench-textures): download complete -> in the scene
   vs a plain import; its static textures with 50 ms latency and a 20 MB/s link: the
   add-on's fetch vs the bandwidth floor and vs the seed's one-by-one loop;
8. batch of 100 photos at 20 s of compute (quick: clock x0.1): wall vs compute + 15 s.
9. retarget: a 600-frame walk onto the sandbox avatar, the add-on's computed keys vs
   Copy Rotation constraints baked with ``nla.bake`` (needs a ``bpy`` venv).
10. job lookup: submit's search for an unfinished job with the same photo and options in
   a cache of 1,000 and 10,000 job records, the job-record index vs the full scan it
   replaced (``--only joblookup``; tiny: 100 and 1,000).

``--quick`` (under two minutes on two cores) runs fewer repetitions and figure 3 on a
clock scaled by 0.1 (2 s compute, 0.5 s polls, target compute + 1 s). Needs Python 3.11
with ``requests``. Prints the table; ``--json`` writes it with the machine's description.
Exit code 0 when it ran (whatever the targets), 1 when a figure failed to run.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_lib.common import SCHEMA, Row, machine_info, machine_line, skipped, table
from bench_lib.crowd_figures import figure_batch100, figure_crowd, figure_realistic
from bench_lib.figures import (
    Plan,
    figure_batch,
    figure_import,
    figure_polling,
    figure_responsiveness,
    figure_statics,
    tune_sandbox,
)
from bench_lib.job_lookup import figure_job_lookup
from bench_lib.retarget_figure import figure_retarget

FIGURES = ("import", "statics", "batch", "responsiveness", "crowd", "realistic", "batch100",
           "retarget", "joblookup")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/bench.py", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Figures: 1 import, 2 statics, 3+5 batch (polling is counted in the batch), "
               "4 responsiveness.")
    parser.add_argument("--quick", action="store_true",
                        help="fewer repetitions, figure 3 on a 0.1x clock (< 2 min)")
    parser.add_argument("--tiny", action="store_true",
                        help="smoke run of every code path in seconds (numbers meaningless)")
    parser.add_argument("--json", type=Path, metavar="OUT.json", help="write the results here")
    parser.add_argument("--markdown", action="store_true",
                        help="also print the table as Markdown (for the README)")
    parser.add_argument("--bpy-python", metavar="PATH",
                        help="Python of a bpy venv for figure 1 (default: "
                             "~/.cache/avatar_importer/venvs/bpy-4.2.23/bin/python)")
    parser.add_argument("--only", action="append", choices=FIGURES, metavar="FIGURE",
                        help=f"run only these ({', '.join(FIGURES)}); repeatable")
    parser.add_argument("--serial-batch", choices=("all", "one"), default="all",
                        help="serial baseline of figure 3: run all avatars one after another "
                             "(default), or one avatar and multiply")
    parser.add_argument("--what-if", action="store_true",
                        help="figure 1 also times proposed add-on changes, patched in the "
                             "benchmark's processes only (see bench_lib/bpy_import.py)")
    parser.add_argument("--tuned-sandbox", action="store_true",
                        help="run the sandbox with TCP_NODELAY and a deep listen backlog, as "
                             "real servers do (see bench_lib/figures.py: tune_sandbox)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="avatar-bench-"))
    info = machine_info()
    mode = "tiny" if args.tiny else "quick" if args.quick else "full"
    plan = Plan.make(mode, work, args.bpy_python, args.serial_batch, args.what_if,
                     args.tuned_sandbox)
    if args.tuned_sandbox:
        tune_sandbox(True)
    wanted = set(args.only or FIGURES)
    rows: list[Row] = []
    failed = False
    timings: dict[str, float] = {}

    def run(name: str, fn: Callable[[], list[Row]], fallback: list[Row]) -> None:
        nonlocal failed
        if name not in wanted:
            return
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            rows.extend(fn())
        except Exception as exc:  # one broken figure must not hide the others
            failed = True
            traceback.print_exc()
            rows.extend(skipped(r.id, r.figure, r.unit, r.target,
                                f"error: {type(exc).__name__}: {exc}") for r in fallback)
        timings[name] = time.perf_counter() - t0
        print(f"[bench] {name}: {timings[name]:.1f} s", file=sys.stderr, flush=True)

    batch_rows: list[Row] = []

    def batch() -> list[Row]:
        out, parallel = figure_batch(plan)
        batch_rows.extend(figure_polling(plan, parallel))
        return out

    try:
        run("import", lambda: figure_import(plan, info),
            [Row("1", "1 import: add-on vs plain glTF op", "s", target="<= 1.15x")])
        run("statics", lambda: figure_statics(plan),
            [Row("2a", "2 static bytes for a 2nd avatar", "bytes", target="0 B"),
             Row("2b", "2 16 static files, 50 ms latency", "s", target="<= 0.20x")])
        run("batch", batch,
            [Row("3a", "3 batch of 10: wall time", "s", target="<= 0.20x"),
             Row("5", "5 status polls per avatar", "requests", target="<= minimum + 1")])
        rows.extend(batch_rows)
        run("responsiveness", lambda: figure_responsiveness(plan),
            [Row("4a", "4 longest main-thread pump tick", "ms", target="<= 5 ms"),
             Row("4b", "4 resident memory growth", "MB", target="<= 50 MB")])
        run("crowd", lambda: figure_crowd(plan, info),
            [Row("6a", "6 crowd: import time, last 10 vs first 10", "s", target="<= 1.3x")])
        run("realistic", lambda: figure_realistic(plan, info),
            [Row("7a", "7 2K avatar: download complete -> in the scene", "s",
                 target="<= 1.15x"),
             Row("7b", "7 2K statics: fetch vs bandwidth floor", "s", target="<= 1.2x")])
        run("batch100", lambda: figure_batch100(plan),
            [Row("8", "8 batch of 100: wall vs compute time", "s", target="<= compute + 15 s")])
        run("retarget", lambda: figure_retarget(plan, info),
            [Row("9", "9 retarget 52 bones: keys vs nla.bake", "s", target="<= 0.75x")])
        run("joblookup", lambda: figure_job_lookup(
                work, (100, 1_000) if args.tiny else (1_000, 10_000), 3 if args.tiny else 7),
            [Row("10a", "10 submit's job lookup", "ms", target="<= 1 ms")])
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    # stable: figure order (by the id's number), sub-rows as measured
    rows.sort(key=lambda r: int(re.match(r"\d*", r.id)[0] or 0))
    seconds = time.perf_counter() - started
    info["loadavg_end"] = machine_info()["loadavg_start"]
    extra = (", --what-if" if args.what_if else "") + \
        (", --tuned-sandbox" if args.tuned_sandbox else "")
    print(f"\nAvatar importer benchmark ({mode}{extra}, {seconds:.0f} s)")
    print(f"Machine: {machine_line(info)}\n")
    print(table(rows))
    notes = [f"  {r.id}: {'SKIPPED: ' + r.skipped if r.skipped else r.note}"
             for r in rows if r.note or r.skipped]
    if notes:
        print("\nNotes:\n" + "\n".join(notes))
    if args.markdown:
        print("\n" + table(rows, markdown=True))
    if args.json:
        doc = {"schema": SCHEMA, "mode": mode,
               "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),  # noqa: UP017
               "seconds": seconds, "figure_seconds": timings, "machine": info,
               "plan": {k: (str(v) if isinstance(v, Path) else v)
                        for k, v in vars(plan).items() if k != "work"},
               "figures": [r.to_json() for r in rows]}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
