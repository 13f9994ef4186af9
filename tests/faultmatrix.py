"""The fault matrix's bookkeeping, shared by the core suite and the Blender suites.

Every fault scenario is one row: ``(id, scenario, expected, observed)`` plus the test's
outcome. A test declares its row first and records what it saw *before* asserting, so a
failing row still shows what was observed::

    def test_x(fault):
        row = fault.row("T01", "429 with Retry-After", "waits, then succeeds")
        ...
        row.saw(f"waited {dt:.2f} s; statuses {statuses}")
        assert ...

The ``fault`` fixture (defined by tests/core/faults/conftest.py and by the Blender
matrix module) registers :class:`Matrix` as a pytest plugin once per session; at the end
of the run it prints the table in the terminal summary (shown with ``-q`` too, whatever
``-r`` says) and writes the rows as JSON lines to ``artifacts/faults/<suite>.jsonl``.
Ids starting with ``R`` are regression rows: each pins a weakness the matrix found and
that was fixed.
"""

from __future__ import annotations

import json
import sys
import textwrap
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts" / "faults"
PLUGIN_NAME = "avatar-importer-fault-matrix"


@dataclass
class Row:
    id: str
    scenario: str
    expected: str
    observed: str = "(nothing recorded)"
    result: str = "pending"
    nodeid: str = ""
    seconds: float = 0.0
    _started: float = field(default_factory=time.monotonic, repr=False)

    def saw(self, observed: str) -> Row:
        self.observed = " ".join(str(observed).split())
        return self


class Matrix:
    """Pytest plugin object: collects rows and outcomes, prints the table at the end."""

    def __init__(self, suite: str) -> None:
        self.suite = suite
        self.rows: list[Row] = []
        self._by_node: dict[str, list[Row]] = {}

    # -- used by the fixture -----------------------------------------------------------

    def row(self, nodeid: str, id: str, scenario: str, expected: str) -> Row:
        row = Row(id=id, scenario=scenario, expected=expected, nodeid=nodeid)
        self.rows.append(row)
        self._by_node.setdefault(nodeid, []).append(row)
        return row

    # -- pytest hooks ------------------------------------------------------------------

    def pytest_runtest_logreport(self, report: Any) -> None:
        rows = self._by_node.get(report.nodeid)
        if not rows:
            return
        for row in rows:
            if report.skipped:
                reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else ""
                row.result = "skip"
                if reason:
                    row.observed = f"skipped: {str(reason).removeprefix('Skipped: ')}"
            elif report.failed:
                row.result = "FAIL"
            elif report.when == "call" and row.result == "pending":
                row.result = "pass"
            if report.when == "teardown":
                row.seconds = round(time.monotonic() - row._started, 2)
                if row.result == "pending":
                    row.result = "FAIL"

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.rows:
            return
        self.write_jsonl()
        for line in self.table_lines():
            terminalreporter.write_line(line)

    # -- output ------------------------------------------------------------------------

    def write_jsonl(self) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.suite}.jsonl"
        with open(path, "w", encoding="utf-8") as fh:
            for row in self.rows:
                data = asdict(row)
                data.pop("_started", None)
                data["suite"] = self.suite
                fh.write(json.dumps(data) + "\n")
        return path

    def table_lines(self) -> list[str]:
        widths = (6, 34, 44, 58, 6)
        heads = ("id", "scenario", "expected", "observed", "result")
        counts = {k: sum(r.result == k for r in self.rows) for k in ("pass", "FAIL", "skip")}
        title = (f" fault matrix [{self.suite}]: {len(self.rows)} scenarios, "
                 f"{counts['pass']} passed, {counts['FAIL']} failed, {counts['skip']} skipped ")
        rule = "-+-".join("-" * w for w in widths)
        lines = ["", title.center(len(rule), "="), _cells(heads, widths), rule]
        for row in sorted(self.rows, key=lambda r: _sort_key(r.id)):
            lines.append(_cells((row.id, row.scenario, row.expected, row.observed, row.result),
                                widths))
        lines.append(rule)
        lines.append(f"rows written to {ARTIFACTS.relative_to(ROOT)}/{self.suite}.jsonl")
        return lines


def _sort_key(row_id: str) -> tuple[str, int, str]:
    head = row_id.rstrip("abcdefghijklmnopqrstuvwxyz")
    letters = "".join(ch for ch in head if ch.isalpha())
    digits = "".join(ch for ch in head if ch.isdigit())
    return letters, int(digits or 0), row_id


def _cells(values: tuple[str, ...], widths: tuple[int, ...]) -> str:
    wrapped = [textwrap.wrap(str(v), w) or [""] for v, w in zip(values, widths, strict=True)]
    height = max(len(w) for w in wrapped)
    out = []
    for i in range(height):
        out.append(" | ".join((w[i] if i < len(w) else "").ljust(width)
                              for w, width in zip(wrapped, widths, strict=True)).rstrip())
    return "\n".join(out)


def install(config: Any, suite: str) -> Matrix:
    """The session's matrix, registered as a plugin on first use."""
    matrix = config.pluginmanager.get_plugin(PLUGIN_NAME)
    if matrix is None:
        matrix = Matrix(suite)
        config.pluginmanager.register(matrix, PLUGIN_NAME)
    return matrix


class FaultFixture:
    """What the ``fault`` fixture hands a test."""

    def __init__(self, matrix: Matrix, nodeid: str) -> None:
        self._matrix = matrix
        self._nodeid = nodeid

    def row(self, id: str, scenario: str, expected: str) -> Row:
        return self._matrix.row(self._nodeid, id, scenario, expected)


# -- state checks shared by both halves -------------------------------------------------


def busy_workers(prefixes: tuple[str, ...] = ("avatar-job", "avatar-static")) -> list[str]:
    """Names of the add-on's pool threads that are running add-on code right now (idle pool
    threads wait inside concurrent.futures and do not count)."""
    frames = sys._current_frames()
    busy = []
    for thread in threading.enumerate():
        if not thread.name.startswith(prefixes):
            continue
        frame = frames.get(thread.ident or -1)
        while frame is not None:
            if "/avatar_importer/" in frame.f_code.co_filename.replace("\\", "/"):
                busy.append(thread.name)
                break
            frame = frame.f_back
    return busy


def wait_idle(timeout: float = 5.0) -> tuple[list[str], float]:
    """Wait until no add-on worker is busy; (those still busy, seconds waited)."""
    start = time.monotonic()
    while busy_workers() and time.monotonic() - start < timeout:
        time.sleep(0.02)
    return busy_workers(), time.monotonic() - start
