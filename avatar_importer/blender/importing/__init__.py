"""Bringing an avatar into the scene: glTF import, materials, tidy-up, File > Import."""
