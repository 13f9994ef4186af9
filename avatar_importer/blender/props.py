"""Per-scene options of the Avatar tab. Nothing secret lives here (it is saved in .blend)."""

from __future__ import annotations

import bpy
from bpy.props import EnumProperty, StringProperty


class AVATAR_IMPORTER_PG_options(bpy.types.PropertyGroup):
    photo: StringProperty(name="Photo", subtype="FILE_PATH",  # type: ignore[valid-type]
                          description="A clear, front-facing photo (JPEG or PNG)")
    avatar_name: StringProperty(name="Name",  # type: ignore[valid-type]
                                description="Defaults to the photo's file name")
    subtype: EnumProperty(name="Body", default="female",  # type: ignore[valid-type]
                          items=[("female", "Female", ""), ("male", "Male", "")])


def register_props() -> None:
    bpy.types.Scene.avatar_importer = bpy.props.PointerProperty(
        type=AVATAR_IMPORTER_PG_options)


def unregister_props() -> None:
    del bpy.types.Scene.avatar_importer
