"""Fault matrix (Blender half), issue 11 item 2: a batch killed mid-download and run again
with the same command plus ``--resume`` resumes its job and makes no second avatar."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import bpy
import pytest

ROOT = Path(__file__).resolve().parents[2]
for _path in (ROOT, ROOT / "tests"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import faultmatrix  # noqa: E402

from avatar_importer.sandbox.assets import build_thumbnail  # noqa: E402
from avatar_importer.sandbox.server import Sandbox, SandboxConfig  # noqa: E402

SCRIPT = ROOT / "scripts" / "batch_import.py"
VERSION = ".".join(str(v) for v in bpy.app.version)


@pytest.fixture
def fault(request: pytest.FixtureRequest) -> faultmatrix.FaultFixture:
    matrix = faultmatrix.install(request.config, f"bpy-{VERSION}")
    return faultmatrix.FaultFixture(matrix, request.node.nodeid)


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    sandbox = Sandbox(SandboxConfig(compute_seconds=0.6, export_seconds=0.1,
                                    extra_archive_bytes=600_000)).start()
    yield sandbox
    sandbox.stop()


def _env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp / "user"))
    for key in ("AVATARSDK_CLIENT_ID", "AVATARSDK_CLIENT_SECRET", "AVATAR_IMPORTER_CACHE"):
        env.pop(key, None)
    return env


def test_rerun_with_resume_and_the_same_photo_makes_one_avatar(fault, sb, tmp_path):
    if bpy.app.version[:2] != (4, 2):
        pytest.skip("version-independent batch-process scenario: runs in the bpy 4.2 "
                    "suite only")
    row = fault.row("R56", "batch killed (SIGKILL) mid-download, rerun with the same "
                    "command plus --resume (the same --photo)",
                    "the rerun says 'resuming unfinished job for <photo> (avatar <code>) "
                    "instead of creating a new one'; exit 0; 1 POST /avatars/, 1 avatar on "
                    "the service, 1 avatar in the report")
    photo = tmp_path / "ada.png"
    photo.write_bytes(build_thumbnail("ada", 32))
    cache = tmp_path / "cache"
    args = ["--service", "sandbox", "--base-url", sb.base_url, "--poll-interval", "0.2",
            "--cache-dir", str(cache), "--photo", str(photo)]
    sb.faults.update({"download_bytes_per_second": 100_000.0,
                      "download_path_prefix": "/avatars/"})
    proc = subprocess.Popen([sys.executable, str(SCRIPT), *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=_env(tmp_path), cwd=tmp_path)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not list(cache.glob("exports/**/.*.part")):
        time.sleep(0.05)
    assert list(cache.glob("exports/**/.*.part")), "the first run never started downloading"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    sb.faults.reset()
    report = tmp_path / "r.json"
    again = subprocess.run([sys.executable, str(SCRIPT), *args, "--resume", "--report",
                            str(report)], capture_output=True, text=True, timeout=240,
                           env=_env(tmp_path), cwd=tmp_path)
    said = again.stdout + again.stderr
    body = json.loads(report.read_text()) if report.is_file() else {}
    posts = [r for r in sb.requests_log if r.method == "POST" and r.path == "/avatars/"]
    with sb._state.lock:
        codes = list(sb._state.avatars)
    line = next((ln for ln in said.splitlines() if "resuming unfinished job for" in ln), "")
    row.saw(f"rerun exit {again.returncode}; said '{line.split('] ', 1)[-1]}'; POSTs "
            f"{len(posts)}; avatars on the service {len(codes)}; in the report "
            f"{[a['status'] for a in body.get('avatars', [])]}")
    assert again.returncode == 0, said[-2000:]
    assert len(codes) == 1 and len(posts) == 1
    assert line.endswith(f"resuming unfinished job for {photo.resolve()} (avatar {codes[0]}) "
                         "instead of creating a new one")
    assert [a["status"] for a in body["avatars"]] == ["done"]
