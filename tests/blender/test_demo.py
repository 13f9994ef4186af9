"""./scripts/demo.sh as a user runs it: a short summary on the terminal (what was made,
where, how long), the whole run's output (Cycles' progress lines included) in demo.log."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import bpy

ROOT = Path(__file__).resolve().parents[2]


def test_demo_prints_a_summary_and_keeps_the_log(tmp_path: Path) -> None:
    out = tmp_path / "demo out"
    env = dict(os.environ, AVATAR_DEMO_BPY=bpy.app.version_string.split()[0])
    proc = subprocess.run([str(ROOT / "scripts" / "demo.sh"), str(out)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) <= 8, proc.stdout
    assert all(line.startswith("demo: ") for line in lines), proc.stdout
    assert any(line.startswith("demo: DemoAvatar: done;") and "19/19 textures" in line
               for line in lines), proc.stdout
    assert f"demo: wrote {out / 'avatar.blend'}, {out / 'report.json'}, " \
        f"{out / 'avatar.png'}" in lines
    assert lines[-1].startswith("demo: done in ") and str(out / "demo.log") in lines[-1]
    assert "Fra:" not in proc.stdout + proc.stderr
    log = (out / "demo.log").read_text()
    assert "Sample " in log and "[DemoAvatar] Computing the avatar" in log  # all kept
    assert json.loads((out / "report.json").read_text())["ok"] is True
