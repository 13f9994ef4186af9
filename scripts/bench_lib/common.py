"""Shared pieces of the benchmark: result rows, the table, machine info, sandbox and engine
factories, resident memory. No ``bpy`` here."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from avatar_importer.core.avatarsdk import AvatarSdkClient  # noqa: E402
from avatar_importer.core.cache import Cache  # noqa: E402
from avatar_importer.core.engine import EngineOptions, JobEngine  # noqa: E402
from avatar_importer.core.metaperson import MetaPersonService  # noqa: E402
from avatar_importer.core.params import (  # noqa: E402
    default_export_parameters,
    default_parameters,
)
from avatar_importer.core.stages import JobSpec  # noqa: E402
from avatar_importer.core.transport import RetryPolicy  # noqa: E402
from avatar_importer.sandbox.assets import write_photos  # noqa: E402

SCHEMA = "avatar_importer.bench/1"
FAST_RETRY = RetryPolicy(base=0.05, cap=0.5, max_retry_after=2.0)


@dataclass
class Row:
    """One line of the table. ``ratio`` is always measured / baseline."""

    id: str
    figure: str
    unit: str
    measured: float | None = None
    baseline: float | None = None
    target: str = ""
    met: bool | None = None
    ratio: float | None = None
    baseline_kind: str = ""  # what the baseline is, in a few words
    note: str = ""
    skipped: str | None = None  # the reason, when the figure could not be measured
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.ratio is None and self.measured is not None and self.baseline:
            self.ratio = self.measured / self.baseline

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def skipped(id: str, figure: str, unit: str, target: str, reason: str) -> Row:
    return Row(id=id, figure=figure, unit=unit, target=target, skipped=reason)


# --- formatting ---------------------------------------------------------------------------


def fmt_value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "s":
        return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"
    if unit == "ms":
        return f"{value:.3f} ms" if value < 0.1 else f"{value:.2f} ms"
    if unit == "MB":
        return f"{value:.1f} MB"
    if unit == "bytes":
        return f"{value:,.0f} B"
    if unit == "requests":
        return f"{value:g} req" if value == int(value) else f"{value:.1f} req"
    return f"{value:g} {unit}"


def fmt_ratio(ratio: float | None) -> str:
    if ratio is None:
        return "-"
    if ratio == 0:
        return "0"
    if ratio < 0.01:
        return f"{ratio:.5f}x"
    return f"{ratio:.2f}x" + (f" ({1 / ratio:.1f}x faster)" if ratio < 0.5 else "")


def table(rows: list[Row], markdown: bool = False) -> str:
    head = ["#", "figure", "measured", "baseline", "ratio", "target", "met?"]
    lines: list[list[str]] = []
    for r in rows:
        if r.skipped:
            lines.append([r.id, r.figure, "skipped", "-", "-", r.target, "-"])
            continue
        base = fmt_value(r.baseline, r.unit)
        if r.baseline_kind:
            base = f"{base} ({r.baseline_kind})"
        met = "-" if r.met is None else ("yes" if r.met else "NO")
        lines.append([r.id, r.figure, fmt_value(r.measured, r.unit), base, fmt_ratio(r.ratio),
                      r.target, met])
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(c.replace("|", "/") for c in line) + " |" for line in lines]
        return "\n".join(out)
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(head)]
    sep = "  "
    out = [sep.join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    out.append(sep.join("-" * w for w in widths))
    out += [sep.join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines]
    return "\n".join(out)


# --- machine ------------------------------------------------------------------------------


def _cpuinfo_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _mem_total_mb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def machine_info() -> dict[str, Any]:
    usable: int | None
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "cpu": _cpuinfo_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "memory_mb": _mem_total_mb(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "requests": _requests_version(),
        "loadavg_start": _loadavg(),
    }


def _requests_version() -> str:
    import requests
    return str(requests.__version__)


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def machine_line(info: dict[str, Any]) -> str:
    bpy = info.get("bpy") or "not used"
    return (f"{info['cpu']}, {info['cores']} cores, {info['memory_mb'] or 0:.0f} MB RAM, "
            f"{info['os']}, Python {info['python']}, bpy {bpy}, load average at start "
            f"{info.get('loadavg_start')}")


# --- memory -------------------------------------------------------------------------------


def rss_mb(pid: int | str = "self") -> float:
    """Resident set size now (VmRSS), in MB; falls back to the peak from ``resource``."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- sandbox, clients, engines ------------------------------------------------------------


def make_client(base_url: str) -> AvatarSdkClient:
    return AvatarSdkClient(base_url=base_url, client_id="sandbox", client_secret="sandbox",
                           retry=FAST_RETRY, timeout=(5.0, 60.0))


def make_engine(base_url: str, cache_root: Path, poll_interval: float,
                **options: Any) -> JobEngine:
    service = MetaPersonService(make_client(base_url), name="sandbox")
    return JobEngine(service, Cache(cache_root),
                     EngineOptions(poll_interval=poll_interval, **options))


def make_photos(folder: Path, count: int) -> list[Path]:
    return write_photos(folder, count)


def spec_for(photo: Path, name: str) -> JobSpec:
    """What the add-on submits by default: the tutorial's two parameter files."""
    return JobSpec(photo=photo, name=name, parameters=default_parameters(),
                   export_parameters=default_export_parameters())


@contextmanager
def sandbox_process(config: dict[str, Any], python: str | None = None) -> Iterator[str]:
    """A sandbox in a process of its own (its memory stays out of our measurements);
    yields its base URL. It stops when we close its stdin."""
    script = Path(__file__).with_name("sandbox_proc.py")
    proc = subprocess.Popen([python or sys.executable, str(script), json.dumps(config)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("the sandbox process did not start")
        yield str(json.loads(line)["base_url"])
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.start
