"""Helpers for the fault matrix's core scenarios (no bpy)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from faultmatrix import busy_workers, wait_idle

from avatar_importer.core.avatarsdk import AvatarSdkClient
from avatar_importer.core.cache import Cache
from avatar_importer.core.engine import EngineOptions, JobEngine
from avatar_importer.core.metaperson import MetaPersonService
from avatar_importer.core.params import default_export_parameters, default_parameters
from avatar_importer.core.stages import JobSpec, JobState, Stage
from avatar_importer.core.transport import RetryPolicy
from avatar_importer.sandbox.server import RequestRecord, Sandbox

__all__ = ["busy_workers", "wait_idle"]  # re-exported: shared with the Blender half

#: zero-ish backoff: a retry storm would show as many requests, not as a slow test
QUICK = RetryPolicy(base=0.01, cap=0.05, max_retry_after=2.0)


def client(sb: Sandbox, **kw: Any) -> AvatarSdkClient:
    args: dict[str, Any] = {"base_url": sb.base_url, "client_id": "sandbox",
                            "client_secret": sb.config.client_secret, "retry": QUICK,
                            "timeout": (1.0, 3.0)}
    args.update(kw)
    return AvatarSdkClient(**args)


def engine(sb: Sandbox, cache: Cache, *, importer: Any = None, **opts: Any) -> JobEngine:
    service = MetaPersonService(client(sb, **opts.pop("client", {})), name="sandbox")
    opts.setdefault("poll_interval", 0.05)
    return JobEngine(service, cache, EngineOptions(**opts), importer=importer)


def spec(photo: Path, name: str = "Ada") -> JobSpec:
    return JobSpec(photo=photo, name=name, subtype="female", parameters=default_parameters(),
                   export_parameters=default_export_parameters())


def pump_until(eng: JobEngine, job: JobState, stages: Iterable[Stage],
               timeout: float = 20.0) -> None:
    wanted = set(stages)
    deadline = time.monotonic() + timeout
    while job.stage not in wanted and time.monotonic() < deadline:
        eng.pump()
        time.sleep(0.005)
    assert job.stage in wanted, f"never reached {wanted}: {job.stage} {job.error}"


def log(sb: Sandbox, prefix: str = "/") -> list[RequestRecord]:
    """The sandbox logs a request as it answers: let the last record land first."""
    time.sleep(0.1)
    return [r for r in list(sb.requests_log) if r.path.startswith(prefix)]


def mark(sb: Sandbox) -> int:
    return len(sb.requests_log)


def since(sb: Sandbox, start: int, prefix: str = "/") -> list[RequestRecord]:
    time.sleep(0.1)
    return [r for r in list(sb.requests_log)[start:] if r.path.startswith(prefix)]


def part_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".part")]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def short(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
