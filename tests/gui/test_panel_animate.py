"""GUI test: the Animate section in a real Blender 3.4 window.

Import the sandbox avatar, select one of its meshes, open the sidebar's Avatar tab and see
the Animate section drawn for that avatar; run Face Capture and Lip-sync (the operators
the section's buttons run, with the file the browser would return), let the window
redraw and check the section drew its result line without an error; then a file that is
not a face capture: the error line, and the avatar unchanged. Screenshots: the section
after the take, and with the error.

Run: tests/gui/run_gui_tests.sh tests/gui/test_panel_animate.py
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import bpy

HERE = Path(__file__).resolve().parent
for _path in (HERE, HERE.parent, HERE.parent / "blender"):
    sys.path.insert(0, str(_path))
import guitest as gt  # noqa: E402

NAME = "test_panel_animate"
ART = gt.artifacts_dir(NAME)
WORK = gt.temp_dir("avatar-gui-animate-")
runtime = gt.enable_addon(WORK / "cache")
from face_avatars import import_metaperson  # noqa: E402
from mocap_samples import livelink_csv, rhubarb_tsv  # noqa: E402

from avatar_importer.blender.ui.animate_panel import VIEW3D_PT_avatar_importer_animate  # noqa: E402
from avatar_importer.blender.ui.panel import VIEW3D_PT_avatar_importer  # noqa: E402

view = gt.View3D()


class DrawWatch:
    """Counts the Animate section's draws and keeps any exception its draw raised (Blender
    only prints those)."""

    def __init__(self) -> None:
        self.calls = 0
        self.errors: list[str] = []
        self.original = VIEW3D_PT_avatar_importer_animate.__dict__["draw"]
        original = self.original

        def draw(panel: Any, context: Any) -> None:
            self.calls += 1
            try:
                original(panel, context)
            except Exception as exc:
                self.errors.append(repr(exc))
                raise

        VIEW3D_PT_avatar_importer_animate.draw = draw

    def restore(self) -> None:
        VIEW3D_PT_avatar_importer_animate.draw = self.original

    def drawn_again(self) -> Any:
        start = self.calls
        view.redraw()
        return lambda: self.calls > start


def steps() -> gt.Steps:
    (WORK / "take.csv").write_text(livelink_csv(seconds=1.0, fps=60))
    (WORK / "line.tsv").write_text(rhubarb_tsv())
    (WORK / "notes.csv").write_text("name,age\nada,36\n")
    armature = import_metaperson(WORK / "avatar")
    head = bpy.data.objects["AvatarHead"]
    bpy.context.view_layer.objects.active = head  # a mesh of the avatar, as users click
    yield from gt.show_sidebar_tab(view, VIEW3D_PT_avatar_importer)
    watch = DrawWatch()
    try:
        yield from gt.wait_until(watch.drawn_again(), 5, "the Animate section to draw")
        props = bpy.context.scene.avatar_importer_animate
        props.face_gain = 0.9
        with view.override("UI"):
            face = bpy.ops.avatar_importer.load_face_capture(
                "EXEC_DEFAULT", filepath=str(WORK / "take.csv"))
            lips = bpy.ops.avatar_importer.load_lipsync(
                "EXEC_DEFAULT", filepath=str(WORK / "line.tsv"))
        gt.check(face == {"FINISHED"} and lips == {"FINISHED"}, f"{face} {lips}")
        from avatar_importer.blender.animation.apply import stored_report
        summary = (stored_report(armature) or {}).get("summary", [])
        gt.check([s.split(":")[0] for s in summary[:2]] == ["Face", "Lip-sync"],
                 f"result lines: {summary}")
        yield from gt.wait_until(watch.drawn_again(), 5, "a redraw after the take")
        bpy.context.scene.frame_set(12)
        yield from view.screenshot(ART / "panel_animate.png")

        actions = sorted(bpy.data.actions.keys())
        with view.override("UI"):
            try:
                bpy.ops.avatar_importer.load_face_capture(
                    "EXEC_DEFAULT", filepath=str(WORK / "notes.csv"))
            except RuntimeError as exc:  # the operator's ERROR report
                gt.check("no ARKit columns" in str(exc), f"unexpected error: {exc}")
            else:
                raise gt.Failure("a CSV with no ARKit columns was accepted")
        gt.check("no ARKit columns" in props.last_error, f"last error: {props.last_error!r}")
        gt.check(sorted(bpy.data.actions.keys()) == actions, "bad input changed the actions")
        yield from gt.wait_until(watch.drawn_again(), 5, "a redraw after the error")
        yield from view.screenshot(ART / "panel_animate_error.png")
        gt.check(not watch.errors, f"the Animate section's draw raised: {watch.errors}")
        gt.log(f"Animate section drawn {watch.calls} times, no error")
    finally:
        watch.restore()
    gt.disable_addon_and_check(runtime)
    shutil.rmtree(WORK, ignore_errors=True)


gt.run(steps, name=NAME, time_limit=120.0,
       on_failure=lambda: gt.on_failure(view, runtime, ART))
