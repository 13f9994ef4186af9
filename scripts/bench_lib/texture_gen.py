"""Static textures at their real pixel sizes and formats, for the sandbox (benchmark only).

    <bpy venv>/bin/python scripts/bench_lib/texture_gen.py OUT_DIR NAME [NAME ...]

Writes each ``NAME`` (a static texture's file name, e.g. ``AvatarBodyFemale_Color_2K.jpg``)
into ``OUT_DIR`` unless it is there already: the pixel size its name announces (512, 1K, 2K,
4K), encoded in the format its extension names (PNG, JPEG quality 90, WebP quality 90), with
photo-like content: a base colour per kind of map, smooth variation at several scales and
a fine grain, so that it compresses like a real texture rather than a flat colour.

Why here and not in the sandbox: the sandbox is standard library only, and JPEG/WebP
encoding needs an image library. Blender has one, and numpy; the benchmark needs a bpy venv
anyway. Files are written atomically (temporary name, then rename), so an interrupted run
leaves no half file; the caller keeps OUT_DIR per profile as a cache.
"""

from __future__ import annotations

import os
import sys
import zlib
from pathlib import Path

import bpy  # type: ignore[import-not-found]
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from avatar_importer.sandbox.textures import resolution_of  # noqa: E402

FORMATS = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "webp": "WEBP"}


def _smooth(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """A size x size field in -1..1 varying smoothly over ``cells`` cells (bilinear)."""
    grid = rng.uniform(-1.0, 1.0, (cells + 1, cells + 1)).astype(np.float32)
    pos = np.linspace(0.0, cells, size, dtype=np.float32)
    i0 = np.minimum(pos.astype(np.int32), cells - 1)
    frac = pos - i0
    weights = np.zeros((size, cells + 1), dtype=np.float32)
    weights[np.arange(size), i0] = 1.0 - frac
    weights[np.arange(size), i0 + 1] = frac
    return weights @ grid @ weights.T


def photo_like(name: str, size: int) -> np.ndarray:
    """RGBA float32 pixels (bottom row first, as Blender stores them) for texture ``name``."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    detail = sum(_smooth(rng, size, cells) * amp
                 for cells, amp in ((4, 0.5), (16, 0.3), (64, 0.2)))
    grain = rng.standard_normal((size, size), dtype=np.float32)
    lower = name.lower()
    out = np.empty((size, size, 4), dtype=np.float32)
    out[..., 3] = 1.0
    if "mask" in lower:  # a visibility mask: two flat areas, as real ones are
        out[..., :3] = 1.0
        out[: size // 3, :, :3] = 0.0
        return out
    if "normal" in lower:
        base, spread, fine = (0.5, 0.5, 1.0), 0.05, 0.02
    elif "metallic" in lower or "roughness" in lower:
        base, spread, fine = (0.0, 0.6, 0.0), 0.15, 0.03
    else:  # a colour map: a tint per part, detail and grain like a photograph
        tint = zlib.crc32(name.split("_")[0].encode())
        base = (0.35 + (tint & 0xFF) / 600, 0.3 + ((tint >> 8) & 0xFF) / 700,
                0.25 + ((tint >> 16) & 0xFF) / 800)
        spread, fine = 0.12, 0.04
    for channel, value in enumerate(base):
        out[..., channel] = value + detail * spread + grain * fine
    if any(k in lower for k in ("haircut", "hair", "eyelashes")) and "color" in lower:
        strands = _smooth(rng, size, 128)
        out[..., 3] = np.clip(0.7 + strands * 2.0, 0.0, 1.0)
    np.clip(out, 0.0, 1.0, out=out)
    return out


def write_texture(out_dir: Path, name: str) -> Path:
    target = out_dir / name
    if target.is_file():
        return target
    size = resolution_of(name)
    ext = name.rsplit(".", 1)[-1].lower()
    if size is None or ext not in FORMATS:
        raise SystemExit(f"texture_gen: cannot tell the size or format of {name!r}")
    pixels = photo_like(name, size)
    has_alpha = bool((pixels[..., 3] < 1.0).any())
    image = bpy.data.images.new(f"gen_{name}", size, size, alpha=has_alpha)
    try:
        image.pixels.foreach_set(pixels.ravel())
        partial = out_dir / f".{name}.part.{os.getpid()}.{ext}"
        image.filepath_raw = str(partial)
        image.file_format = FORMATS[ext]
        if has_alpha and FORMATS[ext] != "JPEG":
            image.alpha_mode = "STRAIGHT"
        image.save(quality=90)
        os.replace(partial, target)
    finally:
        bpy.data.images.remove(image)
    return target


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    out_dir = Path(argv[0])
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in argv[1:]:
        path = write_texture(out_dir, name)
        print(f"{path.name} {path.stat().st_size}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
