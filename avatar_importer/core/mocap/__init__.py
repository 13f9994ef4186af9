"""Motion data read without Blender: BVH files, bone maps and their presets, results."""
