"""scripts/bench.py runs and writes its documented JSON (no timing is asserted here: the
benchmark is not part of the pass/fail suite)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "scripts" / "bench.py"

ROW_KEYS = {"id", "figure", "unit", "measured", "baseline", "target", "met", "ratio",
            "baseline_kind", "note", "skipped", "details"}


def test_help_lists_the_options():
    proc = subprocess.run([sys.executable, str(BENCH), "--help"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    for option in ("--quick", "--json", "--bpy-python"):
        assert option in proc.stdout


def test_tiny_run_writes_every_figure(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(BENCH), "--tiny", "--bpy-python",
                           str(tmp_path / "no-such-python"), "--json", str(out)],
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "figure" in proc.stdout and "met?" in proc.stdout  # the printed table
    doc = json.loads(out.read_text())
    assert doc["schema"] == "avatar_importer.bench/1"
    assert doc["mode"] == "tiny"
    assert {"cpu", "cores", "python", "os"} <= set(doc["machine"])
    rows = {row["id"]: row for row in doc["figures"]}
    assert {"1", "2a", "2b", "3a", "3b", "4a", "4b", "5"} <= set(rows)
    for row in rows.values():
        assert set(row) == ROW_KEYS
    # no bpy python: figure 1 is skipped with the reason, the others are measured
    assert "not found" in rows["1"]["skipped"]
    for rid in ("2a", "2b", "3a", "3b", "4a", "4b", "5"):
        row = rows[rid]
        assert row["skipped"] is None, row
        assert isinstance(row["measured"], int | float)
        assert isinstance(row["baseline"], int | float)
        assert isinstance(row["met"], bool)
    assert rows["2a"]["measured"] == 0  # the second avatar fetched no static resource
