"""Realistic sizes for the benchmark: the sandbox's static textures of a texture profile
(1K/2K/4K x png/jpg/webp) made once at their real pixel sizes (texture_gen.py, in a bpy
venv) and kept per profile in a cache folder, and export parameters asking for that
profile. No ``bpy`` here."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from avatar_importer.core.params import default_export_parameters
from avatar_importer.sandbox.assets import build_sample_avatar
from avatar_importer.sandbox.server import export_choice

from .common import ROOT

GENERATOR = Path(__file__).resolve().parent / "texture_gen.py"


def texture_cache_root() -> Path:
    base = os.environ.get("AVATAR_IMPORTER_BENCH_TEXTURES")
    return Path(base) if base else Path.home() / ".cache" / "avatar_importer" / "bench-textures"


def export_parameters(profile: str) -> dict[str, Any]:
    params = copy.deepcopy(default_export_parameters())
    params["textures"]["profile"] = profile
    return params


def profile_textures(profile: str, subtype: str = "female") -> list[str]:
    """File names of the static textures an export with ``profile`` uses."""
    choice = export_choice(subtype, export_parameters(profile))
    sample = build_sample_avatar(choice.subtype, profile=choice.profile, haircut=choice.haircut,
                                 outfit=choice.outfit, blendshapes=choice.blendshapes)
    return sorted(path.rsplit("/", 1)[-1] for path in sample.static_files)


def ensure_textures(profile: str, bpy_python: str, subtype: str = "female") -> Path:
    """The folder of ``profile``'s textures at real sizes, generated on first use."""
    folder = texture_cache_root() / profile
    wanted = profile_textures(profile, subtype)
    missing = [name for name in wanted if not (folder / name).is_file()]
    if missing:
        print(f"[bench] generating {len(missing)} {profile} textures in {folder} (once)",
              file=sys.stderr, flush=True)
        subprocess.run([bpy_python, str(GENERATOR), str(folder), *missing], check=True,
                       cwd=ROOT, stdout=subprocess.DEVNULL)
    return folder


def texture_bytes(folder: Path, profile: str, subtype: str = "female") -> int:
    return sum((folder / name).stat().st_size for name in profile_textures(profile, subtype))
