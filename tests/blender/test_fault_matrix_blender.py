"""Fault matrix, Blender half (see tests/faultmatrix.py; the core half is tests/core/faults).

Scenarios that need Blender: the batch script as a user runs it (exit codes, reports, the
saved .blend's bytes), a batch killed with SIGKILL mid-download and run again, two batch
processes sharing one cache, 50 photos in one batch with threads and memory bounded; and
in this process, the add-on's operators with the pump driven by hand (timers never fire
in the bpy module): cancel at every stage, hostile GLB files, a missing texture, secrets
in a saved .blend. Each row asserts the user-visible outcome and the state afterwards
(bpy.data counts, cache folder, threads, timers).

The batch-process scenarios do not depend on the Blender version and take the most time:
they run in the bpy 4.2 suite only and show as skipped rows in the others.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import addon_utils
import bpy
import pytest

ROOT = Path(__file__).resolve().parents[2]
for _path in (ROOT, ROOT / "tests"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import faultmatrix  # noqa: E402

from avatar_importer.blender.importing.importer import import_avatar_glb  # noqa: E402
from avatar_importer.core.engine import EngineOptions  # noqa: E402
from avatar_importer.core.errors import AvatarImporterError  # noqa: E402
from avatar_importer.core.glb import encode_glb, read_glb  # noqa: E402
from avatar_importer.sandbox.assets import (  # noqa: E402
    build_sample_avatar,
    build_thumbnail,
    write_photos,
)
from avatar_importer.sandbox.server import Sandbox, SandboxConfig  # noqa: E402

SCRIPT = ROOT / "scripts" / "batch_import.py"
VERSION = ".".join(str(v) for v in bpy.app.version)
ONCE = bpy.app.version[:2] == (4, 2)
ONCE_REASON = "version-independent batch-process scenario: runs in the bpy 4.2 suite only"
SECRET = "Zq7-fault-matrix-client-secret-9x"
RSS_BOUND_MB = 50 * 8 + 200  # growth over a bare `import bpy`: 50 avatars + engine/Python
DATA = ("objects", "collections", "meshes", "materials", "images", "armatures", "actions",
        "node_groups", "textures")


@pytest.fixture
def fault(request: pytest.FixtureRequest) -> faultmatrix.FaultFixture:
    matrix = faultmatrix.install(request.config, f"bpy-{VERSION}")
    return faultmatrix.FaultFixture(matrix, request.node.nodeid)


def once_only() -> None:
    if not ONCE:
        pytest.skip(ONCE_REASON)


def counts() -> dict[str, int]:
    return {name: len(getattr(bpy.data, name)) for name in DATA}


def changed(before: dict[str, int], after: dict[str, int]) -> dict[str, tuple[int, int]]:
    return {k: (before[k], after[k]) for k in before if before[k] != after[k]}


def short(text: object, limit: int = 150) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def part_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".part")] if root.exists() else []


def settled(sb: Sandbox) -> list:
    time.sleep(0.1)
    return list(sb.requests_log)


# --- the batch script as a separate process ------------------------------------------------


def batch_env(tmp: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp / "user"), **extra)
    for key in ("AVATARSDK_CLIENT_ID", "AVATARSDK_CLIENT_SECRET", "AVATAR_IMPORTER_CACHE"):
        if key not in extra:
            env.pop(key, None)
    return env


def run_batch(*args: str, tmp: Path, timeout: float = 180, **env: str) \
        -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True,
                          text=True, timeout=timeout, env=batch_env(tmp, **env), cwd=tmp)


def sandbox_args(sb: Sandbox, cache: Path) -> list[str]:
    return ["--service", "sandbox", "--base-url", sb.base_url, "--poll-interval", "0.2",
            "--cache-dir", str(cache)]


def make_photos(tmp: Path, n: int, prefix: str = "p") -> list[Path]:
    return write_photos(tmp, n, prefix)


@pytest.fixture
def sb() -> Iterator[Sandbox]:
    sandbox = Sandbox(SandboxConfig(compute_seconds=0.6, export_seconds=0.1)).start()
    yield sandbox
    sandbox.stop()


def report_of(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def test_batch_through_a_hostile_network(fault, sb, tmp_path):
    row = fault.row("B01", "batch of 2 over a hostile network: 429 (Retry-After 1) x2, "
                    "503 x3, token expiry mid-poll, RST mid-download",
                    "exit 0; report ok, every image resolved; 1 upload per photo; 1 "
                    "re-authentication; download resumed with Range")
    once_only()
    sb.config.extra_archive_bytes = 300_000
    sb.faults.update({"throttle_next": 2, "retry_after": 1, "error_next": 3,
                      "error_status": 503, "reset_next_downloads": 1,
                      "truncate_at_bytes": 100_000, "download_path_prefix": "/avatars/"})

    def expire_when_polling() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any(r.method == "GET" and r.path.count("/") == 3 and r.status == 200
                   and r.path.startswith("/avatars/") for r in list(sb.requests_log)):
                sb.faults.expire_tokens()
                return
            time.sleep(0.02)

    watcher = threading.Thread(target=expire_when_polling, daemon=True)
    watcher.start()
    photos = make_photos(tmp_path, 2)
    report = tmp_path / "r.json"
    proc = run_batch(*sandbox_args(sb, tmp_path / "cache"), "--photo", str(photos[0]),
                     "--photo", str(photos[1]), "--report", str(report), tmp=tmp_path)
    watcher.join(timeout=5)
    body = report_of(report)
    log = settled(sb)
    uploads = sum(r.method == "POST" and r.path == "/avatars/" for r in log)
    tokens = sum(r.path == "/o/token/" and r.status == 200 for r in log)
    statuses = Counter(r.status for r in log)
    images = [i for a in body.get("avatars", []) for i in a.get("images", [])]
    row.saw(f"exit {proc.returncode}; ok={body.get('ok')}; statuses {dict(statuses)}; "
            f"uploads {uploads}; tokens {tokens}; images resolved "
            f"{sum(i['resolved'] for i in images)}/{len(images)}")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert body["ok"] is True and images and all(i["resolved"] for i in images)
    assert uploads == 2 and tokens == 2 and statuses[401] >= 1 and statuses[206] >= 1
    assert statuses[429] == 2 and statuses[503] == 3


def test_batch_failed_avatar(fault, sb, tmp_path):
    row = fault.row("B02", "batch: the service fails the avatar",
                    "exit 1; report names 'could not compute'; the saved .blend holds no "
                    "object, mesh, material or image")
    once_only()
    sb.faults.update({"fail_next_avatars": 1})
    out, report = tmp_path / "out.blend", tmp_path / "r.json"
    proc = run_batch(*sandbox_args(sb, tmp_path / "cache"), "--photo",
                     str(make_photos(tmp_path, 1)[0]), "--out", str(out), "--report",
                     str(report), tmp=tmp_path)
    body = report_of(report)
    avatar = (body.get("avatars") or [{}])[0]
    bpy.ops.wm.open_mainfile(filepath=str(out))
    data = counts()
    row.saw(f"exit {proc.returncode}; {avatar.get('status')}: {short(avatar.get('error'))}; "
            f".blend counts {data}")
    assert proc.returncode == 1 and avatar["status"] == "failed"
    assert "could not compute" in avatar["error"]
    assert data["objects"] == data["meshes"] == data["materials"] == data["images"] == 0


def test_batch_one_bad_photo_does_not_sink_the_others(fault, sb, tmp_path):
    row = fault.row("B03", "batch: 1 of 2 photos is not an image",
                    "exit 1; the bad one failed 'not a JPEG or PNG' without any upload, the "
                    "good one imported")
    once_only()
    good = make_photos(tmp_path, 1)[0]
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a photo")
    report = tmp_path / "r.json"
    proc = run_batch(*sandbox_args(sb, tmp_path / "cache"), "--photo", str(bad), "--photo",
                     str(good), "--report", str(report), tmp=tmp_path)
    avatars = report_of(report).get("avatars", [])
    uploads = sum(r.method == "POST" and r.path == "/avatars/" for r in settled(sb))
    row.saw(f"exit {proc.returncode}; {[(a['name'], a['status']) for a in avatars]}; "
            f"bad: {short(avatars[0].get('error') if avatars else '')}; uploads {uploads}")
    assert proc.returncode == 1 and [a["status"] for a in avatars] == ["failed", "done"]
    assert "not a JPEG or PNG" in avatars[0]["error"] and uploads == 1


def test_batch_refuses_plain_http(fault, tmp_path):
    row = fault.row("B04", "batch: --base-url http://api.example.com/ (plain http)",
                    "exit 2 'plain http' before any request")
    once_only()
    photo = make_photos(tmp_path, 1)[0]
    proc = run_batch("--service", "avatarsdk", "--base-url", "http://api.example.com/",
                     "--photo", str(photo), "--cache-dir", str(tmp_path / "cache"),
                     tmp=tmp_path, AVATARSDK_CLIENT_ID="i", AVATARSDK_CLIENT_SECRET="s")
    said = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "error" in ln]
    row.saw(f"exit {proc.returncode}; {short(said[-1] if said else proc.stdout[-200:])}")
    assert proc.returncode == 2 and "plain http" in proc.stderr


def _hostile_glb_zip(uri: str) -> bytes:
    sample = build_sample_avatar("female", profile="1K.png", haircut="HaircutGenerated",
                                 outfit="LORI", blendshapes=())
    glb = read_glb(sample.glb)
    glb.json["images"][0]["uri"] = uri
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("avatar/model.glb", encode_glb(glb))
    return buf.getvalue()


def test_batch_unsafe_glb_from_the_service(fault, sb, tmp_path):
    row = fault.row("B05", "batch: the export's GLB points an image at "
                    "../../../../etc/hostname", "exit 1 'Unsafe URI'; the saved .blend holds "
                    "no object and no image (nothing read from /etc)")
    once_only()
    evil = _hostile_glb_zip("../../../../etc/hostname")
    sb._archive = lambda choice: evil
    out, report = tmp_path / "out.blend", tmp_path / "r.json"
    proc = run_batch(*sandbox_args(sb, tmp_path / "cache"), "--photo",
                     str(make_photos(tmp_path, 1)[0]), "--out", str(out), "--no-compress",
                     "--report", str(report), tmp=tmp_path)  # bytes searched below
    avatar = (report_of(report).get("avatars") or [{}])[0]
    hostname = Path("/etc/hostname").read_bytes().strip() if Path("/etc/hostname").exists() \
        else b"\0no-hostname\0"
    blend = out.read_bytes() if out.exists() else b""
    bpy.ops.wm.open_mainfile(filepath=str(out))
    data = counts()
    row.saw(f"exit {proc.returncode}; {avatar.get('status')}: {short(avatar.get('error'))}; "
            f".blend objects {data['objects']}, images {data['images']}")
    assert proc.returncode == 1 and "Unsafe URI" in avatar["error"]
    assert data["objects"] == data["images"] == 0
    assert len(hostname) < 4 or hostname not in blend


# --- hostile GLB files in this process ------------------------------------------------------


def _sample_files(tmp: Path) -> tuple[Path, Path]:
    """The sandbox's generated avatar as model.glb plus a folder with its textures."""
    sample = build_sample_avatar("female", profile="1K.png", haircut="HaircutGenerated",
                                 outfit="LORI", blendshapes=())
    folder = tmp / "textures"
    folder.mkdir()
    for path, data in sample.static_files.items():
        (folder / path.rsplit("/", 1)[-1]).write_bytes(data)
    glb = tmp / "avatar" / "model.glb"
    glb.parent.mkdir()
    glb.write_bytes(sample.glb)
    return glb, folder


def _rewrite(glb: Path, change) -> None:
    data = read_glb(glb)
    change(data.json)
    glb.write_bytes(encode_glb(data))


def _set_uri(uri: str):
    def change(doc: dict) -> None:
        doc["images"][0]["uri"] = uri
    return change


def _break_accessor(doc: dict) -> None:
    # the last mesh's first primitive reads past the end of the binary buffer: Blender's
    # importer fails after it has created part of the scene
    last = doc["meshes"][-1]["primitives"][0]["attributes"]["POSITION"]
    doc["accessors"][last]["count"] = 10_000_000


HOSTILE_GLBS = [
    ("G01", "import a file that is not a GLB", "is not a GLB file",
     lambda glb: glb.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))),
    ("G02", "import a truncated GLB", "truncated",
     lambda glb: glb.write_bytes(glb.read_bytes()[: len(glb.read_bytes()) // 2])),
    ("G03", "import a GLB whose image URI is ../../../../etc/hostname",
     "points outside the GLB's folder", lambda glb: _rewrite(glb, _set_uri(
         "../../../../etc/hostname"))),
    ("G04", "import a GLB whose image URI is /etc/passwd", "absolute paths",
     lambda glb: _rewrite(glb, _set_uri("/etc/passwd"))),
    ("G05", "import a GLB whose image URI is file:///etc/passwd", "not URLs",
     lambda glb: _rewrite(glb, _set_uri("file:///etc/passwd"))),
    ("G06", "import a GLB whose image URI is http://evil.example/x.png", "not URLs",
     lambda glb: _rewrite(glb, _set_uri("http://evil.example/x.png"))),
    ("G07", "import a GLB whose texture is missing (would be pink)", "not found",
     lambda glb: _rewrite(glb, _set_uri("Nowhere_Color_1K.png"))),
    ("G08", "Blender's importer fails half-way (accessor past the buffer)", "",
     lambda glb: _rewrite(glb, _break_accessor)),
]


@pytest.mark.parametrize("row_id,what,words,spoil", HOSTILE_GLBS,
                         ids=[c[0] for c in HOSTILE_GLBS])
def test_hostile_glb_leaves_nothing(fault, tmp_path, row_id, what, words, spoil):
    row = fault.row(row_id, what, f"refused{' with ' + repr(words) if words else ''}; "
                    "bpy.data unchanged (no object, mesh, material, image, collection)")
    glb, folder = _sample_files(tmp_path)
    spoil(glb)
    before = counts()
    with pytest.raises(AvatarImporterError) as err:
        import_avatar_glb(glb, name="Hostile", search=[folder])
    after = counts()
    row.saw(f"{type(err.value).__name__}: {short(err.value.message)}; bpy.data changes "
            f"{changed(before, after) or 'none'}")
    assert words in err.value.message and after == before
    assert not any(img.filepath.endswith(("hostname", "passwd")) for img in bpy.data.images)


# --- the add-on in this process, pumped by hand ---------------------------------------------


@pytest.fixture
def addon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    monkeypatch.setenv("AVATAR_IMPORTER_CACHE", str(tmp_path / "cache"))
    addon_utils.enable("avatar_importer", default_set=True, handle_error=None)
    prefs = bpy.context.preferences.addons["avatar_importer"].preferences
    prefs.service = "sandbox"
    prefs.sandbox_compute_seconds = 0.6
    from avatar_importer.blender import runtime
    runtime.ensure_sandbox(0.6)
    try:
        yield runtime
    finally:
        addon_utils.disable("avatar_importer", default_set=True, handle_error=None)


def pump_until(runtime, done, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        runtime.pump_tick()
        time.sleep(0.005)
    assert done(), [j.status_line() for j in runtime.all_jobs()]


def start_job(runtime, photo: Path):
    bpy.context.scene.avatar_importer.photo = str(photo)
    assert bpy.ops.avatar_importer.create() == {"FINISHED"}
    (job,) = [j for j in runtime.all_jobs() if not j.stage.final]
    return job


CANCEL_STAGES = [
    ("C01", "authenticate", {"latency_seconds": 0.3}),
    ("C02", "upload", {"latency_seconds": 0.3}),
    ("C03", "queued", {}),
    ("C04", "computing", {}),
    ("C05", "exporting", {"export_stuck": True}),
    ("C06", "downloading", {"download_bytes_per_second": 50_000.0,
                            "download_path_prefix": "/avatars/"}),
    ("C07", "static", {"download_bytes_per_second": 300.0,
                       "download_path_prefix": "/static_resources/"}),
    ("C08", "ready", {}),
]


@pytest.mark.parametrize("row_id,stage,faults", CANCEL_STAGES, ids=[c[1] for c in CANCEL_STAGES])
def test_cancel_at_every_stage(fault, addon, tmp_path, row_id, stage, faults):
    runtime = addon
    row = fault.row(row_id, f"Cancel (operator) while '{stage}'",
                    "job cancelled; bpy.data unchanged; no worker busy within 1 s; the pump "
                    "ends its timer (returns None); no .part in the cache")
    sb = runtime._State.sandbox
    sb.config.compute_seconds = 4.0 if stage in ("queued", "computing") else 0.6
    sb.config.extra_archive_bytes = 300_000 if stage == "downloading" else 0
    sb.faults.update(faults)
    photo = tmp_path / "Ada.png"
    photo.write_bytes(build_thumbnail("ada", 48))
    before = counts()
    job = start_job(runtime, photo)
    pump_until(runtime, lambda: job.stage.value == stage or job.stage.final)
    reached = job.stage.value
    bpy.ops.avatar_importer.cancel(job_id=job.id)
    t0 = time.monotonic()
    pump_until(runtime, lambda: job.stage.final)
    busy, _ = faultmatrix.wait_idle(timeout=3.0)
    spent = time.monotonic() - t0
    next_tick = runtime.pump_tick()
    after = counts()
    cache = Path(os.environ["AVATAR_IMPORTER_CACHE"])
    parts = part_files(cache)
    row.saw(f"reached {reached}; {job.stage.value} after {spent:.2f} s; bpy.data changes "
            f"{changed(before, after) or 'none'}; busy workers {busy}; pump returns "
            f"{next_tick}; .part {len(parts)}")
    sb.faults.reset()
    assert reached == stage and job.stage.value == "cancelled"
    assert after == before and busy == [] and spent < 2.0 and next_tick is None and not parts


def test_missing_static_texture_imports_nothing(fault, addon, tmp_path):
    runtime = addon
    row = fault.row("B06", "add-on: a shared texture answers 404 for good",
                    "job failed 'Shared texture ... could not be downloaded'; nothing "
                    "imported (no pink avatar): bpy.data unchanged")
    sb = runtime._State.sandbox
    sb.faults.update({"error_next": 1000, "error_status": 404,
                      "error_path_prefix": "/static_resources/metaperson_2.0/textures/"
                                           "haircuts/"})
    photo = tmp_path / "Ada.png"
    photo.write_bytes(build_thumbnail("ada", 48))
    before = counts()
    job = start_job(runtime, photo)
    pump_until(runtime, lambda: job.stage.final)
    after = counts()
    row.saw(f"{job.stage.value}: {short(job.error)}; bpy.data changes "
            f"{changed(before, after) or 'none'}")
    sb.faults.reset()
    assert job.stage.value == "failed" and "could not be downloaded" in job.error
    assert after == before


DISABLE_CASES = [
    ("C09", "disable the add-on while a job downloads", {
        "download_bytes_per_second": 50_000.0, "download_path_prefix": "/avatars/"}),
    ("C10", "disable the add-on while the download is stalled (server silent 30 s)", {
        "stall_next_downloads": 1, "truncate_at_bytes": 50_000, "stall_seconds": 30.0,
        "download_path_prefix": "/avatars/"}),
]


@pytest.mark.parametrize("row_id,what,faults", DISABLE_CASES, ids=["flowing", "stalled"])
def test_disable_addon_mid_download_leaves_nothing(fault, tmp_path, monkeypatch, row_id,
                                                   what, faults):
    row = fault.row(row_id, what, "disabled within 1 s (UI not frozen); no timer registered, "
                    "no add-on or sandbox thread alive, bpy.data unchanged")
    monkeypatch.setenv("AVATAR_IMPORTER_CACHE", str(tmp_path / "cache"))
    addon_utils.enable("avatar_importer", default_set=True, handle_error=None)
    from avatar_importer.blender import runtime
    prefs = bpy.context.preferences.addons["avatar_importer"].preferences
    prefs.service = "sandbox"
    sb = runtime.ensure_sandbox(0.4)
    sb.config.extra_archive_bytes = 300_000
    sb.faults.update(faults)
    photo = tmp_path / "Ada.png"
    photo.write_bytes(build_thumbnail("ada", 48))
    before = counts()
    job = start_job(runtime, photo)
    pump_until(runtime, lambda: job.stage.value == "downloading")
    time.sleep(0.3)
    t0 = time.monotonic()
    addon_utils.disable("avatar_importer", default_set=True, handle_error=None)
    spent = time.monotonic() - t0
    threads = [t.name for t in threading.enumerate()
               if t.name.startswith(("avatar-", "sandbox"))]
    timer = bpy.app.timers.is_registered(runtime.pump_tick)
    after = counts()
    row.saw(f"disabled in {spent:.2f} s; timer registered {timer}; threads {threads}; "
            f"bpy.data changes {changed(before, after) or 'none'}")
    assert not timer and threads == [] and after == before and spent < 1.0


def test_no_secret_or_token_in_the_saved_blend(fault, addon, tmp_path):
    runtime = addon
    row = fault.row("X01", "add-on: client secret in the preferences, an avatar imported, "
                    "the .blend saved", "the .blend's bytes hold neither the secret nor "
                    "the bearer token in use")
    prefs = bpy.context.preferences.addons["avatar_importer"].preferences
    prefs.client_secret = SECRET
    photo = tmp_path / "Ada.png"
    photo.write_bytes(build_thumbnail("ada", 48))
    job = start_job(runtime, photo)
    pump_until(runtime, lambda: job.stage.final)
    tokens = [e.service.client._token.value for e in runtime._State.engines.values()]
    blend = tmp_path / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    data = blend.read_bytes()
    found = [n[:6] + "..." for n in (SECRET, *tokens) if n and n.encode() in data]
    row.saw(f"job {job.stage.value}; {len(data)} bytes searched for the secret and "
            f"{len(tokens)} token(s): found {found}")
    assert job.stage.value == "done" and tokens and all(tokens) and found == []


# --- the batch script: crash, concurrency, secrets, load -------------------------------------


def test_sigkill_mid_download_then_resume(fault, sb, tmp_path):
    row = fault.row("K02", "batch killed (SIGKILL) in the middle of the export download, "
                    "then run again with --resume", "no export.zip under its name, only a "
                    ".part; the rerun exits 0 with no second upload, leaves no .part, the "
                    "cached zip is whole")
    once_only()
    cache = tmp_path / "cache"
    sb.config.extra_archive_bytes = 600_000
    sb.faults.update({"download_bytes_per_second": 100_000.0,
                      "download_path_prefix": "/avatars/"})
    photo = make_photos(tmp_path, 1)[0]
    proc = subprocess.Popen([sys.executable, str(SCRIPT), *sandbox_args(sb, cache),
                             "--photo", str(photo)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=batch_env(tmp_path), cwd=tmp_path)
    deadline = time.monotonic() + 60
    while not part_files(cache / "exports") and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    zips = list(cache.rglob("export.zip"))
    parts = part_files(cache)
    records = [json.loads(p.read_text()) for p in (cache / "jobs").glob("*.json")]
    killed = (f"after kill: export.zip {len(zips)}, .part {len(parts)}, records "
              f"{[(r['state'], bool(r.get('avatar_code'))) for r in records]}")
    sb.faults.reset()
    report = tmp_path / "r.json"
    again = run_batch(*sandbox_args(sb, cache), "--resume", "--report", str(report),
                      tmp=tmp_path)
    body = report_of(report)
    uploads = sum(r.method == "POST" and r.path == "/avatars/" for r in settled(sb))
    final = list(cache.rglob("export.zip"))
    whole = bool(final) and zipfile.ZipFile(final[0]).testzip() is None
    row.saw(f"{killed}; rerun exit {again.returncode}, "
            f"{[a['status'] for a in body.get('avatars', [])]}; uploads {uploads}; .part "
            f"{len(part_files(cache))}; zip whole {whole}")
    assert proc.returncode == -signal.SIGKILL and not zips and len(parts) == 1
    assert records and records[0]["state"] == "active" and records[0]["avatar_code"]
    assert again.returncode == 0, again.stdout[-2000:]
    assert [a["status"] for a in body["avatars"]] == ["done"] and uploads == 1
    assert not part_files(cache) and whole


def test_two_batch_processes_share_one_cache(fault, sb, tmp_path):
    row = fault.row("P02", "two batch processes (2 photos each) on one cache at once",
                    "both exit 0; every cached static file byte-identical to the service's "
                    "(sha256); each fetched at most once per process; no .part")
    once_only()
    cache = tmp_path / "cache"
    sb.faults.update({"download_bytes_per_second": 20_000.0,
                      "download_path_prefix": "/static_resources/"})
    procs = []
    for run in ("a", "b"):
        photos = make_photos(tmp_path, 2, prefix=run)
        args = [str(a) for p in photos for a in ("--photo", p)]
        procs.append(subprocess.Popen(
            [sys.executable, str(SCRIPT), *sandbox_args(sb, cache), *args, "--report",
             str(tmp_path / f"{run}.json")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, env=batch_env(tmp_path), cwd=tmp_path))
    outs = [p.communicate(timeout=180)[0] for p in procs]
    statics = [p for p in (cache / "static").rglob("*") if p.is_file()]
    differ = [p.name for p in statics if hashlib.sha256(p.read_bytes()).digest()
              != hashlib.sha256(sb.static_file("/" + p.relative_to(cache / "static")
                                               .as_posix()) or b"").digest()]
    fetched = Counter(r.path for r in settled(sb) if r.path.startswith("/static_resources/"))
    reports = [report_of(tmp_path / f"{run}.json") for run in ("a", "b")]
    row.saw(f"exit codes {[p.returncode for p in procs]}; "
            f"{[[a['status'] for a in r.get('avatars', [])] for r in reports]}; "
            f"{len(statics)} static files, {len(differ)} differ; fetches per file max "
            f"{max(fetched.values()) if fetched else 0}; .part {len(part_files(cache))}")
    assert [p.returncode for p in procs] == [0, 0], [o[-1500:] for o in outs]
    assert statics and differ == [] and max(fetched.values()) <= 2
    assert not part_files(cache)


def test_batch_never_writes_secrets(fault, tmp_path):
    row = fault.row("X02", "batch with credentials from the environment (real service "
                    "mode against the loopback sandbox)", "neither the client secret nor any "
                    "token in the .blend bytes, report, stdout/stderr or any cache file; no "
                    "bearer on static requests")
    once_only()
    with Sandbox(SandboxConfig(compute_seconds=0.6, export_seconds=0.1,
                               client_secret=SECRET, separate_static_host=True)) as sandbox:
        out, report, cache = tmp_path / "out.blend", tmp_path / "r.json", tmp_path / "cache"
        proc = run_batch("--service", "avatarsdk", "--base-url", sandbox.base_url,
                         "--poll-interval", "0.2", "--cache-dir", str(cache), "--photo",
                         str(make_photos(tmp_path, 1)[0]), "--out", str(out), "--no-compress",
                         "--report", str(report), tmp=tmp_path, AVATARSDK_CLIENT_ID="sandbox",
                         AVATARSDK_CLIENT_SECRET=SECRET)
        with sandbox._state.lock:
            tokens = list(sandbox._state.tokens)
        static = [r for r in settled(sandbox) if r.path.startswith("/static_resources/")]
    blobs = {"blend": out.read_bytes() if out.exists() else b"",
             "report": report.read_bytes() if report.exists() else b"",
             "output": (proc.stdout + proc.stderr).encode()}
    blobs.update({str(p.relative_to(cache)): p.read_bytes()
                  for p in cache.rglob("*") if p.is_file()})
    leaks = sorted({where for where, data in blobs.items()
                    for needle in (SECRET, *tokens) if needle.encode() in data})
    row.saw(f"exit {proc.returncode}; {len(tokens)} token(s) + secret searched in "
            f"{len(blobs)} files/streams: leaks {leaks}; static requests with bearer "
            f"{sum(r.had_authorization for r in static)}/{len(static)}")
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert tokens and leaks == [] and static and not any(r.had_authorization for r in static)


def _status(pid: int) -> tuple[int, int]:
    """(threads, RSS in kB) of a live process."""
    threads = rss = 0
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("Threads:"):
                threads = int(line.split()[1])
            elif line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return threads, rss


def test_fifty_photos_in_one_batch(fault, tmp_path):
    opts = EngineOptions()
    jobs = min(50, opts.max_parallel)  # one job thread per waiting avatar, bounded
    cpus = os.cpu_count() or 1
    row = fault.row("L02", "one batch run with 50 photos (sandbox: compute 1 s, poll 0.2 s)",
                    f"exit 0, 50 done, 50 uploads; threads <= bpy baseline + "
                    f"{jobs} job + {opts.static_workers} static + {cpus} "
                    "Blender task workers (1 per CPU) + 2; RSS <= bpy baseline + 600 MB "
                    f"(50 avatars x ~8 MB + 200 MB); under 90 s")
    once_only()
    probe = subprocess.run([sys.executable, "-c", "import bpy\nfor l in open('/proc/self/"
                            "status'):\n    print(l.strip())"], capture_output=True, text=True,
                           env=batch_env(tmp_path), timeout=60)
    fields = dict(line.split(":", 1) for line in probe.stdout.splitlines() if ":" in line)
    base_threads, base_rss = int(fields["Threads"]), int(fields["VmRSS"].split()[0])
    max_threads = base_threads + jobs + opts.static_workers + cpus + 2
    max_rss = base_rss + RSS_BOUND_MB * 1024
    photos = make_photos(tmp_path, 50)
    report = tmp_path / "r.json"
    with Sandbox(SandboxConfig(compute_seconds=1.0, export_seconds=0.1)) as sandbox:
        args = [str(a) for p in photos for a in ("--photo", p)]
        t0 = time.monotonic()
        proc = subprocess.Popen([sys.executable, str(SCRIPT), "--service", "sandbox",
                                 "--base-url", sandbox.base_url, "--poll-interval", "0.2",
                                 "--cache-dir", str(tmp_path / "cache"), *args, "--report",
                                 str(report)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=batch_env(tmp_path),
                                cwd=tmp_path)
        peak_threads = peak_rss = 0
        while proc.poll() is None and time.monotonic() - t0 < 120:
            try:
                threads, rss = _status(proc.pid)
            except (OSError, ValueError):
                break
            peak_threads, peak_rss = max(peak_threads, threads), max(peak_rss, rss)
            time.sleep(0.05)
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        spent = time.monotonic() - t0
        uploads = sum(r.method == "POST" and r.path == "/avatars/" for r in settled(sandbox))
    statuses = Counter(a["status"] for a in report_of(report).get("avatars", []))
    row.saw(f"exit {proc.returncode} in {spent:.1f} s; {dict(statuses)}; uploads {uploads}; "
            f"peak threads {peak_threads} (bound {max_threads}); peak RSS "
            f"{peak_rss // 1024} MB (baseline {base_rss // 1024}, bound {max_rss // 1024})")
    assert proc.returncode == 0 and statuses == {"done": 50} and uploads == 50
    assert peak_threads <= max_threads and peak_rss <= max_rss and spent < 90
