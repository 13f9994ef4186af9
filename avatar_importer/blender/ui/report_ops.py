"""The whole import report one click away from the panel's short summary: a popup with
every line (``avatar_importer.show_report``) and the same lines in a text block for the
Text Editor (``avatar_importer.report_to_text``).

Both read the report stored on the avatar's collection (``importer.stored_report``), so
they work for avatars of earlier sessions too. The report holds no secrets (no token,
no client secret: see ``core.report``), so neither does the text block. Main thread only.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any, cast

import bpy
from bpy.props import StringProperty

from ...core.report_summary import full_report_lines
from ..importing.importer import stored_report

if TYPE_CHECKING:
    from bpy.stub_internal.rna_enums import OperatorReturnItems as OperatorReturn
else:
    OperatorReturn = str

__all__ = ["CLASSES", "draw_report_buttons", "report_text_lines", "text_name"]

POPUP_WIDTH = 620  # pixels at UI scale 1
WRAP = 90  # characters per popup line


def text_name(collection: str) -> str:
    return f"Avatar report {collection}"


def report_text_lines(collection: str) -> list[str] | None:
    """The full report of the avatar imported into ``collection``, or None."""
    found = bpy.data.collections.get(collection)
    body = stored_report(found) if found is not None else None
    return full_report_lines(body) if body else None


class _ReportOperator:
    collection: StringProperty(  # type: ignore[valid-type]
        name="Avatar", description="The avatar's collection", options={"HIDDEN"})

    def _lines(self, op: Any) -> list[str] | None:
        lines = report_text_lines(self.collection)
        if lines is None:
            op.report({"ERROR"}, f"No import report for '{self.collection}' (its "
                      "collection was removed or renamed)")
        return lines


class AVATAR_IMPORTER_OT_show_report(_ReportOperator, bpy.types.Operator):
    """Show the avatar's whole import report: warnings, every image, material change,
    shape keys and scene change"""

    bl_idname = "avatar_importer.show_report"
    bl_label = "Import Report"

    def invoke(self, context: bpy.types.Context,
               event: bpy.types.Event) -> set[OperatorReturn]:
        if self._lines(self) is None:
            return {"CANCELLED"}
        return context.window_manager.invoke_popup(self, width=POPUP_WIDTH)

    def execute(self, context: bpy.types.Context) -> set[OperatorReturn]:
        return {"FINISHED"} if self._lines(self) is not None else {"CANCELLED"}

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        lines = report_text_lines(self.collection) or []
        col = layout.column(align=True)
        for index, line in enumerate(lines):
            indent = len(line) - len(line.lstrip())
            for part in textwrap.wrap(line.strip(), WRAP - indent) or [""]:
                icon = "ERROR" if line.startswith("Warning") else "NONE"
                col.label(text=" " * indent + part, icon=cast(Any, icon if index else "INFO"))
                indent = max(indent, 4)
        op = layout.operator(AVATAR_IMPORTER_OT_report_to_text.bl_idname,
                             text="Open in Text Editor", icon="TEXT")
        op.collection = self.collection


class AVATAR_IMPORTER_OT_report_to_text(_ReportOperator, bpy.types.Operator):
    """Write the avatar's whole import report into a text block (shown in an open Text
    Editor)"""

    bl_idname = "avatar_importer.report_to_text"
    bl_label = "Import Report to Text"

    def execute(self, context: bpy.types.Context) -> set[OperatorReturn]:
        lines = self._lines(self)
        if lines is None:
            return {"CANCELLED"}
        name = text_name(self.collection)
        text = bpy.data.texts.get(name) or bpy.data.texts.new(name)
        text.from_string("\n".join(lines) + "\n")
        shown = _show_in_text_editor(context, text)
        where = "shown in the Text Editor" if shown else "open it in a Text Editor"
        self.report({"INFO"}, f"Report written to the text '{text.name}': {where}")
        return {"FINISHED"}


def _show_in_text_editor(context: Any, text: Any) -> bool:
    screen = getattr(context, "screen", None)
    for area in screen.areas if screen is not None else ():
        if area.type == "TEXT_EDITOR":
            area.spaces.active.text = text
            return True
    return False


def draw_report_buttons(layout: Any, collection: str) -> None:
    """The panel's row under an avatar's summary: the popup and the text block."""
    row = layout.row(align=True)
    op = row.operator(AVATAR_IMPORTER_OT_show_report.bl_idname, text="Full Report",
                      icon="ZOOM_IN")
    op.collection = collection
    op = row.operator(AVATAR_IMPORTER_OT_report_to_text.bl_idname, text="", icon="TEXT")
    op.collection = collection


CLASSES: tuple[type, ...] = (
    AVATAR_IMPORTER_OT_show_report,
    AVATAR_IMPORTER_OT_report_to_text,
)
