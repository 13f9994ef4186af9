"""Avatars on disk for the import-quality tests (no pytest fixtures here; plain helpers).

* ``write_sandbox_avatar``: the sandbox's MetaPerson-like avatar, GLB + textures beside it.
* ``write_avaturn_avatar``: the same figure laid out like an Avaturn export: Avaturn node
  and material names (``avaturn_hair_0``, ``Eyelash_Mesh``, ``<mesh>_material``...), root
  ``Armature``, every texture embedded, every material double-sided.
* ``write_gltf``: a GLB rewritten as ``.gltf`` + ``.bin`` (+ its textures beside).
* ``read_pixels`` / ``is_magenta``: a rendered PNG as rows of RGB.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from avatar_importer.core.glb import read_glb, write_glb  # noqa: E402
from avatar_importer.sandbox.assets import build_sample_avatar  # noqa: E402

OUTFIT = "outfit_ARPI_lod2_external_textures.glb"
OUTFIT_TEXTURES = [
    "ARPI_Color_1K.jpg",
    "ARPI_LOD2_BodyVisibilityMask_1K.jpg",
    "ARPI_LOD2_HeadVisibilityMask_1K.jpg",
    "ARPI_Normal_1K.jpg",
    "ARPI_UnityMetallicSmoothness_1K.png",
]

AVATURN_NAMES = {
    "AvatarBody": "Body_Mesh",
    "AvatarHead": "Head_Mesh",
    "AvatarEyelashes": "Eyelash_Mesh",
    "AvatarLeftCornea": "avaturn_glasses_0",
    "AvatarRightCornea": "avaturn_glasses_1",
    "AvatarLeftEyeball": "Eye_Mesh",
    "AvatarRightEyeball": "Eye_Mesh_R",
    "AvatarTeethLower": "Teeth_Mesh",
    "AvatarTeethUpper": "Tongue_Mesh",
    "haircut": "avaturn_hair_0",
    "outfit": "avaturn_look_0",
    "AvatarRoot": "Armature",
}


def write_sandbox_avatar(folder: Path, **options: object) -> Path:
    """The sandbox avatar as ``folder/model.glb`` with its textures beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    sample = build_sample_avatar(**options)  # type: ignore[arg-type]
    glb = folder / "model.glb"
    glb.write_bytes(sample.glb)
    for url, data in sample.static_files.items():
        (folder / url.rsplit("/", 1)[-1]).write_bytes(data)
    return glb


def write_avaturn_avatar(folder: Path) -> Path:
    """An Avaturn-style single GLB, textures embedded (see the module docstring)."""
    source = write_sandbox_avatar(folder / "src")
    glb = read_glb(source)
    doc = glb.json
    for node in doc["nodes"]:
        if node.get("name") in AVATURN_NAMES:
            node["name"] = AVATURN_NAMES[node["name"]]
    for material in doc["materials"]:
        mesh = AVATURN_NAMES.get(material["name"], material["name"])
        material["name"] = f"{mesh}_material"
        material["doubleSided"] = True
        if mesh == "avaturn_hair_0":
            material["alphaMode"] = "BLEND"
            material.pop("alphaCutoff", None)
    for image in doc["images"]:
        data = (source.parent / image["uri"]).read_bytes()
        image["uri"] = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    out = folder / "avaturn_export.glb"
    write_glb(glb, out)
    return out


def write_gltf(glb_path: Path, folder: Path, textures_from: Path | None = None) -> Path:
    """``glb_path`` as ``folder/model.gltf`` + ``model.bin``; the external textures it
    names are copied beside it from ``textures_from`` (default: the GLB's folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    glb = read_glb(glb_path)
    doc = json.loads(json.dumps(glb.json))
    (folder / "model.bin").write_bytes(glb.bin or b"")
    doc["buffers"][0]["uri"] = "model.bin"
    source = textures_from or glb_path.parent
    for image in doc.get("images", []):
        uri = image.get("uri")
        if uri and not uri.startswith("data:"):
            (folder / uri).write_bytes((source / uri).read_bytes())
    out = folder / "model.gltf"
    out.write_text(json.dumps(doc))
    return out


def read_pixels(path: Path) -> tuple[int, int, list[tuple[float, float, float]]]:
    """Width, height and the RGB pixels (row 0 at the bottom, as Blender stores them)."""
    import bpy

    image = bpy.data.images.load(str(path))
    try:
        width, height = image.size
        flat = list(image.pixels[:])
    finally:
        bpy.data.images.remove(image)
    return width, height, [(flat[i], flat[i + 1], flat[i + 2]) for i in range(0, len(flat), 4)]


def is_magenta(pixel: tuple[float, float, float]) -> bool:
    """Blender's missing-texture colour (1, 0, 1) as it comes out of a shaded render and
    the view transform (about (0.7, 0.35, 0.7)): red and blue alike, green well below."""
    r, g, b = pixel
    return min(r, b) > 0.3 and abs(r - b) < 0.12 and g < 0.65 * min(r, b)


#: a speckle: brighter than the median of its 8 neighbours by this much (0..1)
SPECKLE_STEP = 0.12


def speckles(path: Path) -> int:
    """Pixels of a render much brighter than all around them: the white sparkle of a
    noisy transparent surface (the corneas at a preview's few samples)."""
    import numpy as np

    width, height, pixels = read_pixels(path)
    grey = np.asarray(pixels, dtype=float).max(axis=1).reshape(height, width)
    core = grey[1:-1, 1:-1]
    around = np.stack([grey[1 + dy:height - 1 + dy, 1 + dx:width - 1 + dx]
                       for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx])
    return int(np.count_nonzero(core - np.median(around, axis=0) > SPECKLE_STEP))
