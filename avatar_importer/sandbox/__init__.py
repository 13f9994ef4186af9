"""Loopback emulator of the avatar services, for tests, the demo and users without an account.

Standard library only, so it also runs inside Blender's own Python. Never imports ``bpy``.
"""
