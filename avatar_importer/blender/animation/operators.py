"""The Animate section's settings and operators: load a body animation, a face capture or a
lip-sync file onto the active avatar, save the bone map as a preset.

``execute`` reads only the local file the user picked (no network). Each operator applies
through :func:`apply.apply_animation_files`, so bad input changes nothing and the error is
reported in the panel's result line and Blender's status bar.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bpy
from bpy.props import EnumProperty, FloatProperty, IntProperty, StringProperty
from bpy_extras.io_utils import ImportHelper

from ...core.errors import AvatarImporterError
from ...core.mocap import bonemaps
from ...core.mocap.livelink import ChannelSettings, FaceOptions
from ...core.mocap.rhubarb import load_viseme_map
from . import apply
from .avatar import active_avatar

if TYPE_CHECKING:
    from bpy.stub_internal.rna_enums import OperatorReturnItems as OperatorReturn
else:
    OperatorReturn = str

AUTO = "AUTO"


def presets_folder() -> Path:
    """Where bone-map presets are saved: ``bone_maps`` in the add-on's cache root (the
    extension's user folder when installed as one)."""
    from ..importing.file_import import default_cache
    return default_cache() / "bone_maps"


def preset_names() -> list[tuple[str, str]]:
    """(identifier, label) of the built-in families then the user's saved presets, as
    last read by :func:`refresh_presets` (no I/O here: the panel's draw calls this)."""
    out = [(name, label) for name, label in bonemaps.FAMILY_LABELS.items()
           if name in bonemaps.FAMILIES]
    return out + [(name, name) for name in _USER_PRESETS]


def refresh_presets() -> None:
    """Read the saved presets' names (at registration, before the file browser opens for
    a body animation, and after a save)."""
    names: list[str] = []
    with contextlib.suppress(OSError):  # an unreadable folder must not break the panel
        names = bonemaps.list_presets(_cached_folder())
    _USER_PRESETS[:] = names


_USER_PRESETS: list[str] = []
_FOLDER: list[Path] = []


def _cached_folder() -> Path:
    """The presets folder, resolved once (``draw`` and enum callbacks must stay cheap)."""
    if not _FOLDER:
        _FOLDER.append(presets_folder())
    return _FOLDER[0]


_ENUM_CACHE: list[tuple[str, str, str]] = []


def _preset_items(_self: Any, _context: Any) -> list[tuple[str, str, str]]:
    # Blender keeps only the strings of the list returned last alive: hold a reference
    _ENUM_CACHE[:] = [(AUTO, "Automatic", "Detect the source and target bone families")]
    _ENUM_CACHE.extend((n, label, f"Bone map: {label}") for n, label in preset_names())
    return _ENUM_CACHE


class AVATAR_IMPORTER_PG_animate(bpy.types.PropertyGroup):
    preset: EnumProperty(name="Bone Map", items=_preset_items,  # type: ignore[valid-type]
                         description="Bone map from the animation's skeleton to the avatar's")
    face_gain: FloatProperty(name="Gain", default=1.0, soft_min=0.0,  # type: ignore[valid-type]
                             soft_max=2.0, description="Face capture: every channel "
                             "multiplied by this")
    face_smoothing: IntProperty(name="Smoothing", default=0, min=0,  # type: ignore[valid-type]
                                soft_max=15, description="Face capture: moving average over "
                                "this many captured frames (0: none)")
    viseme_map: StringProperty(name="Viseme Map", subtype="FILE_PATH",  # type: ignore[valid-type]
                               description="Lip-sync: your own cue-to-viseme table (JSON); "
                               "empty: the built-in one")
    last_error: StringProperty(name="Last Error")  # type: ignore[valid-type]


def _run(op: Any, context: Any, **files: Any) -> set[OperatorReturn]:
    props = context.scene.avatar_importer_animate
    armature = active_avatar(context)
    try:
        extra: dict[str, Any] = {}
        if "face_capture" in files:
            extra["face_options"] = FaceOptions(default=ChannelSettings(
                gain=props.face_gain, smoothing=props.face_smoothing))
        if "lipsync" in files and props.viseme_map:
            extra["viseme_map"] = load_viseme_map(Path(bpy.path.abspath(props.viseme_map)))
        if "animation" in files:
            extra["user_presets"] = _cached_folder()
            if props.preset != AUTO:
                extra["preset"] = props.preset
        report = apply.apply_animation_files(armature, **files, **extra)
    except AvatarImporterError as exc:
        props.last_error = str(exc)
        op.report({"ERROR"}, str(exc))
        return {"CANCELLED"}
    props.last_error = ""
    op.report({"INFO"}, "; ".join(report["summary"]))
    return {"FINISHED"}


class _AvatarFileOperator(bpy.types.Operator, ImportHelper):  # type: ignore[misc]
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if active_avatar(context) is None:
            cls.poll_message_set("Select an avatar (its armature or one of its meshes)")
            return False
        return True


class AVATAR_IMPORTER_OT_load_animation(_AvatarFileOperator):
    """Retarget a body animation (BVH, or FBX such as a Mixamo download) onto the avatar"""

    bl_idname = "avatar_importer.load_animation"
    bl_label = "Body Animation"
    filename_ext = ".bvh"
    filter_glob: StringProperty(default="*.bvh;*.fbx", options={"HIDDEN"})  # type: ignore[valid-type]

    def invoke(self, context: bpy.types.Context, event: Any) -> set[OperatorReturn]:  # type: ignore[override]
        refresh_presets()
        return super().invoke(context, event)  # type: ignore[no-any-return]

    def execute(self, context: bpy.types.Context) -> set[OperatorReturn]:
        return _run(self, context, animation=self.filepath)  # type: ignore[attr-defined]


class AVATAR_IMPORTER_OT_load_face_capture(_AvatarFileOperator):
    """Play a Live Link Face take (CSV) on the avatar's ARKit shape keys, head and eyes"""

    bl_idname = "avatar_importer.load_face_capture"
    bl_label = "Face Capture"
    filename_ext = ".csv"
    filter_glob: StringProperty(default="*.csv", options={"HIDDEN"})  # type: ignore[valid-type]

    def execute(self, context: bpy.types.Context) -> set[OperatorReturn]:
        return _run(self, context, face_capture=self.filepath)  # type: ignore[attr-defined]


class AVATAR_IMPORTER_OT_load_lipsync(_AvatarFileOperator):
    """Key the avatar's visemes from Rhubarb Lip Sync output (TSV or JSON)"""

    bl_idname = "avatar_importer.load_lipsync"
    bl_label = "Lip-sync"
    filename_ext = ".tsv"
    filter_glob: StringProperty(default="*.tsv;*.json", options={"HIDDEN"})  # type: ignore[valid-type]

    def execute(self, context: bpy.types.Context) -> set[OperatorReturn]:
        return _run(self, context, lipsync=self.filepath)  # type: ignore[attr-defined]


class AVATAR_IMPORTER_OT_save_bone_map(bpy.types.Operator):
    """Save the bone map of the avatar's last body animation as a preset"""

    bl_idname = "avatar_importer.save_bone_map"
    bl_label = "Save Bone Map Preset"
    bl_options = {"REGISTER"}
    name: StringProperty(name="Preset Name")  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        report = apply.stored_report(active_avatar(context))
        if not report or not (report.get("body") or {}).get("mapped"):
            cls.poll_message_set("Apply a body animation first")
            return False
        return True

    def invoke(self, context: bpy.types.Context, event: Any) -> set[OperatorReturn]:
        return context.window_manager.invoke_props_dialog(self)  # type: ignore[no-any-return]

    def execute(self, context: bpy.types.Context) -> set[OperatorReturn]:
        body = (apply.stored_report(active_avatar(context)) or {}).get("body") or {}
        name = self.name.strip()
        try:
            path = bonemaps.save_preset(_cached_folder(), bonemaps.Preset(
                name=name, source_family=str(body.get("source_family") or "custom"),
                target_family=str(body.get("target_family") or "custom"),
                map=dict(body.get("mapped") or {})))
        except AvatarImporterError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        except OSError as exc:
            self.report({"ERROR"}, f"Could not save the preset: {exc.strerror or exc}")
            return {"CANCELLED"}
        refresh_presets()
        context.scene.avatar_importer_animate.preset = name
        self.report({"INFO"}, f"Bone map saved as {name} ({path.name})")
        return {"FINISHED"}


CLASSES: tuple[type, ...] = (
    AVATAR_IMPORTER_PG_animate,
    AVATAR_IMPORTER_OT_load_animation,
    AVATAR_IMPORTER_OT_load_face_capture,
    AVATAR_IMPORTER_OT_load_lipsync,
    AVATAR_IMPORTER_OT_save_bone_map,
)


def register_props() -> None:
    _FOLDER.clear()
    refresh_presets()
    setattr(bpy.types.Scene, "avatar_importer_animate",  # noqa: B010
            bpy.props.PointerProperty(type=AVATAR_IMPORTER_PG_animate))  # type: ignore[func-returns-value]


def unregister_props() -> None:
    delattr(bpy.types.Scene, "avatar_importer_animate")
