"""The Blender layer: everything that touches ``bpy`` lives here, on the main thread."""
