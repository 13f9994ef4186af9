"""GUI test: Edit > Undo / Redo after the panel's import (made by the job pump, a timer)
and a File > Import that shares its static textures, in Blender 3.4's window.

1. Create an avatar from the sidebar's Avatar tab (sandbox service): the job pump imports
   "Pat" from a timer, not from an operator; the static textures land in the add-on's
   texture cache.
2. File > Import > Avatar export "Ada" whose static textures are found in that cache: Ada's
   materials use Pat's image datablocks (one per file).
3. Edit > Undo: Ada is gone, Pat is exactly as before (images, pixels, packed). Edit > Undo
   again: Pat is gone too (the pump's import is one undo step of its own). Before
   ``importing.undo_step``, the first Undo removed both avatars and Redo brought back only
   Ada (plus Pat's shared images, but no Pat).
4. Edit > Redo twice: Pat, then Ada, back as they were, sharing the images again. The
   panel is drawn (its tab shown) after every step: no error from a job whose avatar an
   Undo removed.

Run: tests/gui/run_gui_tests.sh tests/gui/test_crowd_undo_panel.py
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import bpy

sys.path.insert(0, str(Path(__file__).resolve().parent))
import guitest as gt

sys.path.insert(0, str(gt.REPO / "tests" / "blender"))
from avatar_samples import write_sandbox_avatar

NAME = "test_crowd_undo_panel"
ART = gt.artifacts_dir(NAME)
WORK = gt.temp_dir("avatar-gui-crowd-undo-panel-")
CACHE = WORK / "cache"
runtime = gt.enable_addon(CACHE, compute_seconds=1.0)
PHOTO = gt.write_photo(WORK, "Pat", seed="undo face")
import undo_checks as cu  # noqa: E402

from avatar_importer.blender.ui.panel import VIEW3D_PT_avatar_importer  # noqa: E402

FACE = cu.FACE
view = cu.view


def write_export(name: str) -> Path:
    """``WORK/<name>/model.glb`` and its own face; its static textures only in the cache
    the panel's job filled."""
    source = write_sandbox_avatar(WORK / f"{name}-src")
    folder = WORK / name
    folder.mkdir()
    shutil.copy(source, folder / "model.glb")
    (folder / FACE).write_bytes((source.parent / FACE).read_bytes() + name.encode())
    return folder / "model.glb"


def panel_draws() -> gt.Steps:
    """Redraw the sidebar; the panel's draw must run without an error."""
    counter = gt.DrawCounter(VIEW3D_PT_avatar_importer)
    errors: list[str] = []
    original = counter.panel_cls.draw

    def draw(panel: object, context: object) -> None:
        try:
            original(panel, context)
        except Exception as exc:  # Blender prints and swallows errors in draw
            errors.append(f"{type(exc).__name__}: {exc}")
            raise

    counter.panel_cls.draw = draw
    try:
        view.redraw()
        yield from gt.pause(0.4)
    finally:
        counter.restore()
    gt.check(counter.calls, "the panel was not drawn")
    gt.check(not errors, f"the panel's draw failed: {errors}")


def steps() -> gt.Steps:
    yield from gt.show_sidebar_tab(view, VIEW3D_PT_avatar_importer)
    empty = cu.scene_state()
    bpy.context.scene.avatar_importer.photo = str(PHOTO)
    with view.override("UI"):
        result = bpy.ops.avatar_importer.create("INVOKE_DEFAULT")
    gt.check(result == {"FINISHED"}, f"Create returned {result}")
    job = runtime.all_jobs()[0]
    yield from gt.wait_until(lambda: job.stage.final, 90, "the panel's job", poll=0.1)
    gt.check(job.stage.value == "done", f"job {job.stage.value}: {job.error}")
    yield from gt.wait_until(lambda: not bpy.app.timers.is_registered(runtime.pump_tick), 5,
                             "the pump timer to stop")
    after_pat = cu.scene_state()
    pat_nodes = cu.node_images("Pat")
    cu.check_pixels("Pat", "after the panel's import")
    static = sorted(p.name for p in (CACHE / "static").rglob("*.png"))
    gt.log(f"the panel's job cached {len(static)} static textures")
    gt.check(len(static) >= 10, f"static textures in the cache: {static}")

    ada_glb = write_export("Ada")
    gt.check(cu.file_import(ada_glb, "Ada") == {"FINISHED"}, "Ada was not imported")
    yield 0.3
    after_ada = cu.scene_state()
    ada_nodes = cu.node_images("Ada")
    cu.check_shared("Pat", "Ada", "after importing Ada")
    gt.check(cu.node_images("Pat") == pat_nodes, "Ada's import changed Pat's image nodes")
    yield from panel_draws()

    cu.edit("undo")  # Ada's File > Import
    yield 0.5
    cu.check_same(cu.scene_state(), after_pat, "after one Undo")
    gt.check(cu.node_images("Pat") == pat_nodes, "after one Undo: Pat's nodes changed")
    cu.check_pixels("Pat", "after one Undo")
    yield from panel_draws()

    cu.edit("undo")  # the panel's import
    yield 0.5
    cu.check_same(cu.scene_state(), empty, "after two Undos")
    yield from panel_draws()
    yield from view.screenshot(ART / "after_two_undos.png")

    cu.edit("redo")
    yield 0.5
    cu.check_same(cu.scene_state(), after_pat, "after one Redo")
    gt.check(cu.node_images("Pat") == pat_nodes, "after one Redo: Pat's nodes changed")
    cu.check_pixels("Pat", "after one Redo")
    cu.edit("redo")
    yield 0.5
    cu.check_same(cu.scene_state(), after_ada, "after two Redos")
    gt.check(cu.node_images("Ada") == ada_nodes and cu.node_images("Pat") == pat_nodes,
             "after two Redos: the avatars' image nodes changed")
    cu.check_shared("Pat", "Ada", "after two Redos")
    cu.check_pixels("Ada", "after two Redos")
    yield from panel_draws()
    yield from view.screenshot(ART / "after_two_redos.png")

    gt.disable_addon_and_check(runtime)
    shutil.rmtree(WORK, ignore_errors=True)


gt.run(steps, name=NAME, time_limit=200.0,
       on_failure=lambda: gt.on_failure(view, runtime, ART))
