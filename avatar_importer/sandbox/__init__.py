"""Loopback emulator of the avatar services, for tests, the demo and users without an account.

Standard library only, so it also runs inside Blender's own Python. Never imports ``bpy``.
"""

from .assets import SampleAvatar, build_sample_avatar, build_thumbnail, textures_for_glb
from .faults import Faults
from .server import RequestRecord, Sandbox, SandboxConfig

__all__ = [
    "Faults",
    "RequestRecord",
    "SampleAvatar",
    "Sandbox",
    "SandboxConfig",
    "build_sample_avatar",
    "build_thumbnail",
    "textures_for_glb",
]
