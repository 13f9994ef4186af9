"""The import settings offered in two places (the Avatar tab and File > Import): one
definition each, so both say the same thing."""

from __future__ import annotations

from typing import Any

from bpy.props import BoolProperty


def pack_textures() -> Any:
    return BoolProperty(
        name="Pack Textures", default=True,
        description="Pack the textures into the .blend. Off: reference the files (use "
        "File > External Data > Make Avatar Textures Portable before moving the .blend)")


def at_cursor() -> Any:
    return BoolProperty(
        name="Place at 3D Cursor", default=False,
        description="Put the avatar at the 3D cursor instead of the world origin")


def transparent_bounces() -> Any:
    return BoolProperty(
        name="Raise Transparent Bounces", default=True,
        description="When the avatar has hair, raise Cycles' transparent bounces (never "
        "lower them) so stacked hair cards render")
