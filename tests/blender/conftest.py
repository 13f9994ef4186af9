"""Fixtures for tests that run inside real Blender (a ``bpy`` wheel venv).

Run: ``BLENDER_USER_RESOURCES=$(mktemp -d) <venv>/bin/python -m pytest tests/blender -q``.
Without ``bpy`` (plain Python) these tests are not collected at all.
"""

from __future__ import annotations

import importlib.util
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

if importlib.util.find_spec("bpy") is None:
    collect_ignore_glob = ["test_*.py"]
    bpy = None
else:
    import bpy  # imported once per process, as Blender requires

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
SAMPLES = SHARED / "samples" / "metaperson"

COUNTED = ("objects", "meshes", "materials", "images", "collections", "armatures", "actions",
           "node_groups", "textures", "shape_keys")


@pytest.fixture(autouse=True)
def empty_scene() -> Iterator[None]:
    """Every test starts from an empty factory scene."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    yield


@pytest.fixture
def samples_dir() -> Path:
    if not SAMPLES.is_dir():
        pytest.skip("the shared MetaPerson samples are not available here")
    return SAMPLES


def data_counts() -> dict[str, int]:
    """Number of datablocks per ``bpy.data`` collection, to prove nothing was left over."""
    counts = {name: len(getattr(bpy.data, name)) for name in COUNTED}
    counts["scene_objects"] = len(bpy.context.scene.objects)
    return counts


def tiny_png(rgb: tuple[int, int, int] = (200, 120, 80), size: int = 4) -> bytes:
    """A valid size x size RGB PNG of one colour."""
    row = b"\x00" + bytes(rgb) * size
    raw = row * size

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.fixture
def counts() -> object:
    """The ``data_counts`` function (fixtures avoid importing conftest by name)."""
    return data_counts


@pytest.fixture
def make_png() -> object:
    """The ``tiny_png`` function."""
    return tiny_png


@pytest.fixture
def fault(request: pytest.FixtureRequest) -> object:
    """A fault-matrix row recorder (tests/faultmatrix.py) for any Blender test module; the
    matrix module defines its own, identical one."""
    import sys
    tests = str(Path(__file__).resolve().parents[1])
    if tests not in sys.path:
        sys.path.insert(0, tests)
    import faultmatrix
    version = ".".join(str(v) for v in bpy.app.version)
    matrix = faultmatrix.install(request.config, f"bpy-{version}")
    return faultmatrix.FaultFixture(matrix, request.node.nodeid)
