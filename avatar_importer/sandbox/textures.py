"""The sample avatars' images: PNG texture painters by style (cached), the portrait thumbnail,
and placeholder textures for the images a GLB references by file name."""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from .glb import parse_glb
from .png import png_bytes

Rgba = tuple[int, int, int, int]


def _noise(x: int, y: int, seed: int) -> int:
    """A small deterministic per-pixel jitter in -6..6."""
    h = (x * 73856093 ^ y * 19349663 ^ seed * 83492791) & 0xFFFF
    return h % 13 - 6


def _clamp(v: float) -> int:
    return max(0, min(255, int(v)))


@lru_cache(maxsize=512)
def paint_texture(style: str, color: tuple[int, int, int], size: int) -> bytes:
    """PNG bytes for one texture style; cached because every avatar reuses them."""
    r0, g0, b0 = color
    seed = zlib.crc32(f"{style}{color}".encode())

    def flat(_x: int, _y: int) -> Rgba:
        return (r0, g0, b0, 255)

    def tinted(x: int, y: int) -> Rgba:
        n = _noise(x, y, seed)
        return (_clamp(r0 + n), _clamp(g0 + n), _clamp(b0 + n), 255)

    def head(x: int, y: int) -> Rgba:
        u, v = (x + 0.5) / size, (y + 0.5) / size
        if ((u - 0.5) / 0.05) ** 2 + ((v - 0.663) / 0.016) ** 2 <= 1.0:
            return (178, 86, 88, 255)  # lips
        if abs(abs(u - 0.5) - 0.067) < 0.035 and abs(v - 0.466) < 0.008:
            return (84, 58, 42, 255)  # eyebrows
        return tinted(x, y)

    def hair(x: int, y: int) -> Rgba:
        n = _noise(x, 0, seed) * 2
        strand = 255 if (y < size * 0.8 or (x // 2) % 2 == 0) else 0  # wispy lower edge
        return (_clamp(r0 + n), _clamp(g0 + n), _clamp(b0 + n), strand)

    def lashes(x: int, y: int) -> Rgba:
        return (r0, g0, b0, 230 if x % 2 == 0 else 90)

    def eye(x: int, y: int) -> Rgba:
        d = math.hypot((x + 0.5) / size - 0.5, (y + 0.5) / size - 0.5)
        if d < 0.045:
            return (12, 10, 10, 255)  # pupil
        if d < 0.11:
            return (r0, g0, b0, 255)  # iris
        return (236, 232, 228, 255)

    def cloth(x: int, y: int) -> Rgba:
        stripe = 10 if (y // max(1, size // 16)) % 2 else -10
        return (_clamp(r0 + stripe), _clamp(g0 + stripe), _clamp(b0 + stripe), 255)

    styles: dict[str, Callable[[int, int], Rgba]] = {
        "flat": flat, "skin": tinted, "head": head, "hair": hair, "lashes": lashes,
        "eye": eye, "cloth": cloth,
    }
    return png_bytes(size, size, styles[style])


NORMAL_FLAT = ("flat", (128, 128, 255))


def metal_rough(roughness: int) -> tuple[str, tuple[int, int, int]]:
    # glTF packs roughness in G and metalness in B
    return ("flat", (255, roughness, 0))


def palette(name: str, options: Sequence[tuple[int, int, int]]) -> tuple[int, int, int]:
    return options[zlib.crc32(name.encode()) % len(options)]


CLOTH = ((142, 52, 64), (52, 86, 140), (64, 112, 82), (196, 170, 120), (90, 70, 120))


def build_thumbnail(seed: str, size: int = 64) -> bytes:
    """A PNG portrait placeholder: a head and shoulders over a background coloured by ``seed``."""
    h = zlib.crc32(seed.encode("utf-8"))
    bg = (80 + h % 120, 80 + (h >> 8) % 120, 80 + (h >> 16) % 120)
    skin, shirt = (224, 176, 148), palette(seed, CLOTH)

    def pixel(x: int, y: int) -> Rgba:
        u, v = (x + 0.5) / size, (y + 0.5) / size
        if ((u - 0.5) / 0.2) ** 2 + ((v - 0.4) / 0.25) ** 2 <= 1.0:
            return (*skin, 255)
        if v > 0.72 and ((u - 0.5) / 0.42) ** 2 + ((v - 1.05) / 0.35) ** 2 <= 1.0:
            return (*shirt, 255)
        return (*bg, 255)

    return png_bytes(size, size, pixel)


def write_photos(folder: Path, count: int, prefix: str = "face", digits: int = 2,
                 size: int = 32) -> list[Path]:
    """``count`` distinct placeholder portraits ``folder/<prefix><i>.png`` (``i`` zero-padded
    to ``digits``), for tests and benchmarks that need many photos."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(count):
        path = folder / f"{prefix}{i:0{digits}d}.png"
        path.write_bytes(build_thumbnail(f"{prefix}{i}", size))
        out.append(path)
    return out


def _is_plain_file_name(uri: str) -> bool:
    return bool(uri) and not any(c in uri for c in "/\\:") and uri not in (".", "..")


def textures_for_glb(glb: bytes, static_prefix: str, *, texture_px: int = 64) -> dict[str, bytes]:
    """A placeholder PNG for each ``images[].uri`` of ``glb`` that is a plain relative file name,
    keyed by ``f"{static_prefix}/{uri}"``. Data URIs, paths and URLs are left out."""
    doc, _ = parse_glb(glb)
    out: dict[str, bytes] = {}
    prefix = static_prefix.rstrip("/")
    for image in doc.get("images", []):
        uri = image.get("uri")
        if not isinstance(uri, str) or not _is_plain_file_name(uri):
            continue
        lower = uri.lower()
        if "normal" in lower:
            style: tuple[str, Any] = NORMAL_FLAT
        elif any(k in lower for k in ("metallic", "roughness", "smoothness")):
            style = metal_rough(180)
        elif any(k in lower for k in ("mask", "alpha")):
            style = ("flat", (255, 255, 255))
        else:
            style = ("cloth", palette(uri, CLOTH))
        out[f"{prefix}/{uri}"] = paint_texture(style[0], style[1], texture_px)
    return out


# --- textures at real sizes ---------------------------------------------------------------

#: pixel size of each texture resolution named in file names (``<Part>_<Kind>_<res>.<ext>``)
RESOLUTION_PIXELS = {"512": 512, "1K": 1024, "2K": 2048, "4K": 4096}


def resolution_of(basename: str) -> int | None:
    """Pixel size a static texture's file name announces (``..._2K.jpg`` -> 2048), or None."""
    stem = basename.rsplit(".", 1)[0]
    return RESOLUTION_PIXELS.get(stem.rsplit("_", 1)[-1])


def from_folder(static: dict[str, bytes], folder: Path | None) -> dict[str, bytes]:
    """``static`` (URL path -> bytes) with each file found by its basename in ``folder``
    served instead of the small generated one: how the sandbox serves textures of real
    pixel sizes and formats (made once per profile by scripts/bench_lib/texture_gen.py,
    which needs a bpy venv for JPEG/WebP encoding). Files not in the folder stay small."""
    if folder is None:
        return static
    out = dict(static)
    for path in static:
        candidate = Path(folder) / path.rsplit("/", 1)[-1]
        if candidate.is_file():
            out[path] = candidate.read_bytes()
    return out
