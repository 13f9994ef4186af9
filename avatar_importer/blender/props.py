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
    # registered dynamically: the stubs cannot know the attribute
    setattr(bpy.types.Scene, "avatar_importer",  # noqa: B010
            bpy.props.PointerProperty(type=AVATAR_IMPORTER_PG_options))  # type: ignore[func-returns-value]


def unregister_props() -> None:
    delattr(bpy.types.Scene, "avatar_importer")
