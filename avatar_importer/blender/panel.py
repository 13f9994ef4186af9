"""The "Avatar" tab in the 3D viewport's sidebar. ``draw`` does no I/O."""

from __future__ import annotations

from typing import Any

import bpy

from ..core.stages import Stage
from . import compat, runtime
from .operators import OFFLINE_MESSAGE, needs_network


class VIEW3D_PT_avatar_importer(bpy.types.Panel):
    bl_label = "Avatar"
    bl_idname = "VIEW3D_PT_avatar_importer"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Avatar"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        prefs = runtime.preferences()
        if prefs is not None:
            layout.prop(prefs, "service", text="")
        opts = context.scene.avatar_importer
        layout.prop(opts, "photo")
        layout.prop(opts, "avatar_name")
        layout.row().prop(opts, "subtype", expand=True)
        if needs_network(context) and not compat.online_access_allowed():
            for line in OFFLINE_MESSAGE.split(". "):
                layout.label(text=line, icon="INFO")
        layout.operator("avatar_importer.create", icon="USER")
        for job in runtime.all_jobs():
            box = layout.box()
            row = box.row()
            row.label(text=job.spec.name, icon=_icon(job.stage))
            op_name = "avatar_importer.dismiss" if job.stage.final else "avatar_importer.cancel"
            op = row.operator(op_name, text="", icon="X")
            op.job_id = job.id
            if not job.stage.final:
                compat.draw_progress(box, job.fraction, job.status_line())
                box.label(text=f"{job.elapsed:.0f} s")
            else:
                box.label(text=job.status_line())


def _icon(stage: Stage) -> Any:
    return {Stage.DONE: "CHECKMARK", Stage.FAILED: "ERROR",
            Stage.CANCELLED: "CANCEL"}.get(stage, "TIME")
