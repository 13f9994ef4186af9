"""The "Avatar" tab in the 3D viewport's sidebar. ``draw`` does no I/O: it reads state and
at most schedules background work (``request_*`` only register a timer)."""

from __future__ import annotations

import textwrap
from typing import Any, cast

import bpy

from ...core.report_summary import SUMMARY_WIDTH, summary_rows
from ...core.stages import Stage
from .. import compat, runtime
from . import browse, catalogue, library_ops
from .operators import OFFLINE_MESSAGE, needs_network
from .report_ops import draw_report_buttons

PANEL_ID = "VIEW3D_PT_avatar_importer"


class _Sidebar(bpy.types.Panel):
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Avatar"


class VIEW3D_PT_avatar_importer(_Sidebar):
    bl_label = "Avatar"
    bl_idname = PANEL_ID

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        prefs = runtime.preferences()
        catalogue.request_refresh()
        browse.request_interrupted()
        if prefs is not None:
            layout.prop(prefs, "service", text="")
        opts = context.scene.avatar_importer
        layout.prop(opts, "photo")
        icon = browse.icon_for(browse.photo_key(bpy.path.abspath(opts.photo))) \
            if opts.photo else 0
        if icon:
            layout.template_icon(icon_value=icon, scale=5.0)
        avaturn = prefs is not None and prefs.service in runtime.AVATURN_SERVICES
        if avaturn:
            layout.prop(opts, "side_photo_1")
            layout.prop(opts, "side_photo_2")
            layout.prop(opts, "telephoto")
        layout.prop(opts, "avatar_name")
        layout.row().prop(opts, "subtype", expand=True)
        if needs_network(context) and not compat.online_access_allowed():
            for line in OFFLINE_MESSAGE.split(". "):
                layout.label(text=line, icon="INFO")
        layout.operator("avatar_importer.create", icon="USER")
        if avaturn:
            _draw_editor(layout)
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
                col = box.column(align=True)  # an error is long: wrapped, not cut
                for part in textwrap.wrap(job.status_line(), SUMMARY_WIDTH + 2) or [""]:
                    col.label(text=part)
                if job.result is not None:  # short rows; everything in the full report
                    col = box.column(align=True)
                    for row_icon, text in summary_rows(job.result):
                        col.label(text=text, icon=cast(Any, row_icon))
                    draw_report_buttons(box, job.result.collection_name)
                    if job.result.collection_name in bpy.data.collections:
                        library_ops.draw_save_button(box, job.result.collection_name)


class VIEW3D_PT_avatar_importer_options(_Sidebar):
    bl_label = "Options"
    bl_parent_id = PANEL_ID
    bl_options = {"DEFAULT_CLOSED"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        prefs = runtime.preferences()
        return prefs is None or prefs.service not in runtime.AVATURN_SERVICES

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        opts = context.scene.avatar_importer
        layout.prop(opts, "lod")
        layout.prop(opts, "profile")
        layout.prop(opts, "haircut")
        layout.prop(opts, "outfit_mode", text="")
        if opts.outfit_mode == "WHOLE":
            layout.prop(opts, "outfit")
        else:
            layout.prop(opts, "outfit_top")
            layout.prop(opts, "outfit_bottom")
            layout.prop(opts, "outfit_shoes")
        layout.prop(opts, "glasses")
        col = layout.column(heading="Shape Keys", align=True)
        for name in ("mobile_51", "visemes_14", "visemes_15", "face_modifications",
                     "body_shape"):
            col.prop(opts, f"shapes_{name}")
        col = layout.column(heading="Modify", align=True)
        for name in catalogue.modifications():
            if hasattr(opts, name):
                col.prop(opts, name)
        row = layout.row()
        row.label(text=catalogue.status())
        row.operator("avatar_importer.refresh_options", text="", icon="FILE_REFRESH")


class VIEW3D_PT_avatar_importer_import(_Sidebar):
    bl_label = "Import Settings"
    bl_parent_id = PANEL_ID
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context: bpy.types.Context) -> None:
        opts = context.scene.avatar_importer
        col = self.layout.column(align=True)
        col.prop(opts, "at_cursor")
        col.prop(opts, "pack_textures")
        col.prop(opts, "raise_bounces")


class VIEW3D_PT_avatar_importer_interrupted(_Sidebar):
    bl_label = "Interrupted Jobs"
    bl_parent_id = PANEL_ID

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return bool(browse.interrupted())

    def draw(self, context: bpy.types.Context) -> None:
        for record in browse.interrupted():
            spec = record.get("spec") or {}
            row = self.layout.row(align=True)
            row.label(text=f"{spec.get('name', '?')} ({record.get('stage', '?')})",
                      icon="TIME")
            row.operator("avatar_importer.resume_job", text="", icon="PLAY").job_id = \
                record["id"]
            row.operator("avatar_importer.discard_job", text="", icon="TRASH").job_id = \
                record["id"]


class VIEW3D_PT_avatar_importer_library(_Sidebar):
    bl_label = "My Avatars"
    bl_parent_id = PANEL_ID
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        page, has_next, loading, error = browse.listing_state()
        row = layout.row(align=True)
        row.operator("avatar_importer.list_avatars", text="Refresh",
                     icon="FILE_REFRESH").page = page
        if page > 1:
            row.operator("avatar_importer.list_avatars", text="", icon="TRIA_LEFT").page = \
                page - 1
        if has_next:
            row.operator("avatar_importer.list_avatars", text="", icon="TRIA_RIGHT").page = \
                page + 1
        library_ops.draw_backup(layout)
        if loading:
            layout.label(text="Loading...", icon="TIME")
        if error:
            layout.label(text=error, icon="ERROR")
        for avatar in browse.avatars():
            box = layout.box()
            row = box.row()
            icon = browse.icon_for(f"thumb:{avatar.code}")
            if icon:
                row.template_icon(icon_value=icon, scale=3.0)
            col = row.column()
            col.label(text=avatar.name or avatar.code[:8])
            col.label(text=f"{avatar.status}, {avatar.created_on[:10]}")
            ops = box.row(align=True)
            ops.enabled = avatar.status == "Completed"
            op = ops.operator("avatar_importer.import_avatar", icon="IMPORT")
            op.code, op.name = avatar.code, avatar.name
            prefs = runtime.preferences()
            if prefs is not None and prefs.service in runtime.AVATURN_SERVICES:
                op = ops.operator("avatar_importer.open_editor", text="Edit", icon="GREASEPENCIL")
                op.kind, op.avatar_id = "edit_existing", avatar.code
            else:
                op = ops.operator("avatar_importer.reexport", icon="FILE_REFRESH")
                op.code, op.name = avatar.code, avatar.name
            op = box.operator("avatar_importer.delete_avatar", text="Delete", icon="TRASH")
            op.code, op.name = avatar.code, avatar.name


def _draw_editor(layout: Any) -> None:
    box = layout.box()
    box.label(text="Avaturn Editor (in your browser)")
    row = box.row(align=True)
    row.operator("avatar_importer.open_editor", text="Create").kind = "create"
    row.operator("avatar_importer.open_editor", text="Create or Edit").kind = \
        "create_or_edit_existing"
    active, _url, offered = browse.watching()
    if active:
        row = box.row()
        row.label(text="Watching for your avatar...", icon="TIME")
        row.operator("avatar_importer.stop_watching", text="", icon="X")
    for avatar in offered:
        row = box.row()
        row.label(text=avatar.name or avatar.code[:8], icon="CHECKMARK")
        op = row.operator("avatar_importer.import_avatar", text="Import", icon="IMPORT")
        op.code, op.name = avatar.code, avatar.name


def _icon(stage: Stage) -> Any:
    return {Stage.DONE: "CHECKMARK", Stage.FAILED: "ERROR",
            Stage.CANCELLED: "CANCEL"}.get(stage, "TIME")


CLASSES = (
    VIEW3D_PT_avatar_importer,
    VIEW3D_PT_avatar_importer_options,
    VIEW3D_PT_avatar_importer_import,
    VIEW3D_PT_avatar_importer_interrupted,
    VIEW3D_PT_avatar_importer_library,
)
