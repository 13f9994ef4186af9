"""The headless batch script, run as a user runs it (a separate process) against the sandbox."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import bpy
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "batch_import.py"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from avatar_importer.sandbox.assets import build_thumbnail  # noqa: E402
from avatar_importer.sandbox.server import Sandbox, SandboxConfig  # noqa: E402


def run_batch(*args: str, tmp: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp / "user"))
    env.pop("AVATARSDK_CLIENT_SECRET", None)
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=tmp)


@pytest.fixture
def photos(tmp_path: Path) -> list[Path]:
    out = []
    for name in ("ada", "bob"):
        path = tmp_path / f"{name}.png"
        path.write_bytes(build_thumbnail(name, 48))
        out.append(path)
    return out


@pytest.fixture
def sandbox() -> Sandbox:
    sb = Sandbox(SandboxConfig(compute_seconds=1.0, export_seconds=0.1)).start()
    yield sb
    sb.stop()


def test_two_photos_one_run_everything_resolves(tmp_path, photos, sandbox):
    out, report, render = tmp_path / "out.blend", tmp_path / "r.json", tmp_path / "p.png"
    proc = run_batch("--service", "sandbox", "--base-url", sandbox.base_url,
                     "--photo", str(photos[0]), "--photo", str(photos[1]),
                     "--poll-interval", "0.2", "--cache-dir", str(tmp_path / "cache"),
                     "--out", str(out), "--report", str(report), "--render", str(render),
                     tmp=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    body = json.loads(report.read_text())
    assert body["ok"] is True
    avatars = body["avatars"]
    assert [a["status"] for a in avatars] == ["done", "done"]
    statics = Counter(r.path for r in sandbox.requests_log
                      if r.path.startswith("/static_resources/"))
    assert statics and set(statics.values()) == {1}, "each static resource fetched once"
    assert sum(a["static_resources"]["fetched"] for a in avatars) == len(statics)
    for a in avatars:
        assert a["avatar_code"] and a["collection"] == a["name"]
        assert a["images"] and all(img["resolved"] for img in a["images"])
        head = [n for n in a["shape_keys"] if n.split(".")[0] == "AvatarHead"]
        assert len(head) == 1 and a["shape_keys"][head[0]] >= 51
        assert a["bone_count"] >= 60
        assert a["bytes_downloaded"] > 0
        assert set(a["seconds_per_stage"]) >= {"computing", "downloading"}
    assert render.is_file() and render.stat().st_size > 1000
    with out.open("rb") as f:  # saved compressed (zstd frame), as File > Save with Compress
        assert f.read(4) == b"\x28\xb5\x2f\xfd"

    bpy.ops.wm.open_mainfile(filepath=str(out))
    assert {"ada", "bob"} <= set(bpy.data.collections.keys())
    assert bpy.data.images and all(img.has_data or img.packed_file for img in bpy.data.images
                                   if img.source == "FILE")
    for img in bpy.data.images:
        if img.source == "FILE":
            assert img.size[0] > 0 and tuple(img.size) != (0, 0)


def test_wrong_credentials_exit_1_with_a_clear_message(tmp_path, photos, sandbox):
    report = tmp_path / "r.json"
    proc = run_batch("--service", "sandbox", "--base-url", sandbox.base_url,
                     "--client-id", "sandbox", "--client-secret", "not-the-secret",
                     "--photo", str(photos[0]), "--report", str(report),
                     "--cache-dir", str(tmp_path / "cache"), tmp=tmp_path)
    assert proc.returncode == 1
    body = json.loads(report.read_text())
    assert body["avatars"][0]["status"] == "failed"
    assert "client ID and secret" in body["avatars"][0]["error"]
    assert "not-the-secret" not in report.read_text() + proc.stdout + proc.stderr


def test_bad_photo_is_refused_with_exit_2(tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("not a photo")
    proc = run_batch("--service", "sandbox", "--photo", str(tmp_path / "missing.jpg"),
                     tmp=tmp_path)
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    assert "does not exist" not in proc.stdout, "errors go to stderr only"


def test_killed_run_resumes_without_recompute(tmp_path, photos, sandbox):
    sandbox.config.compute_seconds = 4.0
    cache = tmp_path / "cache"
    args = ["--service", "sandbox", "--base-url", sandbox.base_url, "--poll-interval", "0.2",
            "--cache-dir", str(cache)]
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "user"))
    proc = subprocess.Popen([sys.executable, str(SCRIPT), *args, "--photo", str(photos[0])],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                            cwd=tmp_path)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if any(r.method == "GET" and r.path.startswith("/avatars/") and r.path.count("/") == 3
               for r in sandbox.requests_log):
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    records = list((cache / "jobs").glob("*.json"))
    assert len(records) == 1 and json.loads(records[0].read_text())["avatar_code"]

    report = tmp_path / "r.json"
    done = run_batch(*args, "--resume", "--report", str(report), tmp=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    body = json.loads(report.read_text())
    assert [a["status"] for a in body["avatars"]] == ["done"]
    creations = [r for r in sandbox.requests_log if r.method == "POST" and r.path == "/avatars/"]
    assert len(creations) == 1, "resuming must not create (and pay for) a second avatar"
    assert not [p for p in cache.rglob("*") if p.name.endswith(".part")]


def _ours(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.startswith("[avatar_importer ")]


def test_progress_on_stdout_warnings_and_errors_on_stderr(tmp_path, photos, sandbox, fault):
    # a preview that cannot be written (its path is a folder) is a warning, not a failure
    row = fault.row("M01", "batch: progress, a warning (unwritable --render) and the result",
                    "progress and 'ada: done' on stdout; 'warning: preview render failed' "
                    "on stderr only; exit 0; report unchanged")
    report = tmp_path / "r.json"
    proc = run_batch("--service", "sandbox", "--base-url", sandbox.base_url,
                     "--photo", str(photos[0]), "--poll-interval", "0.2",
                     "--cache-dir", str(tmp_path / "cache"), "--report", str(report),
                     "--render", str(tmp_path), tmp=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out, err = _ours(proc.stdout), _ours(proc.stderr)
    row.saw(f"exit {proc.returncode}; stdout {len(out)} lines, last {out[-1:]}; "
            f"stderr {err}")
    assert any("[ada] Computing the avatar" in ln for ln in out), proc.stdout
    assert out[-1].endswith("] ada: done"), out
    assert [ln for ln in err if "warning: preview render failed" in ln], proc.stderr
    assert not [ln for ln in out if "warning" in ln or "error" in ln], out
    assert not [ln for ln in err if "error:" in ln], err
    body = json.loads(report.read_text())
    assert body["ok"] is True and "render_error" in body and "render" not in body
    assert [a["status"] for a in body["avatars"]] == ["done"]


def test_quiet_keeps_only_warnings_and_errors(tmp_path, photos, sandbox, fault):
    row = fault.row("M02", "batch --quiet, wrong credentials",
                    "nothing on stdout; one 'error: ada: failed: ...' line on stderr; exit 1")
    report = tmp_path / "r.json"
    proc = run_batch("--service", "sandbox", "--base-url", sandbox.base_url,
                     "--client-id", "sandbox", "--client-secret", "not-the-secret",
                     "--photo", str(photos[0]), "--quiet", "--report", str(report),
                     "--cache-dir", str(tmp_path / "cache"), tmp=tmp_path)
    err = _ours(proc.stderr)
    row.saw(f"exit {proc.returncode}; stdout {len(proc.stdout)} chars; stderr {err}")
    assert proc.returncode == 1
    assert _ours(proc.stdout) == [], proc.stdout
    assert len(err) == 1 and "error: ada: failed: " in err[0], proc.stderr
    assert "client ID and secret" in err[0]
    body = json.loads(report.read_text())  # the report is the same with or without --quiet
    assert body["avatars"][0]["status"] == "failed"
    assert "client ID and secret" in body["avatars"][0]["error"]


def test_quiet_success_prints_nothing_not_even_blenders_render_lines(tmp_path, photos,
                                                                     sandbox, fault):
    row = fault.row("M03", "batch --quiet with --render and --out, all well",
                    "stdout empty (no progress, no Cycles 'Fra:' lines, no 'Saved'); "
                    "nothing of ours on stderr; exit 0")
    render = tmp_path / "p.png"
    proc = run_batch("--service", "sandbox", "--base-url", sandbox.base_url, "-q",
                     "--photo", str(photos[0]), "--poll-interval", "0.2",
                     "--cache-dir", str(tmp_path / "cache"), "--render", str(render),
                     "--out", str(tmp_path / "o.blend"), tmp=tmp_path)
    row.saw(f"exit {proc.returncode}; stdout {len(proc.stdout)} chars; "
            f"ours on stderr {_ours(proc.stderr)}")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""  # no progress, no Cycles "Fra:1 ... Sample 8/8", no "Saved"
    assert _ours(proc.stderr) == [], proc.stderr
    assert render.is_file() and not list(tmp_path.glob(".*partial*"))
