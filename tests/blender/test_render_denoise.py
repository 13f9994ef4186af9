"""The preview render's eyes read clean: at the preview's few samples the transparent
corneas used to sparkle with white speckles over the irises (issue 11, item 10). The
preview now denoises (OpenImageDenoise, when the build has it) or, without a denoiser,
takes more samples. A raw render at the same sample count is the control: the speckle
count must see its speckles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bpy
from avatar_samples import speckles, write_sandbox_avatar

from avatar_importer.blender import compat
from avatar_importer.blender.importing.importer import import_avatar_glb
from avatar_importer.blender.importing.render import render_preview

EYE_SIZE = (240, 120)
PREVIEW_SAMPLES = 8  # render_preview's default, what --render and the demo use

def test_preview_eyes_have_no_speckles(tmp_path: Path, fault: Any) -> None:
    row = fault.row("M07", "preview render of the eyes at the preview's 8 samples",
                    "speckles at most a fifth of a raw render's (denoised, or more samples)")
    import_avatar_glb(write_sandbox_avatar(tmp_path / "sandbox"), name="Eyes")
    eyes = [o for o in bpy.data.objects if "Cornea" in o.name or "Eyeball" in o.name]
    assert len(eyes) == 4, [o.name for o in bpy.data.objects]
    scene = bpy.context.scene
    before = (scene.cycles.samples, scene.cycles.use_denoising)
    raw = render_preview(tmp_path / "raw.png", objects=eyes, size=EYE_SIZE,
                         samples=PREVIEW_SAMPLES, denoise=False)
    clean = render_preview(tmp_path / "clean.png", objects=eyes, size=EYE_SIZE,
                           samples=PREVIEW_SAMPLES)
    noisy, left = speckles(raw), speckles(clean)
    row.saw(f"speckles: raw {noisy}, preview {left}; denoiser "
            f"{compat.cycles_cpu_denoiser()}")
    assert noisy > 40, f"the control shows no speckles ({noisy}): the count sees nothing"
    assert left * 5 <= noisy, f"the preview's eyes still speckle: {left} vs raw {noisy}"
    assert (scene.cycles.samples, scene.cycles.use_denoising) == before  # restored
