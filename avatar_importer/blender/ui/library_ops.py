"""The panel's asset library: "Save to Library" for an imported avatar, and My Avatars'
"Back Up All" (``library_backup``). Both need the library folder of the preferences.

Save to Library writes ``DIR/<collection name>.blend`` with ``library.save_avatar_to_library``
(``keep_current``): the open file keeps its objects, file path and packing state. The
file is named by ``core.library_names`` (the manifest's and Back Up All's rule); the asset
is described by ``AssetMeta.for_avatar`` from where the avatar came from
(``library.stored_source``: service, avatar code, subtype, export options), as a manifest
row or Back Up All would describe it; its preview is My Avatars' cached thumbnail, else
the photo. A file of
that name holding a different avatar (another avatar code, or one not saved from here) is
refused, naming it: rename the avatar's collection, or remove the file. Saving the same
avatar again replaces its file. Main thread only.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bpy
from bpy.props import StringProperty

from ...core.asset_meta import AssetMeta, AvatarSource
from ...core.cache import Cache
from ...core.library_names import library_name
from ...core.library_rows import LibraryRows
from ...core.report_summary import SUMMARY_WIDTH
from .. import compat, runtime
from ..importing.importer import REPORT_PROPERTY
from ..library import assets as library
from ..library import backup as library_backup
from .operators import NetworkOperator

if TYPE_CHECKING:
    from bpy.stub_internal.rna_enums import OperatorReturnItems as OperatorReturn
else:
    OperatorReturn = str

NO_LIBRARY = "Set a library folder in the add-on's preferences first"


def avatar_collection(context: Any, name: str = "") -> Any | None:
    """The avatar named ``name``, else the one holding the active object."""
    if name:
        return bpy.data.collections.get(name)
    obj = getattr(context, "active_object", None)
    for coll in getattr(obj, "users_collection", ()) or ():
        if coll.get(REPORT_PROPERTY) is not None:
            return coll
    return None


def clash(rows: LibraryRows, name: str, avatar_code: str) -> str:
    """Why ``DIR/<name>.blend`` must not be replaced by this avatar ('' when it may)."""
    path = rows.blend_path(name)
    if not path.exists():
        return ""
    recorded = rows.load(name).get("avatar_code") or ""
    if avatar_code and recorded == avatar_code:
        return ""
    return (f"The library already has a different avatar as {path.name}: rename this "
            "avatar's collection, or remove that file")


def save_to_library(collection: Any, folder: Path) -> tuple[Path, str]:
    """Save ``collection`` into ``folder``; returns (file, remark for the user). Raises
    ValueError naming the problem when it is refused."""
    source = library.stored_source(collection)
    name = library_name(collection.name)
    rows = LibraryRows(folder)
    lock = rows.lock(name)
    if lock is None:
        raise ValueError(f"{name}.blend is being written by another Blender (a backup or "
                         "a manifest run): try again when it is done")
    try:
        refused = clash(rows, name, source.avatar_code)
        if refused:
            raise ValueError(refused)
        preview = _preview(source)
        meta = AssetMeta.for_avatar(name, source, preview=preview)
        keeps_preview = library.writes_preview(collection)
        path = library.save_avatar_to_library(collection, folder, meta, keep_current=True)
        rows.update(name, status="done", blend=path.name, source="panel", **meta.row_fields())
    finally:
        lock.release()
    if preview is None:
        remark = " (no thumbnail or photo: saved without preview)"
    elif not keeps_preview:
        remark = " without preview: Blender 5.0 drops previews when writing part of a file"
    else:
        remark = ""
    return path, remark


def _preview(source: AvatarSource) -> Path | None:
    if source.avatar_code:
        cache = Cache(runtime.cache_root(runtime.preferences(), create=False))
        thumb = library_backup.thumbnail_path(cache, source.avatar_code)
        if thumb.is_file():
            return thumb
    photo = Path(source.photo) if source.photo else None
    return photo if photo is not None and photo.is_file() else None


class AVATAR_IMPORTER_OT_save_to_library(bpy.types.Operator):
    """Save this avatar as an asset in your library folder (its own .blend, textures
    packed); the open file is not changed"""

    bl_idname = "avatar_importer.save_to_library"
    bl_label = "Save to Library"

    collection: StringProperty(  # type: ignore[valid-type]
        name="Avatar", description="The avatar's collection (empty: the active object's)",
        options={"HIDDEN"})

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if library_backup.library_dir() is None:
            cls.poll_message_set(NO_LIBRARY)
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[OperatorReturn]:
        folder = library_backup.library_dir()
        collection = avatar_collection(context, self.collection)
        if folder is None or collection is None:
            self.report({"ERROR"}, NO_LIBRARY if folder is None else
                        "No avatar: select one of its objects")
            return {"CANCELLED"}
        try:
            path, remark = save_to_library(collection, folder)
        except (ValueError, OSError, RuntimeError) as exc:
            self.report({"ERROR"}, f"Not saved to the library: {exc}")
            return {"CANCELLED"}
        self.report({"WARNING"} if remark else {"INFO"}, f"Saved {path}{remark}")
        return {"FINISHED"}


class AVATAR_IMPORTER_OT_backup_all(NetworkOperator):
    """Save every avatar of your account into your library folder, one after another
    (exports of your existing avatars only: nothing is created or computed; avatars
    already in the library are skipped)"""

    bl_idname = "avatar_importer.backup_all"
    bl_label = "Back Up All"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if library_backup.library_dir() is None:
            cls.poll_message_set(NO_LIBRARY)
            return False
        if library_backup.state().running:
            cls.poll_message_set("A backup is running")
            return False
        return super().poll(context)

    def execute(self, context: bpy.types.Context) -> set[OperatorReturn]:
        folder = library_backup.library_dir()
        assert folder is not None
        try:
            library_backup.start(folder)
        except Exception as exc:  # configuration: missing credentials, bad base URL
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        return {"FINISHED"}


class AVATAR_IMPORTER_OT_cancel_backup(bpy.types.Operator):
    """Stop the backup after the avatar under way (run Back Up All again to go on)"""

    bl_idname = "avatar_importer.cancel_backup"
    bl_label = "Cancel Backup"
    bl_options = {"INTERNAL"}

    def execute(self, context: bpy.types.Context) -> set[OperatorReturn]:
        library_backup.cancel()
        return {"FINISHED"}


def draw_save_button(layout: Any, collection: str) -> None:
    """The panel's button under an imported avatar's report."""
    layout.operator("avatar_importer.save_to_library", icon="ASSET_MANAGER").collection = \
        collection


def draw_backup(layout: Any) -> None:
    """My Avatars' Back Up All row, its progress and its last result."""
    if library_backup.library_dir() is None:
        layout.label(text="Back Up All: set a library folder in Preferences", icon="INFO")
        return
    run = library_backup.state()
    if run.running:
        row = layout.row()
        fraction, text = library_backup.progress()
        compat.draw_progress(row, fraction, text)
        row.operator("avatar_importer.cancel_backup", text="", icon="X")
    else:
        layout.operator("avatar_importer.backup_all", icon="EXPORT")
        col = layout.column(align=True)  # a result with failures is long: wrapped
        for part in textwrap.wrap(run.message, SUMMARY_WIDTH + 2):
            col.label(text=part)


CLASSES = (
    AVATAR_IMPORTER_OT_save_to_library,
    AVATAR_IMPORTER_OT_backup_all,
    AVATAR_IMPORTER_OT_cancel_backup,
)
