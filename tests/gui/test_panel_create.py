"""GUI test: create an avatar from the sidebar's Avatar tab in a real Blender 3.4 window.

Enable the add-on (legacy, sandbox service), open the Avatar tab (Ctrl+wheel over the
sidebar with xdotool), set a photo, invoke Create the way a click does (INVOKE_DEFAULT in
the sidebar's context), let Blender's own event loop run the timers against the sandbox
until the avatar is in the scene, save screenshots of the window (mid-job and at the end,
framed on the avatar) and check the recorded pump ticks:

* every "events" tick (applying worker events) <= EVENT_TICK_BUDGET: 10 ms. The pump's
  own per-tick budget is runtime.TICK_BUDGET (4 ms of event handling); 10 ms leaves room
  for one event that starts just before the budget runs out, on a loaded 2-core CI machine,
  and is still far below a frame at 60 Hz (16.7 ms), i.e. the UI never stutters;
* the "import" tick (Blender's glTF import itself, one per avatar, unavoidably on the
  main thread) is measured and printed, and only checked against IMPORT_TICK_LIMIT: 5 s.

Run: tests/gui/run_gui_tests.sh tests/gui/test_panel_create.py
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import bpy

sys.path.insert(0, str(Path(__file__).resolve().parent))
import guitest as gt

NAME = "test_panel_create"
EVENT_TICK_BUDGET = 0.010  # seconds, per "events" tick
IMPORT_TICK_LIMIT = 5.0  # seconds, the one "import" tick
JOB_TIMEOUT = 120.0
AVATAR = "GuiFace"

ART = gt.artifacts_dir(NAME)
WORK = gt.temp_dir("avatar-gui-create-")
runtime = gt.enable_addon(WORK / "cache", compute_seconds=2.0)
PHOTO = gt.write_photo(WORK, AVATAR, seed="gui face")
from avatar_importer.blender.ui.panel import VIEW3D_PT_avatar_importer  # noqa: E402

view = gt.View3D()


def steps() -> gt.Steps:
    yield from gt.show_sidebar_tab(view, VIEW3D_PT_avatar_importer)

    scene = bpy.context.scene
    scene.avatar_importer.photo = str(PHOTO)
    runtime.TICKS.clear()
    started = time.monotonic()
    with view.override("UI"):
        result = bpy.ops.avatar_importer.create("INVOKE_DEFAULT")
    gt.check(result == {"FINISHED"}, f"Create returned {result}")
    jobs = runtime.all_jobs()
    gt.check(len(jobs) == 1, f"expected one job, got {len(jobs)}")
    job = jobs[0]
    gt.check(bpy.app.timers.is_registered(runtime.pump_tick), "Create did not start the pump")
    gt.log(f"Create invoked: job {job.id} ({job.stage.value})")

    # mid-job: the panel shows the job line with its progress while the avatar computes
    yield from gt.wait_until(lambda: (job.stage.value == "computing" and job.progress > 0)
                             or job.stage.final, 30, "the job to be computing")
    gt.check(not job.stage.final, f"job ended early: {job.stage.value} {job.error}")
    gt.log(f"mid-job: {job.status_line()}")
    yield from view.screenshot(ART / "panel_mid_job.png")

    yield from gt.wait_until(lambda: job.stage.final, JOB_TIMEOUT, "the job to finish",
                             poll=0.1)
    elapsed = time.monotonic() - started
    gt.log(f"job finished in {elapsed:.1f} s: {job.stage.value} {job.error}")
    gt.check(job.stage.value == "done", f"job {job.stage.value}: {job.error}")

    # the avatar is in the scene
    gt.check(job.result is not None, "no import result")
    gt.check(job.result.collection_name == AVATAR,
             f"collection {job.result.collection_name!r}, expected {AVATAR!r}")
    coll = bpy.data.collections.get(AVATAR)
    gt.check(coll is not None, f"no collection {AVATAR!r}")
    gt.check(coll.name in scene.collection.children, "the collection is not in the scene")
    objects = list(coll.all_objects)
    armatures = [o for o in objects if o.type == "ARMATURE"]
    gt.check(len(armatures) == 1, f"armatures: {[o.name for o in armatures]}")
    bones = len(armatures[0].data.bones)
    gt.check(bones >= 60, f"armature has {bones} bones")
    head = coll.all_objects.get("AvatarHead")
    gt.check(head is not None and head.type == "MESH", "no AvatarHead mesh in the collection")
    keys = head.data.shape_keys
    nkeys = len(keys.key_blocks) - 1 if keys else 0
    gt.check(nkeys >= 51, f"AvatarHead has {nkeys} shape keys")
    file_images = [img for img in bpy.data.images if img.source == "FILE"]
    gt.check(file_images, "no images")
    empty = [img.name for img in file_images if not img.size[0]]  # pixels load
    gt.check(not empty, f"images without data: {empty}")
    gt.log(f"scene: {len(objects)} objects, {bones} bones, AvatarHead {nkeys} shape keys, "
           f"{len(file_images)} images with data")

    # final screenshot: panel open (job line "Done"), view framed on the avatar
    for obj in scene.objects:  # the factory cube would hide the avatar's legs
        if obj.name not in coll.all_objects:
            obj.hide_set(True)
    view.space.shading.type = "SOLID"
    view.space.shading.color_type = "TEXTURE"
    with view.override("WINDOW"):
        bpy.ops.object.select_all(action="DESELECT")
        for obj in objects:
            obj.select_set(obj.type == "MESH")
        gt.check(bpy.ops.view3d.view_selected() == {"FINISHED"}, "view_selected failed")
    yield from gt.pause(0.5)  # the view animates to the selection (smooth view)
    yield from view.screenshot(ART / "panel_done.png")

    # the pump's tick durations
    ticks = list(runtime.TICKS)
    summary = gt.tick_summary(ticks)
    summary.update(job_seconds=round(elapsed, 2), budget_ms=EVENT_TICK_BUDGET * 1000,
                   import_limit_s=IMPORT_TICK_LIMIT, pump_budget_ms=runtime.TICK_BUDGET * 1000)
    gt.log("ticks: " + json.dumps(summary))
    (ART / "ticks.json").write_text(json.dumps({"summary": summary, "ticks": ticks}, indent=1))
    gt.check(summary["import_ticks"] == 1, f"expected one import tick: {summary}")
    slow = [round(s * 1000, 2) for s, kind in ticks if kind == "events" and s > EVENT_TICK_BUDGET]
    gt.check(not slow, f"event ticks over {EVENT_TICK_BUDGET * 1000:.0f} ms: {slow}")
    gt.check(summary["import_max_s"] <= IMPORT_TICK_LIMIT,
             f"import tick {summary['import_max_s']:.2f} s over {IMPORT_TICK_LIMIT} s")

    # with no job active the pump timer unregisters itself
    yield from gt.wait_until(lambda: not bpy.app.timers.is_registered(runtime.pump_tick), 2,
                             "the pump timer to stop")
    gt.disable_addon_and_check(runtime)
    shutil.rmtree(WORK, ignore_errors=True)  # kept after a failure, for a look


gt.run(steps, name=NAME, time_limit=150.0,
       on_failure=lambda: gt.on_failure(view, runtime, ART))
