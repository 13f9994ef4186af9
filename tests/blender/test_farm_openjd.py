"""The Open Job Description template, run end to end with ``openjd run`` (both steps, one
task per chunk of rows) against a sandbox on loopback that every task shares. The
BlenderCommand is this test's own bpy venv Python. openjd-cli is installed by the project's
own scripts (``ensure_openjd_venv`` in scripts/lib/env.sh)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "scripts" / "farm" / "openjd" / "avatar_library.yaml"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from avatar_importer.core import asset_catalogs  # noqa: E402
from avatar_importer.sandbox.assets import build_thumbnail  # noqa: E402
from avatar_importer.sandbox.server import Sandbox, SandboxConfig  # noqa: E402


@pytest.fixture(scope="module")
def openjd() -> Path:
    proc = subprocess.run(
        ["bash", "-c", "source scripts/lib/env.sh && ensure_openjd_venv >&2 && "
                       "openjd_venv_dir"], cwd=ROOT, capture_output=True, text=True,
        timeout=600)
    assert proc.returncode == 0, proc.stderr
    return Path(proc.stdout.strip().splitlines()[-1]) / "bin" / "openjd"


def test_template_passes_openjd_check(openjd):
    proc = subprocess.run([str(openjd), "check", str(TEMPLATE)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0 and "passes validation" in proc.stdout, proc.stdout + \
        proc.stderr
    text = TEMPLATE.read_text()
    assert "SECRET" not in text.split("# Exit codes")[1]  # only the comment names them
    assert "sandbox" in text


def test_openjd_run_both_steps_builds_library_catalogs_and_crowd(tmp_path, openjd):
    (tmp_path / "photos").mkdir()
    names = ["Ana", "Ben", "Cat"]
    for name in names:
        (tmp_path / "photos" / f"{name}.png").write_bytes(build_thumbnail(name, 40))
    manifest = tmp_path / "cast.csv"
    manifest.write_text("name,photo,catalog\n" + "".join(
        f"{n},photos/{n}.png,{'Cast/Leads' if n == 'Ana' else ''}\n" for n in names))
    lib = tmp_path / "library"
    sandbox = Sandbox(SandboxConfig(compute_seconds=0.5, export_seconds=0.1)).start()
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "user"),
               AVATAR_IMPORTER_CACHE=str(tmp_path / "cache"))
    try:
        proc = subprocess.run(
            [str(openjd), "run", str(TEMPLATE), "--step", "AssembleCrowd",
             "--run-dependencies",
             "-p", f"Manifest={manifest}", "-p", f"LibraryDir={lib}",
             "-p", f"AddonDir={ROOT}", "-p", "RowsPerTask=2", "-p", "MaxRows=4",
             "-p", "Service=sandbox", "-p", f"BaseUrl={sandbox.base_url}",
             "-p", f"BlenderCommand={sys.executable}"],
            capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    finally:
        sandbox.stop()
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    # two chunks: rows 1-2 and 3-4 (cut to 3)
    assert "rows 1-2 of 3" in out and "rows 3-3 of 3" in out
    assert sorted(p.name for p in lib.glob("*.blend")) == ["Ana.blend", "Ben.blend",
                                                           "Cat.blend", "crowd.blend"]
    creations = [r for r in sandbox.requests_log if r.method == "POST" and r.path == "/avatars/"]
    assert len(creations) == 3
    cats = {c.path for c in asset_catalogs.read(lib)}
    assert {"Cast/Leads", "Avatars/sandbox/female"} <= cats
    catalogue = json.loads((lib / "library.json").read_text())
    assert sorted(a["name"] for a in catalogue["assets"]) == names
    assert {a["name"]: a["catalog"] for a in catalogue["assets"]}["Ana"] == "Cast/Leads"
    crowd_check = subprocess.run(
        [sys.executable, "-c",
         "import bpy, sys; bpy.ops.wm.open_mainfile(filepath=sys.argv[1]);"
         "print('OVERRIDES', sorted(c.name for c in bpy.data.collections "
         "if c.override_library));"
         "print('IMAGES', all(i.size[0] > 0 for i in bpy.data.images), len(bpy.data.images))",
         str(lib / "crowd.blend")], capture_output=True, text=True, timeout=120, env=env)
    assert f"OVERRIDES {names}" in crowd_check.stdout, crowd_check.stdout + crowd_check.stderr
    assert "IMAGES True" in crowd_check.stdout
