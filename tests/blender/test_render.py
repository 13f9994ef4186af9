"""Preview renders in real Blender (Cycles on the CPU)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import bpy
import pytest

from avatar_importer.blender.importing.importer import import_avatar_glb
from avatar_importer.blender.importing.render import render_preview


def read_pixels(path: Path) -> list[tuple[float, float, float]]:
    image = bpy.data.images.load(str(path))
    try:
        width, height = image.size
        flat = list(image.pixels[:])
    finally:
        bpy.data.images.remove(image)
    assert len(flat) == width * height * 4
    return [(flat[i], flat[i + 1], flat[i + 2]) for i in range(0, len(flat), 4)]


def is_magenta(pixel: tuple[float, float, float]) -> bool:
    r, g, b = pixel
    return r > 0.95 and g < 0.05 and b > 0.95


@pytest.mark.parametrize("filename", ["head_lod2_female.glb", "body_lod2_male_template.glb"])
def test_render_preview_of_sample(
    samples_dir: Path, tmp_path: Path, filename: str, counts: Callable[[], dict[str, int]]
) -> None:
    result = import_avatar_glb(samples_dir / filename, name="Avatar")
    scene = bpy.context.scene
    engine, res_x = scene.render.engine, scene.render.resolution_x
    before = counts()
    objects = [bpy.data.objects[name] for name in result.objects]

    out = render_preview(tmp_path / "preview.png", objects=objects, size=(160, 120), samples=4)

    assert out == tmp_path / "preview.png"
    assert out.is_file() and out.stat().st_size > 0
    pixels = read_pixels(out)
    assert len(pixels) == 160 * 120
    assert len(set(pixels)) > 10, "the picture is uniform: the avatar is not in frame"
    assert not any(is_magenta(p) for p in pixels), "missing-texture magenta in the render"
    # the centre of the picture differs from the corner (background): the avatar is framed
    centre = pixels[60 * 160 + 80]
    corner = pixels[0]
    assert max(abs(a - b) for a, b in zip(centre, corner, strict=True)) > 0.02
    # the user's scene is as it was (Blender keeps its "Render Result" image, as after F12)
    after = counts()
    after["images"] -= 1 if "Render Result" in bpy.data.images else 0
    assert after == before
    assert scene.camera is None and scene.world is None
    assert (scene.render.engine, scene.render.resolution_x) == (engine, res_x)


def test_render_preview_defaults_to_visible_meshes(samples_dir: Path, tmp_path: Path) -> None:
    import_avatar_glb(samples_dir / "head_lod2_male.glb", name="Avatar")
    out = render_preview(tmp_path / "sub" / "p.png")
    pixels = read_pixels(out)
    assert len(pixels) == 320 * 240
    assert len(set(pixels)) > 10


def test_render_preview_needs_something_to_frame(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Nothing to render"):
        render_preview(tmp_path / "p.png")
