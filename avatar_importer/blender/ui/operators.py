"""Operators. ``execute`` never does network I/O or sleeps: it hands work to the engine."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import bpy
from bpy.props import StringProperty

from ...core.cache import Cache
from ...core.errors import InputError
from ...core.photo import check_photo
from ...core.stages import JobSpec
from .. import compat, runtime
from . import browse
from .props import choices

if TYPE_CHECKING:
    from bpy.stub_internal.rna_enums import OperatorReturnItems as OperatorReturn
else:
    OperatorReturn = str

OFFLINE_MESSAGE = ("Online access is disabled. Enable it in Preferences > System > "
                   "Network > Allow Online Access, or choose the Sandbox service")


def needs_network(context: bpy.types.Context) -> bool:
    prefs = runtime.preferences()
    return prefs is None or prefs.service not in runtime.LOCAL_SERVICES


class NetworkOperator(bpy.types.Operator):
    """Base of every operator that talks to the service: disabled while Blender's online
    access is off (the local sandbox needs no network)."""

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if needs_network(context) and not compat.online_access_allowed():
            cls.poll_message_set(OFFLINE_MESSAGE)
            return False
        return True


class AVATAR_IMPORTER_OT_create(NetworkOperator):
    """Create an avatar from the photo and import it when it is ready"""

    bl_idname = "avatar_importer.create"
    bl_label = "Create Avatar"
    bl_options = {"REGISTER"}

    def execute(self, context: bpy.types.Context) -> set[OperatorReturn]:
        opts = context.scene.avatar_importer
        if not opts.photo:
            self.report({"ERROR"}, "Choose a photo first")
            return {"CANCELLED"}
        photo = Path(bpy.path.abspath(opts.photo))
        try:
            check_photo(photo)  # a stat and a 16-byte local read, not network I/O
        except InputError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        picked = choices(opts)
        extra: dict[str, object] = {}
        prefs = runtime.preferences()
        if prefs is not None and prefs.service in runtime.AVATURN_SERVICES:
            sides = [Path(bpy.path.abspath(p)) for p in (opts.side_photo_1, opts.side_photo_2)]
            if not all(p.is_file() for p in sides):
                self.report({"ERROR"}, "Avaturn needs two side photos (head turned left and "
                            "right) besides the frontal one")
                return {"CANCELLED"}
            try:
                for side in sides:
                    check_photo(side)
            except InputError as exc:
                self.report({"ERROR"}, str(exc))
                return {"CANCELLED"}
            extra = {"side_photos": [str(p) for p in sides], "body_type": opts.subtype,
                     "telephoto": bool(opts.telephoto)}
        spec = JobSpec(photo=photo, name=opts.avatar_name or photo.stem,
                       subtype=opts.subtype, parameters=picked.parameters(),
                       export_parameters=picked.export_parameters(), extra=extra)
        try:
            runtime.submit(runtime.preferences(), spec)
        except Exception as exc:  # configuration errors: missing credentials, bad URL
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"Creating avatar {spec.name}")
        return {"FINISHED"}


class AVATAR_IMPORTER_OT_cancel(bpy.types.Operator):
    """Cancel this avatar job"""

    bl_idname = "avatar_importer.cancel"
    bl_label = "Cancel"
    bl_options = {"INTERNAL"}

    job_id: StringProperty()  # type: ignore[valid-type]

    def execute(self, context: bpy.types.Context) -> set[OperatorReturn]:
        runtime.cancel(self.job_id)
        return {"FINISHED"}


class AVATAR_IMPORTER_OT_dismiss(bpy.types.Operator):
    """Remove this finished job from the list"""

    bl_idname = "avatar_importer.dismiss"
    bl_label = "Dismiss"
    bl_options = {"INTERNAL"}

    job_id: StringProperty()  # type: ignore[valid-type]

    def execute(self, context: bpy.types.Context) -> set[OperatorReturn]:
        runtime.dismiss(self.job_id)
        return {"FINISHED"}


class AVATAR_IMPORTER_OT_clear_cache(bpy.types.Operator):
    """Delete downloaded exports and shared textures (they are fetched again when needed)"""

    bl_idname = "avatar_importer.clear_cache"
    bl_label = "Clear Cache"

    def execute(self, context: bpy.types.Context) -> set[OperatorReturn]:
        if any(not j.stage.final for j in runtime.all_jobs()):
            self.report({"ERROR"}, "Wait for running avatar jobs to finish first")
            return {"CANCELLED"}
        Cache(runtime.cache_root(runtime.preferences())).clear()
        browse.request_cache_size(force=True)
        self.report({"INFO"}, "Avatar cache cleared")
        return {"FINISHED"}


class AVATAR_IMPORTER_OT_reset_player(bpy.types.Operator):
    """Forget the player ID: a new one is created on next use"""

    bl_idname = "avatar_importer.reset_player"
    bl_label = "Reset Player"

    def execute(self, context: bpy.types.Context) -> set[OperatorReturn]:
        prefs = runtime.preferences()
        if prefs is not None:
            if prefs.service in runtime.AVATURN_SERVICES:
                prefs.avaturn_user_id = ""
            else:
                prefs.player_id = ""
            settings = runtime.settings_from_prefs(prefs)
            cache = Cache(runtime.cache_root(prefs))
            cache.set_player(Cache.player_key(settings.service, settings.base_url,
                                              settings.account()), None)
        return {"FINISHED"}


CLASSES = (
    AVATAR_IMPORTER_OT_create,
    AVATAR_IMPORTER_OT_cancel,
    AVATAR_IMPORTER_OT_dismiss,
    AVATAR_IMPORTER_OT_clear_cache,
    AVATAR_IMPORTER_OT_reset_player,
)
