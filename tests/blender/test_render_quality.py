"""What the user sees: Cycles CPU renders of imported avatars.

* No pixel has the missing-texture magenta (and the check does see it when textures are
  missing).
* The eyes are not covered by the corneas: inside the visible eye area (the pixels that
  change when the eyeballs are hidden too), a render with the corneas differs little from
  one without them, while an opaque cornea (the control) differs a lot.

The pictures are kept under artifacts/renders/<Blender version>/ (gitignored) for a look.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import bpy
import pytest
from avatar_samples import OUTFIT, is_magenta, read_pixels, write_sandbox_avatar

from avatar_importer.blender.importing.file_import import import_avatar_file
from avatar_importer.blender.importing.importer import import_avatar_glb
from avatar_importer.blender.importing.render import render_preview

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "renders" / f"bpy-{bpy.app.version_string.split()[0]}"
EYE_SIZE = (240, 120)
EYE_SAMPLES = 16
#: mean per-pixel change (max over RGB) inside the visible eye area
CLEAR_LIMIT = 0.10
OPAQUE_MINIMUM = 0.14

Pixels = list[tuple[float, float, float]]


def keep(path: Path) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, ARTIFACTS / path.name)
    return path


def render(tmp: Path, name: str, **kwargs: object) -> Pixels:
    out = render_preview(tmp / f"{name}.png", **kwargs)  # type: ignore[arg-type]
    keep(out)
    return read_pixels(out)[2]


def change(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    return max(abs(x - y) for x, y in zip(a, b, strict=True))


def named(prefix: str) -> list[bpy.types.Object]:
    return [o for o in bpy.data.objects if o.name.startswith(prefix)]


def make_opaque_grey(corneas: list[bpy.types.Object]) -> None:
    """The failure this test guards against: a cornea drawn as an opaque grey surface."""
    for cornea in corneas:
        mat = cornea.active_material
        tree = mat.node_tree
        tree.nodes.clear()
        output = tree.nodes.new("ShaderNodeOutputMaterial")
        bsdf = tree.nodes.new("ShaderNodeBsdfPrincipled")
        bsdf.inputs["Base Color"].default_value = (0.5, 0.5, 0.5, 1.0)
        tree.links.new(bsdf.outputs[0], output.inputs["Surface"])


def eye_check(tmp: Path, tag: str) -> tuple[float, float, int]:
    """(mean change with the corneas shown, with opaque corneas, eye-area pixel count)."""
    eyes = named("AvatarLeftEyeball") + named("AvatarRightEyeball")
    corneas = named("AvatarLeftCornea") + named("AvatarRightCornea")
    assert len(eyes) == 2 and len(corneas) == 2, [o.name for o in bpy.data.objects]
    opts = {"objects": eyes, "size": EYE_SIZE, "samples": EYE_SAMPLES}
    shown = render(tmp, f"{tag}_eyes_corneas_shown", **opts)
    hidden = render(tmp, f"{tag}_eyes_corneas_hidden", hide=corneas, **opts)
    bare = render(tmp, f"{tag}_eyes_all_hidden", hide=corneas + eyes, **opts)
    area = [i for i in range(len(shown)) if change(hidden[i], bare[i]) > 0.1]
    make_opaque_grey(corneas)
    opaque = render(tmp, f"{tag}_eyes_corneas_opaque_control", **opts)

    def mean(pixels: Pixels) -> float:
        return sum(change(pixels[i], hidden[i]) for i in area) / max(len(area), 1)

    return mean(shown), mean(opaque), len(area)


def test_sandbox_avatar_render(tmp_path: Path) -> None:
    glb = write_sandbox_avatar(tmp_path / "sandbox")
    result = import_avatar_glb(glb, name="Sandbox")
    assert bpy.context.scene.cycles.transparent_max_bounces >= 64  # it has hair
    objects = [bpy.data.objects[n] for n in result.objects]
    pixels = render(tmp_path, "sandbox_full", objects=objects, size=(180, 240), samples=8)
    assert len(set(pixels)) > 50
    assert not [p for p in pixels if is_magenta(p)], "missing-texture magenta in the render"
    head = named("AvatarHead") + named("haircut")
    pixels = render(tmp_path, "sandbox_head", objects=head, size=(200, 200), samples=16)
    assert not [p for p in pixels if is_magenta(p)]

    shown, opaque, area = eye_check(tmp_path, "sandbox")
    assert area > 200, "the eyes are not in the picture"
    assert shown < CLEAR_LIMIT, f"the corneas cover the eyes (mean change {shown:.3f})"
    assert opaque > OPAQUE_MINIMUM, f"the control does not register ({opaque:.3f})"


@pytest.mark.parametrize("filename", ["head_lod2_female.glb", "head_lod2_male.glb"])
def test_real_sample_render(samples_dir: Path, tmp_path: Path, filename: str) -> None:
    tag = filename.removesuffix(".glb")
    result = import_avatar_file(samples_dir / filename, cache_root=tmp_path / "cache")
    assert result.missing_images == []
    pixels = render(tmp_path, f"{tag}_head", objects=named("AvatarHead"), size=(200, 200),
                    samples=8)
    assert len(set(pixels)) > 50
    assert not [p for p in pixels if is_magenta(p)], "missing-texture magenta in the render"

    shown, opaque, area = eye_check(tmp_path, tag)
    assert area > 200, "the eyes are not in the picture"
    assert shown < CLEAR_LIMIT, f"the corneas cover the eyes (mean change {shown:.3f})"
    assert opaque > OPAQUE_MINIMUM, f"the control does not register ({opaque:.3f})"


def test_magenta_check_sees_missing_textures(
    samples_dir: Path, tmp_path: Path, counts: Callable[[], dict[str, int]]
) -> None:
    """The control for the magenta assertions: a render with missing textures has it."""
    result = import_avatar_file(samples_dir / OUTFIT, cache_root=tmp_path / "cache")
    assert len(result.missing_images) == 5
    objects = [bpy.data.objects[n] for n in result.objects]
    pixels = render(tmp_path, "outfit_missing_textures", objects=objects, size=(120, 120),
                    samples=4)
    assert sum(1 for p in pixels if is_magenta(p)) > 100
