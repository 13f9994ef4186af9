"""The bpy-free heart of the add-on: HTTP clients, job engine, cache, archives, GLB handling.

Nothing in this package may import ``bpy``: it runs (and is tested) in plain Python.
"""
