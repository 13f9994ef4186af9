"""Add-on preferences: credentials and settings. Stored in Blender's user preferences,
never in a .blend (no secret goes into scene, object or window-manager data)."""

from __future__ import annotations

import bpy
from bpy.props import EnumProperty, FloatProperty, StringProperty

from ..runtime import ADDON_ID, cache_root
from . import browse

SERVICE_ITEMS = [
    ("avatarsdk", "Avatar SDK MetaPerson 2.0", "Create avatars with the Avatar SDK Web API"),
    ("avaturn", "Avaturn", "Create avatars in Avaturn's editor or from photos"),
    ("sandbox", "Sandbox (MetaPerson)", "A local emulator of Avatar SDK: no account, no "
     "network"),
    ("sandbox_avaturn", "Sandbox (Avaturn)", "A local emulator of Avaturn: no account, no "
     "network"),
]


class AVATAR_IMPORTER_AP_preferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_ID

    service: EnumProperty(name="Service", items=SERVICE_ITEMS,  # type: ignore[valid-type]
                          default="sandbox")
    client_id: StringProperty(name="Client ID",  # type: ignore[valid-type]
                              description="Avatar SDK App Client ID (Client credentials)")
    client_secret: StringProperty(name="Client Secret",  # type: ignore[valid-type]
                                  subtype="PASSWORD",
                                  description="Avatar SDK App Client Secret")
    base_url: StringProperty(name="Base URL",  # type: ignore[valid-type]
                             default="https://api.avatarsdk.com/")
    player_id: StringProperty(name="Player ID",  # type: ignore[valid-type]
                              description="Created on first use and kept; your avatars "
                              "are listed under it")
    avaturn_token: StringProperty(name="API Token",  # type: ignore[valid-type]
                                  subtype="PASSWORD",
                                  description="Avaturn project API token")
    avaturn_base_url: StringProperty(name="Base URL",  # type: ignore[valid-type]
                                     default="https://api.avaturn.me/")
    avaturn_user_id: StringProperty(name="User ID",  # type: ignore[valid-type]
                                    description="Avaturn user made on first use and kept; "
                                    "your avatars belong to it")
    cache_dir: StringProperty(name="Cache Directory",  # type: ignore[valid-type]
                              subtype="DIR_PATH",
                              description="Leave empty for the default per-user cache")
    library_dir: StringProperty(name="Library Folder",  # type: ignore[valid-type]
                                subtype="DIR_PATH",
                                description="Asset library for Save to Library and Back "
                                "Up All: one .blend per avatar (add it under File Paths > "
                                "Asset Libraries to browse it)")
    poll_interval: FloatProperty(name="Poll Interval", default=5.0,  # type: ignore[valid-type]
                                 min=1.0, max=60.0, unit="TIME_ABSOLUTE")
    timeout: FloatProperty(name="Network Timeout", default=0.0,  # type: ignore[valid-type]
                           min=0.0, max=600.0, unit="TIME_ABSOLUTE",
                           description="0 uses Blender's network timeout "
                           "(Preferences > System > Network), else 60 s")
    sandbox_compute_seconds: FloatProperty(  # type: ignore[valid-type]
        name="Sandbox Compute Time", default=3.0, min=0.0, max=120.0)

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.prop(self, "service")
        box = layout.box()
        box.label(text="Avatar SDK")
        box.prop(self, "client_id")
        box.prop(self, "client_secret")
        box.prop(self, "base_url")
        row = box.row(align=True)
        row.prop(self, "player_id")
        row.operator("avatar_importer.reset_player", text="", icon="X")
        box = layout.box()
        box.label(text="Avaturn")
        box.prop(self, "avaturn_token")
        box.prop(self, "avaturn_base_url")
        row = box.row(align=True)
        row.prop(self, "avaturn_user_id")
        row.operator("avatar_importer.reset_player", text="", icon="X")
        box = layout.box()
        box.prop(self, "cache_dir")
        browse.request_cache_size()
        row = box.row()
        row.label(text=f"Cache: {cache_root(self, create=False)} ({browse.cache_size_text()})")
        row.operator("avatar_importer.clear_cache", icon="TRASH")
        box = layout.box()
        box.prop(self, "library_dir")
        if not self.library_dir.strip():
            box.label(text="Empty: Save to Library and Back Up All are off", icon="INFO")
        layout.prop(self, "poll_interval")
        layout.prop(self, "timeout")
        layout.prop(self, "sandbox_compute_seconds")
