"""Operators of the panel's browsing parts: options, My avatars, interrupted jobs.

``execute`` never does network I/O: listings, deletes and re-exports run as background
tasks; imports run as jobs on the engine, like a new avatar.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import bpy
from bpy.props import EnumProperty, IntProperty, StringProperty

from ...core.asset_meta import sources_by_code, spec_for_existing
from ...core.cache import Cache
from ...core.stages import JobSpec
from .. import runtime
from . import browse, catalogue
from .operators import NetworkOperator
from .props import choices

if TYPE_CHECKING:
    from bpy.stub_internal.rna_enums import OperatorReturnItems as OperatorReturn
else:
    OperatorReturn = str


def _start(self: bpy.types.Operator, fn: Any) -> set[OperatorReturn]:
    try:
        fn()
    except Exception as exc:  # configuration: missing credentials, bad base URL
        self.report({"ERROR"}, str(exc))
        return {"CANCELLED"}
    return {"FINISHED"}


class AVATAR_IMPORTER_OT_refresh_options(NetworkOperator):
    """Ask the service which haircuts, outfits and other options it offers"""

    bl_idname = "avatar_importer.refresh_options"
    bl_label = "Refresh Options"

    def execute(self, context: bpy.types.Context) -> set[OperatorReturn]:
        catalogue.request_refresh(force=True)
        return {"FINISHED"}


class AVATAR_IMPORTER_OT_list_avatars(NetworkOperator):
    """List your avatars on the service"""

    bl_idname = "avatar_importer.list_avatars"
    bl_label = "Refresh My Avatars"

    page: IntProperty(default=1, min=1)  # type: ignore[valid-type]

    def execute(self, context: bpy.types.Context) -> set[OperatorReturn]:
        return _start(self, lambda: browse.refresh_avatars(self.page))


class AVATAR_IMPORTER_OT_import_avatar(NetworkOperator):
    """Import this avatar (from the cache when it was downloaded before)"""

    bl_idname = "avatar_importer.import_avatar"
    bl_label = "Import"

    code: StringProperty()  # type: ignore[valid-type]
    name: StringProperty()  # type: ignore[valid-type]
    export_code: StringProperty()  # type: ignore[valid-type]

    def execute(self, context: bpy.types.Context) -> set[OperatorReturn]:
        def go() -> None:
            engine = runtime.engine_for(runtime.preferences())
            # described as the job that made it would (Save to Library): core.asset_meta
            base_url = engine.service.base_url  # this avatar's records only: the index
            known = sources_by_code(engine.cache.jobs_for_avatar(self.code, base_url),
                                    base_url)
            listed = next((a.subtype for a in browse.avatars() if a.code == self.code), "")
            spec = spec_for_existing(self.name or self.code[:8], known.get(self.code), listed)
            engine.import_existing(self.code, spec, export_code=self.export_code or None)
            browse.take_offer(self.code)
            runtime.ensure_timer()
        return _start(self, go)


class AVATAR_IMPORTER_OT_reexport(NetworkOperator):
    """Export this avatar again with the current options (no recompute) and import it"""

    bl_idname = "avatar_importer.reexport"
    bl_label = "Re-export"

    code: StringProperty()  # type: ignore[valid-type]
    name: StringProperty()  # type: ignore[valid-type]

    def execute(self, context: bpy.types.Context) -> set[OperatorReturn]:
        params = choices(context.scene.avatar_importer).export_parameters()
        code, name = self.code, self.name or self.code[:8]

        def go() -> None:
            engine = runtime.engine_for(runtime.preferences())

            def done(export_code: Any, error: BaseException | None) -> None:
                if error is not None:
                    runtime.notify(f"Re-export of {name} failed: {error}", "ERROR")
                    return
                # the options it was exported with describe it (Save to Library)
                engine.import_existing(code, JobSpec(photo=None, name=name,
                                                     export_parameters=params),
                                       export_code=export_code)

            runtime.run_task(lambda: engine.service.reexport(code, params), done)
        return _start(self, go)


class AVATAR_IMPORTER_OT_delete_avatar(NetworkOperator):
    """Delete this avatar from the service (it cannot be undone)"""

    bl_idname = "avatar_importer.delete_avatar"
    bl_label = "Delete Avatar"

    code: StringProperty()  # type: ignore[valid-type]
    name: StringProperty()  # type: ignore[valid-type]

    def invoke(self, context: bpy.types.Context, event: Any) -> set[OperatorReturn]:
        return context.window_manager.invoke_confirm(self, event)  # type: ignore[return-value]

    def execute(self, context: bpy.types.Context) -> set[OperatorReturn]:
        code, name = self.code, self.name

        def go() -> None:
            engine = runtime.engine_for(runtime.preferences())

            def done(_result: Any, error: BaseException | None) -> None:
                if error is not None:
                    runtime.notify(f"Deleting {name} failed: {error}", "ERROR")
                else:
                    browse.refresh_avatars(browse.listing_state()[0])

            runtime.run_task(lambda: engine.service.delete_avatar(code), done)
        return _start(self, go)


class AVATAR_IMPORTER_OT_resume_job(NetworkOperator):
    """Continue this job where it stopped: no new upload, no recompute"""

    bl_idname = "avatar_importer.resume_job"
    bl_label = "Resume"

    job_id: StringProperty()  # type: ignore[valid-type]

    def execute(self, context: bpy.types.Context) -> set[OperatorReturn]:
        prefs = runtime.preferences()
        record = Cache(runtime.cache_root(prefs)).load_job(self.job_id)
        if record is None:
            self.report({"ERROR"}, "That job's record is gone")
            browse.forget_interrupted(self.job_id)
            return {"CANCELLED"}

        def go() -> None:
            runtime.engine_for(prefs).resume(record)
            runtime.ensure_timer()
            browse.forget_interrupted(self.job_id)
        return _start(self, go)


class AVATAR_IMPORTER_OT_discard_job(bpy.types.Operator):
    """Forget this unfinished job (the avatar stays on the service, under My Avatars)"""

    bl_idname = "avatar_importer.discard_job"
    bl_label = "Discard"
    bl_options = {"INTERNAL"}

    job_id: StringProperty()  # type: ignore[valid-type]

    def execute(self, context: bpy.types.Context) -> set[OperatorReturn]:
        Cache(runtime.cache_root(runtime.preferences())).forget_job(self.job_id)
        browse.forget_interrupted(self.job_id)
        return {"FINISHED"}


class AVATAR_IMPORTER_OT_open_editor(NetworkOperator):
    """Open Avaturn's editor in your browser; the avatar you make there is offered here"""

    bl_idname = "avatar_importer.open_editor"
    bl_label = "Open Avaturn Editor"

    kind: EnumProperty(items=[  # type: ignore[valid-type]
        ("create", "Create", "Make a new avatar"),
        ("edit_existing", "Edit", "Edit this avatar"),
        ("create_or_edit_existing", "Create or Edit", "Start from your avatars"),
    ], default="create_or_edit_existing")
    avatar_id: StringProperty()  # type: ignore[valid-type]

    def execute(self, context: bpy.types.Context) -> set[OperatorReturn]:
        return _start(self, lambda: browse.open_editor(self.kind, self.avatar_id or None))


class AVATAR_IMPORTER_OT_stop_watching(bpy.types.Operator):
    """Stop watching for avatars made in the browser"""

    bl_idname = "avatar_importer.stop_watching"
    bl_label = "Stop Watching"
    bl_options = {"INTERNAL"}

    def execute(self, context: bpy.types.Context) -> set[OperatorReturn]:
        browse.stop_watching()
        return {"FINISHED"}


class AVATAR_IMPORTER_OT_notify(bpy.types.Operator):
    """Show a message from a background job"""

    bl_idname = "avatar_importer.notify"
    bl_label = "Avatar Message"
    bl_options = {"INTERNAL"}

    message: StringProperty()  # type: ignore[valid-type]
    level: StringProperty(default="INFO")  # type: ignore[valid-type]

    def execute(self, context: bpy.types.Context) -> set[OperatorReturn]:
        self.report({self.level}, self.message)  # type: ignore[arg-type]
        return {"FINISHED"}


CLASSES = (
    AVATAR_IMPORTER_OT_refresh_options,
    AVATAR_IMPORTER_OT_list_avatars,
    AVATAR_IMPORTER_OT_import_avatar,
    AVATAR_IMPORTER_OT_reexport,
    AVATAR_IMPORTER_OT_delete_avatar,
    AVATAR_IMPORTER_OT_resume_job,
    AVATAR_IMPORTER_OT_discard_job,
    AVATAR_IMPORTER_OT_open_editor,
    AVATAR_IMPORTER_OT_stop_watching,
    AVATAR_IMPORTER_OT_notify,
)
