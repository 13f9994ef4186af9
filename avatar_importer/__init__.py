"""Avatar Importer: turn a photo into a rigged, textured avatar in the scene.

Avatar SDK MetaPerson 2.0 (and a local sandbox). The package's ``core`` and ``sandbox``
never import Blender; everything that does lives in ``blender``.
"""

bl_info = {
    "name": "Avatar Importer",
    "author": "avatar_importer developers",
    "version": (0, 1, 0),
    "blender": (3, 4, 0),
    "location": "3D Viewport > Sidebar > Avatar",
    "description": "Create avatars from photos (Avatar SDK MetaPerson 2.0) and import them",
    "category": "Import-Export",
}


def register() -> None:
    from .blender import registration

    registration.register()


def unregister() -> None:
    from .blender import registration

    registration.unregister()
