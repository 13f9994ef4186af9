"""Per-scene options of the Avatar tab. Nothing secret lives here (it is saved in .blend)."""

from __future__ import annotations

from typing import Any

import bpy
from bpy.props import BoolProperty, EnumProperty, StringProperty

from ...core.options import BLENDSHAPE_SETS, LODS, MODIFICATIONS, PROFILES, AvatarChoices
from ..importing import import_props
from . import browse, catalogue


def _photo_changed(self: Any, _context: Any) -> None:
    browse.load_photo_preview(self.photo)


class AVATAR_IMPORTER_PG_options(bpy.types.PropertyGroup):
    photo: StringProperty(name="Photo", subtype="FILE_PATH",  # type: ignore[valid-type]
                          description="A clear, front-facing photo (JPEG or PNG)",
                          update=_photo_changed)
    side_photo_1: StringProperty(name="Side Photo 1",  # type: ignore[valid-type]
                                 subtype="FILE_PATH",
                                 description="Avaturn: the head turned to one side")
    side_photo_2: StringProperty(name="Side Photo 2",  # type: ignore[valid-type]
                                 subtype="FILE_PATH",
                                 description="Avaturn: the head turned to the other side")
    telephoto: BoolProperty(name="Telephoto Lens",  # type: ignore[valid-type]
                            description="Avaturn: the photos were taken zoomed in")
    avatar_name: StringProperty(name="Name",  # type: ignore[valid-type]
                                description="Defaults to the photo's file name")
    subtype: EnumProperty(name="Body", default="female",  # type: ignore[valid-type]
                          items=[("female", "Female", ""), ("male", "Male", "")])
    lod: EnumProperty(name="Detail", default="LOD1",  # type: ignore[valid-type]
                      items=[(v, v, "LOD1 detailed, LOD2 light") for v in LODS])
    profile: EnumProperty(name="Textures", default="1K.png",  # type: ignore[valid-type]
                          items=[(v, v.replace(".", " "), "") for v in PROFILES])
    haircut: EnumProperty(name="Haircut",  # type: ignore[valid-type]
                          items=catalogue.enum_items("haircuts"))
    outfit_mode: EnumProperty(name="Outfit", default="WHOLE",  # type: ignore[valid-type]
                              items=[("WHOLE", "Whole Outfit", ""),
                                     ("PARTS", "Top, Bottom, Shoes", "")])
    outfit: EnumProperty(name="Outfit",  # type: ignore[valid-type]
                         items=catalogue.enum_items("outfits"))
    outfit_top: EnumProperty(name="Top",  # type: ignore[valid-type]
                             items=catalogue.enum_items("outfits_top"))
    outfit_bottom: EnumProperty(name="Bottom",  # type: ignore[valid-type]
                                items=catalogue.enum_items("outfits_bottom"))
    outfit_shoes: EnumProperty(name="Shoes",  # type: ignore[valid-type]
                               items=catalogue.enum_items("outfits_shoes"))
    glasses: EnumProperty(name="Glasses",  # type: ignore[valid-type]
                          items=catalogue.enum_items("glasses"))
    shapes_mobile_51: BoolProperty(name="ARKit (mobile_51)",  # type: ignore[valid-type]
                                   default=True)
    shapes_visemes_14: BoolProperty(name="Visemes 14")  # type: ignore[valid-type]
    shapes_visemes_15: BoolProperty(name="Visemes 15", default=True)  # type: ignore[valid-type]
    shapes_face_modifications: BoolProperty(  # type: ignore[valid-type]
        name="Face Modifications")
    shapes_body_shape: BoolProperty(name="Body Shape")  # type: ignore[valid-type]
    remove_smile: BoolProperty(name="Remove Smile", default=True)  # type: ignore[valid-type]
    remove_glasses: BoolProperty(name="Remove Glasses",  # type: ignore[valid-type]
                                 default=True)
    remove_stubble: BoolProperty(name="Remove Stubble")  # type: ignore[valid-type]
    at_cursor: import_props.at_cursor()  # type: ignore[valid-type]
    pack_textures: import_props.pack_textures()  # type: ignore[valid-type]
    raise_bounces: import_props.transparent_bounces()  # type: ignore[valid-type]


def choices(opts: Any) -> AvatarChoices:
    """The panel's options as the service's parameters."""
    return AvatarChoices(
        lod=opts.lod, profile=opts.profile, haircut=opts.haircut,
        outfit_mode=opts.outfit_mode, outfit=opts.outfit, outfit_top=opts.outfit_top,
        outfit_bottom=opts.outfit_bottom, outfit_shoes=opts.outfit_shoes,
        glasses=opts.glasses,
        blendshapes=[b for b in BLENDSHAPE_SETS if getattr(opts, f"shapes_{b}")],
        modifications=[m for m in MODIFICATIONS if getattr(opts, m)],
    )


def register_props() -> None:
    # registered dynamically: the stubs cannot know the attribute
    setattr(bpy.types.Scene, "avatar_importer",  # noqa: B010
            bpy.props.PointerProperty(type=AVATAR_IMPORTER_PG_options))  # type: ignore[func-returns-value]


def unregister_props() -> None:
    delattr(bpy.types.Scene, "avatar_importer")
