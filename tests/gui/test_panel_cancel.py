"""GUI test: cancel a running avatar job from the Avatar tab in a real Blender 3.4 window.

Same set-up as test_panel_create.py (legacy add-on, sandbox, Avatar tab shown with the
mouse wheel over the sidebar's tab strip). The sandbox's export download is slowed
(30 kB/s, archive padded by 2 MB, i.e. over a minute of download); once the job is
downloading and bytes have arrived, Cancel is invoked the way a click on the job's X
does (INVOKE_DEFAULT in the sidebar's context). Then: the job ends "cancelled"; the scene
has no new objects/collections/meshes/materials/images...; the cache holds no partial
(*.part) download and no export.zip; disabling the add-on leaves no timer and no thread.

Run: tests/gui/run_gui_tests.sh tests/gui/test_panel_cancel.py
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import bpy

sys.path.insert(0, str(Path(__file__).resolve().parent))
import guitest as gt

NAME = "test_panel_cancel"
AVATAR = "GuiCancel"
DOWNLOAD_RATE = 30_000  # bytes per second
EXTRA_ARCHIVE_BYTES = 2_000_000
CANCEL_WITHIN = 10.0  # seconds from the click to the job being final

ART = gt.artifacts_dir(NAME)
WORK = gt.temp_dir("avatar-gui-cancel-")
CACHE = WORK / "cache"
runtime = gt.enable_addon(CACHE, compute_seconds=1.0)
PHOTO = gt.write_photo(WORK, AVATAR, seed="gui cancel")
from avatar_importer.blender.ui.panel import VIEW3D_PT_avatar_importer  # noqa: E402

view = gt.View3D()


def steps() -> gt.Steps:
    yield from gt.show_sidebar_tab(view, VIEW3D_PT_avatar_importer)

    scene = bpy.context.scene
    scene.avatar_importer.photo = str(PHOTO)
    before = gt.data_counts()
    with view.override("UI"):
        result = bpy.ops.avatar_importer.create("INVOKE_DEFAULT")
    gt.check(result == {"FINISHED"}, f"Create returned {result}")
    job = runtime.all_jobs()[0]
    sandbox = runtime._State.sandbox
    gt.check(sandbox is not None, "Create did not start the sandbox")
    # the job is still uploading/computing: the export archive is not built yet
    gt.check(job.stage.value not in ("downloading", "static", "ready"),
             f"too late to slow the download: {job.stage.value}")
    sandbox.faults.download_bytes_per_second = DOWNLOAD_RATE
    sandbox.config.extra_archive_bytes = EXTRA_ARCHIVE_BYTES
    gt.log(f"Create invoked: job {job.id}; download slowed to {DOWNLOAD_RATE} B/s")

    yield from gt.wait_until(lambda: (job.stage.value == "downloading" and job.bytes_done > 0)
                             or job.stage.final, 40, "the download to be under way")
    gt.check(job.stage.value == "downloading", f"job {job.stage.value}: {job.error}")
    gt.check(job.bytes_total and job.bytes_total > EXTRA_ARCHIVE_BYTES,
             f"unexpected download size {job.bytes_total}")
    parts = gt.files_matching(CACHE, "*.part")
    gt.check(parts, "no partial download in the cache while downloading")
    gt.log(f"downloading: {job.status_line()}; partial file {parts[0].name}")
    yield from view.screenshot(ART / "panel_downloading.png")

    with view.override("UI"):
        result = bpy.ops.avatar_importer.cancel("INVOKE_DEFAULT", job_id=job.id)
    gt.check(result == {"FINISHED"}, f"Cancel returned {result}")
    clicked = time.monotonic()
    yield from gt.wait_until(lambda: job.stage.final, CANCEL_WITHIN, "the job to stop")
    gt.log(f"job {job.stage.value} {time.monotonic() - clicked:.2f} s after Cancel "
           f"({job.bytes_done} of {job.bytes_total} bytes had arrived)")
    gt.check(job.stage.value == "cancelled", f"job {job.stage.value}: {job.error}")
    gt.check(job.result is None, "a cancelled job has an import result")
    # the timer stops by itself once no job is active
    yield from gt.wait_until(lambda: not bpy.app.timers.is_registered(runtime.pump_tick), 2,
                             "the pump timer to stop")
    yield from view.screenshot(ART / "panel_cancelled.png")

    after = gt.data_counts()
    gt.check(after == before, f"the scene changed: before {before}, after {after}")
    gt.check(bpy.data.collections.get(AVATAR) is None, "a collection for the avatar exists")
    leftovers = gt.files_matching(CACHE, "*.part", "export.zip", "*.glb")
    gt.check(not leftovers, f"left in the cache: {[str(p) for p in leftovers]}")
    gt.log(f"scene unchanged {after}; no *.part, export.zip or *.glb in {CACHE}")

    gt.disable_addon_and_check(runtime)
    shutil.rmtree(WORK, ignore_errors=True)  # kept after a failure, for a look


gt.run(steps, name=NAME, time_limit=120.0,
       on_failure=lambda: gt.on_failure(view, runtime, ART))
