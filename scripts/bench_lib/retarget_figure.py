"""Figure 9: body retargeting, the add-on's computed keys vs constraints + ``nla.bake``.

Runs ``bpy_retarget.py`` in a ``bpy`` venv (one process: ``bpy`` imports once). A walk of
FRAMES frames (20 s at 30 fps; 60 frames in ``--tiny``) onto the sandbox avatar, 52 bones.
Target: at most 0.75x the baseline's time (measured on 2 cores, bpy 4.2: about 0.4-0.6x).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from typing import Any

from .common import Row, skipped
from .figures import LIB, Plan, find_bpy_python

FRAMES = 600
TARGET = "<= 0.75x"
TITLE = "9 retarget 52 bones: keys vs nla.bake"


def figure_retarget(plan: Plan, info: dict[str, Any]) -> list[Row]:
    python, why = find_bpy_python(plan.bpy_python)
    if python is None:
        return [skipped("9", TITLE, "s", TARGET, why)]
    tiny = plan.import_reps == 1
    frames = 60 if tiny else FRAMES
    reps = 1 if tiny else 3 if plan.quick else 5
    work = plan.work / "retarget"
    work.mkdir(parents=True, exist_ok=True)
    spec, out = work / "spec.json", work / "out.json"
    spec.write_text(json.dumps({"frames": frames, "reps": reps, "work": str(work)}))
    env = dict(os.environ, BLENDER_USER_RESOURCES=tempfile.mkdtemp(dir=plan.work))
    proc = subprocess.run([python, str(LIB / "bpy_retarget.py"), str(spec), str(out)],
                          env=env, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0 or not out.is_file():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return [skipped("9", TITLE, "s", TARGET, "bpy child failed: " + " / ".join(tail))]
    res = json.loads(out.read_text())
    info["bpy"] = res["bpy_version"]
    addon, base = res["addon_min"], res["baseline_min"]
    return [Row(
        id="9", figure=TITLE, unit="s", measured=addon, baseline=base,
        baseline_kind="constraints + nla.bake", target=TARGET, met=addon / base <= 0.75,
        note=(f"{frames} frames, fastest of {reps} interleaved runs each (medians "
              f"{res['addon_median'] * 1e3:.0f} / {res['baseline_median'] * 1e3:.0f} ms, "
              f"{res['addon_median'] / frames * 1e3:.2f} ms per frame); both include the BVH "
              "import and the source's removal; the baseline skips the rest-pose correction"),
        details=res)]
