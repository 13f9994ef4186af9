"""Fixtures for bpy-free tests: a real sandbox on 127.0.0.1, photos, clients, engines."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from avatar_importer.core.avatarsdk import AvatarSdkClient  # noqa: E402
from avatar_importer.core.cache import Cache  # noqa: E402
from avatar_importer.core.engine import EngineOptions, JobEngine  # noqa: E402
from avatar_importer.core.metaperson import MetaPersonService  # noqa: E402
from avatar_importer.core.transport import RetryPolicy  # noqa: E402
from avatar_importer.sandbox.assets import build_thumbnail  # noqa: E402
from avatar_importer.sandbox.server import Sandbox, SandboxConfig  # noqa: E402

FAST_RETRY = RetryPolicy(base=0.01, cap=0.05, max_retry_after=2.0)
SHARED = ROOT.parent / "shared"


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(compute_seconds=0.4, export_seconds=0.1)


@pytest.fixture
def sandbox(sandbox_config: SandboxConfig) -> Iterator[Sandbox]:
    sb = Sandbox(sandbox_config).start()
    try:
        yield sb
    finally:
        sb.stop()


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "face.png"
    path.write_bytes(build_thumbnail("face", 32))
    return path


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    return Cache(tmp_path / "cache")


def make_client(sb: Sandbox, **kw: object) -> AvatarSdkClient:
    args: dict[str, object] = {"base_url": sb.base_url, "client_id": "sandbox",
                               "client_secret": "sandbox", "retry": FAST_RETRY,
                               "timeout": (2.0, 5.0)}
    args.update(kw)
    return AvatarSdkClient(**args)  # type: ignore[arg-type]


def make_engine(sb: Sandbox, cache: Cache, **kw: object) -> JobEngine:
    service = MetaPersonService(make_client(sb), name="sandbox")
    return JobEngine(service, cache, EngineOptions(poll_interval=0.05, **kw))  # type: ignore[arg-type]


def settled_log(sb: Sandbox) -> list:
    """The sandbox records a request after answering it: let the last record land."""
    import time
    time.sleep(0.1)
    return list(sb.requests_log)
