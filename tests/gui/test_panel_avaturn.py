"""GUI test: Avaturn's editor flow from the sidebar in a real Blender 3.4 window.

Service "Sandbox (Avaturn)". Click "Open Avaturn Editor" (INVOKE_DEFAULT in the sidebar's
context; the system browser is the harmless command `true` here), let Blender's event
loop run the watcher, finish the editor session on the sandbox as the page's button does,
see the avatar offered in the panel, click Import, and check the avatar is in the scene
with its face shape keys. Screenshots: the offer, and the imported avatar.

Run: tests/gui/run_gui_tests.sh tests/gui/test_panel_avaturn.py
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import bpy
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
import guitest as gt

NAME = "test_panel_avaturn"
ART = gt.artifacts_dir(NAME)
WORK = gt.temp_dir("avatar-gui-avaturn-")
os.environ["BROWSER"] = "true"  # webbrowser.open runs `true URL`: no real browser here
runtime = gt.enable_addon(WORK / "cache", compute_seconds=1.0)
bpy.context.preferences.addons[gt.ADDON].preferences.service = "sandbox_avaturn"
from avatar_importer.blender.ui import browse  # noqa: E402
from avatar_importer.blender.ui.panel import VIEW3D_PT_avatar_importer  # noqa: E402

view = gt.View3D()


def steps() -> gt.Steps:
    yield from gt.show_sidebar_tab(view, VIEW3D_PT_avatar_importer)
    with view.override("UI"):
        result = bpy.ops.avatar_importer.open_editor("INVOKE_DEFAULT", kind="create")
    gt.check(result == {"FINISHED"}, f"Open Avaturn Editor returned {result}")
    yield from gt.wait_until(lambda: browse.watching()[0], 20, "the editor session to open")
    url = browse.watching()[1]
    gt.log(f"editor session: {url}")

    # the user finishes in the browser: the sandbox page's button posts this
    requests.post(url.rstrip("/") + "/finish", data={"body_type": "female"},
                  timeout=10).raise_for_status()
    yield from gt.wait_until(lambda: browse.watching()[2], 30, "the avatar to be offered")
    offered = browse.watching()[2][0]
    gt.log(f"offered: {offered.name} ({offered.code})")
    yield from gt.pause(0.3)
    yield from view.screenshot(ART / "panel_offer.png")

    with view.override("UI"):
        result = bpy.ops.avatar_importer.import_avatar("INVOKE_DEFAULT", code=offered.code,
                                                       name="FromEditor")
    gt.check(result == {"FINISHED"}, f"Import returned {result}")
    job = next(j for j in runtime.all_jobs() if j.spec.name == "FromEditor")
    yield from gt.wait_until(lambda: job.stage.final, 60, "the import to finish", poll=0.1)
    gt.check(job.stage.value == "done", f"job {job.stage.value}: {job.error}")
    coll = bpy.data.collections.get("FromEditor")
    gt.check(coll is not None, "no collection FromEditor")
    head = next((o for o in coll.all_objects if o.name.startswith("Head_Mesh")), None)
    gt.check(head is not None and head.data.shape_keys is not None, "no Head_Mesh shape keys")
    keys = len(head.data.shape_keys.key_blocks) - 1
    gt.check(keys >= 66, f"Head_Mesh has {keys} shape keys")
    gt.check(not browse.watching()[2], "the imported avatar is still offered")
    gt.log(f"imported: {len(coll.all_objects)} objects, Head_Mesh {keys} shape keys")

    for obj in bpy.context.scene.objects:
        if obj.name not in coll.all_objects:
            obj.hide_set(True)
    view.space.shading.type = "SOLID"
    view.space.shading.color_type = "TEXTURE"
    with view.override("WINDOW"):
        bpy.ops.object.select_all(action="DESELECT")
        for obj in coll.all_objects:
            obj.select_set(obj.type == "MESH")
        bpy.ops.view3d.view_selected()
    yield from gt.pause(0.5)
    yield from view.screenshot(ART / "panel_avaturn_done.png")

    with view.override("UI"):
        bpy.ops.avatar_importer.stop_watching("INVOKE_DEFAULT")
    yield from gt.wait_until(lambda: not bpy.app.timers.is_registered(runtime.pump_tick), 5,
                             "the pump timer to stop")
    gt.disable_addon_and_check(runtime)
    shutil.rmtree(WORK, ignore_errors=True)


gt.run(steps, name=NAME, time_limit=150.0,
       on_failure=lambda: gt.on_failure(view, runtime, ART))
