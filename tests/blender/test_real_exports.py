"""Real MetaPerson exports (../shared/samples) served by the sandbox as the service would:
external textures become static resources, and the batch imports with nothing missing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from test_batch import run_batch

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from avatar_importer.sandbox.assets import build_thumbnail  # noqa: E402
from avatar_importer.sandbox.server import Sandbox, SandboxConfig  # noqa: E402


@pytest.mark.parametrize("sample,extra", [
    ("outfit_ARPI_lod2_external_textures.glb", {}),
    ("head_lod2_female.glb", {"AvatarHead": 66}),
])
def test_real_export_through_the_service_flow(samples_dir, tmp_path, sample, extra):
    glb = samples_dir / sample
    photo = tmp_path / "face.png"
    photo.write_bytes(build_thumbnail("face", 32))
    sb = Sandbox(SandboxConfig(compute_seconds=0.3, export_seconds=0.1, model_glb=glb)).start()
    try:
        report = tmp_path / "r.json"
        proc = run_batch("--service", "sandbox", "--base-url", sb.base_url, "--photo",
                         str(photo), "--poll-interval", "0.1", "--cache-dir",
                         str(tmp_path / "cache"), "--report", str(report), tmp=tmp_path)
        statics = [r for r in sb.requests_log if r.path.startswith("/static_resources/")]
    finally:
        sb.stop()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    avatar = json.loads(report.read_text())["avatars"][0]
    assert avatar["status"] == "done"
    assert avatar["images"], "the sample's textures are imported"
    missing = [img["name"] for img in avatar["images"] if not img["resolved"]]
    assert missing == []
    if sample.startswith("outfit"):
        assert len(statics) == 5 and avatar["static_resources"]["fetched"] == 5
        assert {img["source"] for img in avatar["images"]} == {"cache"}
    for mesh, count in extra.items():
        assert avatar["shape_keys"][mesh] == count
