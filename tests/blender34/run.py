"""Headless tests in Debian's Blender 3.4 (system Python 3.11; pytest is not assumed).

    blender -b --factory-startup --python-exit-code 1 -P tests/blender34/run.py [-- WORD ...]

(``scripts/run_blender_tests.sh 3.4`` runs exactly this, with a private
BLENDER_USER_RESOURCES.) Plain ``test_*`` functions with asserts, run in the order
written (later ones rely on Blender's process-wide state being as the earlier left it);
``WORD`` arguments keep only the tests whose name contains one of them. The last line
printed is ``N passed, M failed``; any failure exits 1 (``SystemExit``, so nothing is
printed after that line). Timers never fire in ``blender -b`` while this script runs:
the add-on's pump is called by hand, as in tests/blender.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import addon_utils
import bpy

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

ADDON = "avatar_importer"
TMP = Path(tempfile.mkdtemp(prefix="avatar-b34-"))
os.environ["AVATAR_IMPORTER_CACHE"] = str(TMP / "cache")
EVENT_TICK_BUDGET = 0.010  # seconds: no tick that only applies events may take longer
THREAD_PREFIXES = ("avatar-job", "avatar-static", "sandbox-")

TESTS: list[Callable[[], None]] = []


def test(fn: Callable[[], None]) -> Callable[[], None]:
    TESTS.append(fn)
    return fn


# --- helpers -----------------------------------------------------------------------------


def _raise(exc: BaseException) -> None:
    raise exc


def photo(name: str, seed: str) -> Path:
    from avatar_importer.sandbox.assets import build_thumbnail
    path = TMP / f"{name}.png"
    path.write_bytes(build_thumbnail(seed, 64))
    return path


def worker_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(THREAD_PREFIXES)]


def enable() -> Any:
    mod = addon_utils.enable(ADDON, default_set=True, handle_error=_raise)
    assert mod is not None, "addon_utils.enable returned None"
    prefs = bpy.context.preferences.addons[ADDON].preferences
    prefs.service = "sandbox"
    prefs.sandbox_compute_seconds = 0.5
    from avatar_importer.blender import runtime
    return runtime


def disable_and_check(runtime: Any) -> None:
    addon_utils.disable(ADDON, default_set=True, handle_error=_raise)
    assert addon_utils.check(ADDON) == (False, False), addon_utils.check(ADDON)
    assert ADDON not in bpy.context.preferences.addons
    assert not bpy.app.timers.is_registered(runtime.pump_tick), "pump timer left"
    assert not hasattr(bpy.types.Scene, "avatar_importer"), "Scene.avatar_importer left"
    for name in ("VIEW3D_PT_avatar_importer", "AVATAR_IMPORTER_OT_create",
                 "AVATAR_IMPORTER_OT_cancel", "AVATAR_IMPORTER_AP_preferences",
                 "AVATAR_IMPORTER_PG_options"):
        assert not hasattr(bpy.types, name), f"{name} still registered"
    assert not runtime._State.engines and runtime._State.sandbox is None
    assert not worker_threads(), f"threads left: {worker_threads()}"


@contextlib.contextmanager
def addon_enabled() -> Iterator[Any]:
    runtime = enable()
    try:
        yield runtime
    finally:
        if addon_utils.check(ADDON)[1]:
            addon_utils.disable(ADDON, default_set=True)


def pump_until(runtime: Any, done: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        runtime.pump_tick()
        time.sleep(0.01)
    assert done(), [j.status_line() for j in runtime.all_jobs()]


def check_avatar_in_scene(name: str) -> dict[str, int]:
    coll = bpy.data.collections.get(name)
    assert coll is not None, f"no collection {name!r}: {list(bpy.data.collections.keys())}"
    assert coll.name in bpy.context.scene.collection.children
    arms = [o for o in coll.all_objects if o.type == "ARMATURE"]
    assert len(arms) == 1, [o.name for o in arms]
    bones = len(arms[0].data.bones)
    assert bones >= 60, bones
    head = next((o for o in coll.all_objects if o.name.split(".")[0] == "AvatarHead"), None)
    assert head is not None and head.data.shape_keys is not None, "AvatarHead has no keys"
    keys = len(head.data.shape_keys.key_blocks) - 1
    assert keys >= 51, keys
    images = [img for img in bpy.data.images if img.source == "FILE"]
    assert images and all(img.size[0] > 0 for img in images), \
        [img.name for img in images if not img.size[0]]  # its pixels load
    return {"bones": bones, "shape_keys": keys, "images": len(images)}


def check_report(path: Path, name: str) -> dict[str, Any]:
    body = json.loads(path.read_text())
    assert body["ok"] is True, body
    assert body["blender"].startswith(f"{bpy.app.version[0]}.{bpy.app.version[1]}"), body
    (avatar,) = body["avatars"]
    assert avatar["name"] == name and avatar["status"] == "done", avatar
    assert avatar["collection"] == name, avatar
    assert avatar["images"] and all(img["resolved"] for img in avatar["images"]), \
        avatar["images"]
    head = [k for k in avatar["shape_keys"] if k.split(".")[0] == "AvatarHead"]
    assert len(head) == 1 and avatar["shape_keys"][head[0]] >= 51, avatar["shape_keys"]
    assert avatar["bone_count"] >= 60, avatar["bone_count"]
    return avatar


# --- tests ---------------------------------------------------------------------------------


@test
def test_enable_as_legacy_addon() -> None:
    with addon_enabled():
        assert addon_utils.check(ADDON) == (True, True), addon_utils.check(ADDON)
        mod = sys.modules[ADDON]
        assert Path(mod.__file__).resolve().parent == REPO / ADDON, mod.__file__
        assert mod.bl_info["blender"] <= tuple(bpy.app.version), mod.bl_info["blender"]
        assert ADDON in bpy.context.preferences.addons
        assert hasattr(bpy.types, "VIEW3D_PT_avatar_importer")
        assert bpy.types.VIEW3D_PT_avatar_importer.bl_category == "Avatar"
        for op in ("create", "cancel", "dismiss", "clear_cache", "reset_player"):
            assert getattr(bpy.ops.avatar_importer, op).get_rna_type() is not None, op
        assert bpy.context.scene.avatar_importer.subtype == "female"
        import numpy
        assert "bool" in numpy.__dict__, "the np.bool alias Blender 3.4's glTF importer needs"


@test
def test_preferences_resolve_by_package() -> None:
    with addon_enabled() as runtime:
        assert runtime.ADDON_ID == ADDON
        prefs = bpy.context.preferences.addons[ADDON].preferences
        assert type(prefs).__name__ == "AVATAR_IMPORTER_AP_preferences"
        assert type(prefs).bl_idname == ADDON
        assert runtime.preferences() == prefs
        assert prefs.bl_rna.properties["client_secret"].subtype == "PASSWORD"
        assert prefs.service == "sandbox"
        # legacy add-on: no extension cache dir, AVATAR_IMPORTER_CACHE wins
        assert runtime.cache_root(prefs) == TMP / "cache", runtime.cache_root(prefs)


@test
def test_create_operator_pumped_by_hand() -> None:
    with addon_enabled() as runtime:
        runtime.TICKS.clear()
        bpy.context.scene.avatar_importer.photo = str(photo("Hand", "hand"))
        assert bpy.ops.avatar_importer.create() == {"FINISHED"}
        (job,) = runtime.all_jobs()
        assert bpy.app.timers.is_registered(runtime.pump_tick)
        pump_until(runtime, lambda: job.stage.final)
        assert job.stage.value == "done", job.error
        facts = check_avatar_in_scene("Hand")
        events = [s for s, kind in runtime.TICKS if kind == "events"]
        imports = [s for s, kind in runtime.TICKS if kind == "import"]
        assert events and len(imports) == 1, list(runtime.TICKS)
        assert max(events) <= EVENT_TICK_BUDGET, max(events)
        print(f"    {facts}; event ticks max {max(events) * 1000:.2f} ms, "
              f"import tick {imports[0]:.2f} s")
        disable_and_check(runtime)


@test
def test_cancel_while_computing_changes_nothing() -> None:
    with addon_enabled() as runtime:
        bpy.context.preferences.addons[ADDON].preferences.sandbox_compute_seconds = 5.0
        before = {k: len(getattr(bpy.data, k)) for k in
                  ("objects", "collections", "meshes", "materials", "images")}
        bpy.context.scene.avatar_importer.photo = str(photo("Gone", "gone"))
        bpy.ops.avatar_importer.create()
        job = next(j for j in runtime.all_jobs() if j.spec.name == "Gone")
        pump_until(runtime, lambda: job.stage.value in ("queued", "computing"))
        assert bpy.ops.avatar_importer.cancel(job_id=job.id) == {"FINISHED"}
        pump_until(runtime, lambda: job.stage.final, timeout=15)
        assert job.stage.value == "cancelled", job.stage
        after = {k: len(getattr(bpy.data, k)) for k in before}
        assert after == before, (before, after)
        disable_and_check(runtime)


@test
def test_disable_and_enable_again_leave_nothing() -> None:
    for _ in range(2):
        runtime = enable()
        runtime.engine_for(runtime.preferences())  # starts the sandbox and the pools
        runtime.ensure_timer()
        assert worker_threads(), "expected the sandbox's listener thread"
        disable_and_check(runtime)


@test
def test_batch_main_in_process() -> None:
    from avatar_importer.blender import batch
    report = TMP / "in-process.json"
    rc = batch.main(["--service", "sandbox", "--photo", str(photo("Batchy", "batchy")),
                     "--cache-dir", str(TMP / "batch-cache"), "--report", str(report),
                     "--sandbox-compute-seconds", "0.5", "--poll-interval", "0.1"])
    assert rc == 0, rc
    avatar = check_report(report, "Batchy")
    check_avatar_in_scene("Batchy")
    assert not worker_threads(), f"threads left: {worker_threads()}"
    print(f"    {avatar['bone_count']} bones, {len(avatar['images'])} images, "
          f"{avatar['seconds_total']} s")


def run_batch_script(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(TMP / "user-subprocess"))
    env.pop("AVATARSDK_CLIENT_SECRET", None)
    cmd = [bpy.app.binary_path, "-b", "--factory-startup", "-P",
           str(REPO / "scripts" / "batch_import.py"), "--", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env,
                          cwd=TMP)


@test
def test_batch_script_subprocess() -> None:
    report, out = TMP / "subprocess.json", TMP / "out" / "sub.blend"
    proc = run_batch_script("--service", "sandbox", "--photo", str(photo("Sub", "sub")),
                            "--cache-dir", str(TMP / "sub-cache"), "--report", str(report),
                            "--out", str(out), "--sandbox-compute-seconds", "0.5",
                            "--poll-interval", "0.1")
    assert proc.returncode == 0, f"exit code {proc.returncode}\n{proc.stdout[-3000:]}\n" \
        f"{proc.stderr[-3000:]}"
    check_report(report, "Sub")
    assert out.is_file() and out.stat().st_size > 100_000, out


@test
def test_batch_script_bad_photo_exits_2() -> None:
    proc = run_batch_script("--service", "sandbox", "--photo", str(TMP / "missing.jpg"),
                            "--cache-dir", str(TMP / "sub-cache"))
    assert proc.returncode == 2, f"exit code {proc.returncode}\n{proc.stderr[-2000:]}"
    assert "does not exist" in proc.stderr, proc.stderr[-2000:]  # errors go to stderr


# --- import quality (issue 5): material fix-ups per part, File > Import, renders ------------

SAMPLES = REPO.parent / "shared" / "samples" / "metaperson"
OUTFIT_SAMPLE = "outfit_ARPI_lod2_external_textures.glb"


def _avatar_samples() -> Any:
    folder = str(REPO / "tests" / "blender")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    import avatar_samples
    return avatar_samples


def _fresh_scene() -> None:
    bpy.ops.wm.read_factory_settings(use_empty=True)


def _surface(name: str) -> tuple[str, str, bool, bool]:
    mat = bpy.data.materials[name]
    return (mat.blend_method, mat.shadow_method, mat.use_backface_culling,
            mat.show_transparent_back)


def _alpha_source(name: str) -> tuple[str, str] | None:
    mat = bpy.data.materials[name]
    bsdf = next(n for n in mat.node_tree.nodes if n.type == "BSDF_PRINCIPLED")
    links = bsdf.inputs["Alpha"].links
    return (links[0].from_node.type, links[0].from_socket.name) if links else None


@test
def test_material_fixups_per_part_blender34() -> None:
    from avatar_importer.blender.importing.importer import import_avatar_glb
    from avatar_importer.blender.importing.materials import is_clear_cornea
    _fresh_scene()
    glb = _avatar_samples().write_sandbox_avatar(TMP / "quality-sandbox")
    result = import_avatar_glb(glb, name="Quality")
    expected = {  # blend_method, shadow_method, use_backface_culling, show_transparent_back
        "haircut": ("HASHED", "HASHED", False, None),
        "AvatarEyelashes": ("BLEND", "HASHED", False, False),
        "AvatarLeftCornea": ("BLEND", "NONE", True, False),
        "AvatarRightCornea": ("BLEND", "NONE", True, False),
        "AvatarLeftEyeball": ("OPAQUE", "OPAQUE", True, None),
        "AvatarRightEyeball": ("OPAQUE", "OPAQUE", True, None),
        "AvatarHead": ("OPAQUE", "OPAQUE", True, None),
        "AvatarBody": ("OPAQUE", "OPAQUE", True, None),
        "AvatarTeethUpper": ("OPAQUE", "OPAQUE", True, None),
        "outfit": ("OPAQUE", "OPAQUE", False, None),
    }
    for name, want in expected.items():
        got = _surface(name)
        assert got[:3] == want[:3], (name, got)
        assert want[3] is None or got[3] is want[3], (name, got)
    assert _alpha_source("haircut") == ("TEX_IMAGE", "Alpha")
    assert _alpha_source("AvatarEyelashes") == ("TEX_IMAGE", "Alpha")
    for side in ("Left", "Right"):
        assert is_clear_cornea(bpy.data.materials[f"Avatar{side}Cornea"])
        assert bpy.data.objects[f"Avatar{side}Cornea"].visible_shadow is False
    assert bpy.context.scene.cycles.transparent_max_bounces == 64
    assert result.armature == "Quality" and bpy.data.objects["Quality"].type == "ARMATURE"
    assert result.shape_keys["AvatarHead"] == 66
    assert all(m["changes"] for m in result.materials), result.materials
    print(f"    {len(result.materials)} materials adjusted, e.g. haircut: "
          + ", ".join(next(m for m in result.materials if m["name"] == "haircut")["changes"]))


@test
def test_crowd_run_and_temporary_objects_blender34() -> None:
    from avatar_importer.blender import compat
    from avatar_importer.blender.importing.importer import (
        avatars_excluded_meanwhile,
        import_avatar_glb,
    )
    module = compat.gltf_mesh_module()
    assert module is not None, "3.4's glTF importer: temporary objects not recognised"
    _fresh_scene()
    glb = _avatar_samples().write_sandbox_avatar(TMP / "crowd34")
    import_avatar_glb(glb, name="First")
    with avatars_excluded_meanwhile():
        for name in ("Second", "Third"):
            import_avatar_glb(glb, name=name)
        layers = bpy.context.view_layer.layer_collection.children
        assert layers["First"].exclude and layers["Second"].exclude
        assert not layers["Third"].exclude
    assert module.bpy is bpy
    layers = bpy.context.view_layer.layer_collection.children
    assert not any(lc.exclude for lc in layers)
    assert all(o.visible_get() for o in bpy.context.scene.objects)
    selected = {o.users_collection[0].name for o in bpy.context.scene.objects
                if o.select_get()}
    assert selected == {"Third"}, selected
    assert not [o for o in bpy.data.objects if o.name.startswith("##gltf-import")]
    def keys(collection: str) -> list[int]:
        return sorted(len(o.data.shape_keys.key_blocks) for o in
                      bpy.data.collections[collection].all_objects
                      if o.type == "MESH" and o.data.shape_keys)
    assert keys("Second") == keys("First") and keys("First"), keys("First")
    assert len(bpy.data.collections["Second"].all_objects) == \
        len(bpy.data.collections["First"].all_objects)


@test
def test_real_sample_materials_blender34() -> None:
    if not SAMPLES.is_dir():
        print("    SKIPPED: ../shared/samples/metaperson is not here")
        return
    from avatar_importer.blender.importing.importer import import_avatar_glb
    from avatar_importer.blender.importing.materials import is_clear_cornea
    _fresh_scene()
    result = import_avatar_glb(SAMPLES / "head_lod2_female.glb", name="Head34")
    assert _surface("AvatarEyelashes")[:3] == ("BLEND", "HASHED", False)
    assert _surface("AvatarLeftCornea")[:3] == ("BLEND", "NONE", True)
    assert _surface("AvatarHead")[:2] == ("OPAQUE", "OPAQUE")
    assert is_clear_cornea(bpy.data.materials["AvatarRightCornea"])
    assert bpy.context.scene.cycles.transparent_max_bounces == 8  # no hair: untouched
    assert result.missing_images == [] and result.shape_keys["AvatarHead"] == 66


@test
def test_file_import_every_sample_blender34() -> None:
    if not SAMPLES.is_dir():
        print("    SKIPPED: ../shared/samples/metaperson is not here")
        return
    samples = _avatar_samples()
    _fresh_scene()  # before enabling: factory settings would disable the add-on again
    with addon_enabled():
        from avatar_importer.blender.importing import file_import
        assert bpy.types.TOPBAR_MT_file_import.is_extended()
        for path in sorted(SAMPLES.glob("*.glb")):  # side by side, each its own avatar
            assert bpy.ops.import_scene.avatar_export(filepath=str(path)) == {"FINISHED"}
            result = file_import.last_result()
            if path.name == OUTFIT_SAMPLE:
                assert sorted(result.missing_images) == samples.OUTFIT_TEXTURES, result
                warned = " ".join(t for level, t in file_import.last_messages()
                                  if level == "WARNING")
                assert all(name in warned for name in samples.OUTFIT_TEXTURES), warned
            else:
                assert result.missing_images == [], (path.name, result.missing_images)
        folder = TMP / "outfit-textures"
        folder.mkdir(exist_ok=True)
        from avatar_importer.sandbox.png import png_bytes
        for name in samples.OUTFIT_TEXTURES:
            (folder / name).write_bytes(png_bytes(4, 4, lambda x, y: (90, 60, 30, 255)))
        assert bpy.ops.import_scene.avatar_export(
            filepath=str(SAMPLES / OUTFIT_SAMPLE), texture_folder=str(folder)) == {"FINISHED"}
        result = file_import.last_result()
        assert result.missing_images == [] and {i["source"] for i in result.images} == {"folder"}
        assert list(result.parts.values()) == ["outfit"], result.parts
    assert not hasattr(bpy.types, "IMPORT_SCENE_OT_avatar_export")


@test
def test_render_eyes_and_no_magenta_blender34() -> None:
    from avatar_importer.blender.importing.importer import import_avatar_glb
    from avatar_importer.blender.importing.render import render_preview
    samples = _avatar_samples()
    _fresh_scene()
    glb = samples.write_sandbox_avatar(TMP / "render-sandbox")
    result = import_avatar_glb(glb, name="Look")
    out = TMP / "renders"
    keep = REPO / "artifacts" / "renders" / "blender-3.4"
    keep.mkdir(parents=True, exist_ok=True)

    def shot(name: str, **kwargs: Any) -> list[tuple[float, float, float]]:
        path = render_preview(out / f"{name}.png", **kwargs)
        shutil.copyfile(path, keep / path.name)
        return samples.read_pixels(path)[2]

    full = shot("sandbox_full", objects=[bpy.data.objects[n] for n in result.objects],
                size=(180, 240), samples=8)
    assert not [p for p in full if samples.is_magenta(p)], "magenta in the render"
    eyes = [bpy.data.objects[n] for n in ("AvatarLeftEyeball", "AvatarRightEyeball")]
    corneas = [bpy.data.objects[n] for n in ("AvatarLeftCornea", "AvatarRightCornea")]
    opts: dict[str, Any] = {"objects": eyes, "size": (240, 120), "samples": 16}

    def change(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
        return max(abs(x - y) for x, y in zip(a, b, strict=True))

    shown = shot("eyes_corneas_shown", **opts)
    hidden = shot("eyes_corneas_hidden", hide=corneas, **opts)
    bare = shot("eyes_all_hidden", hide=corneas + eyes, **opts)
    area = [i for i in range(len(shown)) if change(hidden[i], bare[i]) > 0.1]
    mean = sum(change(shown[i], hidden[i]) for i in area) / max(len(area), 1)
    assert len(area) > 200, len(area)
    assert mean < 0.10, f"the corneas cover the eyes (mean change {mean:.3f})"
    print(f"    eye area {len(area)} px, mean change with corneas {mean:.3f}")
    if SAMPLES.is_dir():  # the control: missing textures do show as magenta
        from avatar_importer.blender.importing.file_import import import_avatar_file
        _fresh_scene()
        missing = import_avatar_file(SAMPLES / OUTFIT_SAMPLE, cache_root=TMP / "no-cache")
        pink = shot("outfit_missing", objects=[bpy.data.objects[n] for n in missing.objects],
                    size=(120, 120), samples=4)
        assert sum(1 for p in pink if samples.is_magenta(p)) > 100


@test
def test_preview_eyes_without_a_denoiser_blender34() -> None:
    # Debian's 3.4 Cycles has no OpenImageDenoise: the preview takes more samples instead
    from avatar_importer.blender import compat
    from avatar_importer.blender.importing.importer import import_avatar_glb
    from avatar_importer.blender.importing.render import render_preview
    samples = _avatar_samples()
    _fresh_scene()
    import_avatar_glb(samples.write_sandbox_avatar(TMP / "speckle-sandbox"), name="Eyes")
    eyes = [o for o in bpy.data.objects if "Cornea" in o.name or "Eyeball" in o.name]
    opts: dict[str, Any] = {"objects": eyes, "size": (240, 120), "samples": 8}
    raw = render_preview(TMP / "speckle" / "raw.png", denoise=False, **opts)
    preview = render_preview(TMP / "speckle" / "preview.png", **opts)
    noisy, left = samples.speckles(raw), samples.speckles(preview)
    print(f"    denoiser {compat.cycles_cpu_denoiser()}: speckles raw {noisy}, preview {left}")
    assert noisy > 40, f"the control shows no speckles ({noisy})"
    assert left * 3 <= noisy, f"the preview's eyes still speckle: {left} vs raw {noisy}"


# --- the runner ------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    words = argv[argv.index("--") + 1:] if "--" in argv else []
    chosen = [t for t in TESTS if not words or any(w in t.__name__ for w in words)]
    print(f"blender34: Blender {bpy.app.version_string}, Python {sys.version.split()[0]}, "
          f"{len(chosen)} of {len(TESTS)} tests", flush=True)
    passed = failed = 0
    for fn in chosen:
        started = time.monotonic()
        try:
            fn()
        except BaseException:  # report every failure and go on with the next test
            failed += 1
            print(f"FAIL {fn.__name__} ({time.monotonic() - started:.1f} s)", flush=True)
            traceback.print_exc()
            sys.stderr.flush()
        else:
            passed += 1
            print(f"PASS {fn.__name__} ({time.monotonic() - started:.1f} s)", flush=True)
        finally:
            with contextlib.suppress(Exception):
                if addon_utils.check(ADDON)[1]:
                    addon_utils.disable(ADDON, default_set=True)
    shutil.rmtree(TMP, ignore_errors=True)
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed or not chosen else 0


if __name__ == "__main__":
    code = main(sys.argv)
    if code:
        raise SystemExit(code)
