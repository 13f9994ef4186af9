"""The Flamenco job type (scripts/farm/flamenco/avatar_library.js) under Node.js's own test
runner: ``node --test tests/farm/``. Skipped where Node.js is not installed."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_flamenco_job_type_under_node():
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed here")
    proc = subprocess.run([node, "--test", str(ROOT / "tests" / "farm")], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    passed = re.search(r"^# pass (\d+)$", proc.stdout, re.M)
    assert "# fail 0" in proc.stdout and passed and int(passed[1]) >= 5, proc.stdout
