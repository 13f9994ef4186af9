"""./scripts/demo.sh as a user runs it: a short summary on the terminal (what was made,
where, how long), the whole run's output (Blender's and Cycles' lines included) in
demo.log."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import bpy

ROOT = Path(__file__).resolve().parents[2]


def test_demo_prints_a_summary_and_keeps_the_log(tmp_path: Path, fault: Any) -> None:
    row = fault.row("M08", "./scripts/demo.sh", "a few summary lines (what, where, how "
                    "long); Cycles' progress lines only in demo.log")
    out = tmp_path / "demo out"
    env = dict(os.environ, AVATAR_DEMO_BPY=bpy.app.version_string.split()[0])
    proc = subprocess.run([str(ROOT / "scripts" / "demo.sh"), str(out)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600, env=env)
    lines = proc.stdout.splitlines()
    log_lines = len((out / "demo.log").read_text().splitlines()) if out.is_dir() else 0
    row.saw(f"exit {proc.returncode}; {len(lines)} lines on the terminal, {log_lines} in "
            f"demo.log; last: {lines[-1:]}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(lines) <= 8, proc.stdout
    assert all(line.startswith("demo: ") for line in lines), proc.stdout
    assert any(line.startswith("demo: DemoAvatar: done;") and "19/19 textures" in line
               for line in lines), proc.stdout
    assert f"demo: wrote {out / 'avatar.blend'}, {out / 'report.json'}, " \
        f"{out / 'avatar.png'}" in lines
    assert lines[-1].startswith("demo: done in ") and str(out / "demo.log") in lines[-1]
    assert "Fra:" not in proc.stdout + proc.stderr
    log = (out / "demo.log").read_text()
    # everything is kept: our progress, Blender's own lines (and Cycles' per-sample lines
    # where Blender prints them: the 4.x wheels do, 5.0 prints none)
    assert "[DemoAvatar] Computing the avatar" in log and "Saved" in log
    if bpy.app.version < (5, 0, 0):
        assert "Sample " in log
    assert json.loads((out / "report.json").read_text())["ok"] is True
