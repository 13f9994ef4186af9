"""The Avatar tab's "Animate" section for the active avatar. ``draw`` does no I/O: the
result line comes from the report kept on the armature by the last apply."""

from __future__ import annotations

import bpy

from ..animation.apply import stored_report
from ..animation.avatar import active_avatar
from .panel import PANEL_ID


class VIEW3D_PT_avatar_importer_animate(bpy.types.Panel):
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Avatar"
    bl_label = "Animate"
    bl_parent_id = PANEL_ID

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return active_avatar(context) is not None

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        armature = active_avatar(context)
        props = context.scene.avatar_importer_animate
        layout.label(text=armature.name, icon="ARMATURE_DATA")

        col = layout.column(align=True)
        col.operator("avatar_importer.load_animation", text="Body Animation...",
                     icon="ARMATURE_DATA")
        row = col.row(align=True)
        row.prop(props, "preset", text="")
        row.operator("avatar_importer.save_bone_map", text="", icon="ADD")

        col = layout.column(align=True)
        col.operator("avatar_importer.load_face_capture", text="Face Capture...",
                     icon="MONKEY")
        col.prop(props, "face_gain")
        col.prop(props, "face_smoothing")

        col = layout.column(align=True)
        col.operator("avatar_importer.load_lipsync", text="Lip-sync...", icon="SPEAKER")
        col.prop(props, "viseme_map", text="")

        if props.last_error:
            box = layout.box()
            for i, line in enumerate(_wrap(props.last_error, _chars(context))):
                box.label(text=line, icon="ERROR" if i == 0 else "BLANK1")
        report = stored_report(armature)
        if report and report.get("summary"):
            box = layout.box()
            frames = f"Frames {report.get('frame_start')}-{report.get('frame_end')}"
            box.label(text=frames, icon="TIME")
            for line in report["summary"]:
                box.label(text=line)


def _chars(context: bpy.types.Context) -> int:
    """About how many characters fit on one label line of the sidebar (icon included)."""
    region = getattr(context, "region", None)
    scale = context.preferences.system.ui_scale or 1.0
    width = getattr(region, "width", 0) or 300
    return max(12, int(width / (7.5 * scale)) - 5)


def _wrap(text: str, width: int = 36) -> list[str]:
    """Split a message into sidebar-wide lines (word boundaries)."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    if current:
        lines.append(current)
    return lines[:8]


CLASSES: tuple[type, ...] = (VIEW3D_PT_avatar_importer_animate,)
