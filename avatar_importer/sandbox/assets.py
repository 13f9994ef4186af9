"""The sandbox's sample avatar: a MetaPerson-like GLB and its static textures, made in memory.

Nothing binary is stored in the repository: ``build_sample_avatar`` generates, deterministically,
a low-poly standing figure laid out like a MetaPerson 2.0 export:

* root node ``AvatarRoot``; a 73-joint skeleton from ``Hips`` with MetaPerson joint names;
  joints carry translations only (no rotations), so the bind pose is the T-pose itself;
* one skinned mesh node per part (``AvatarBody``, ``AvatarHead``, ``AvatarEyelashes``, corneas,
  eyeballs, teeth, plus ``haircut`` and ``outfit`` when asked), one material per part named
  like the node; metres, Y-up, facing +Z, about 1.72 m (female) or 1.80 m (male) tall;
* ``AvatarHead`` carries morph targets named in ``mesh.extras.targetNames``: ``mobile_51`` (the
  ARKit names without ``tongueOut``, alphabetical) then the visemes. ``visemes_15`` is
  ``CH DD E FF PP RR SS TH aa ih kk nn oh ou sil``; ``visemes_14`` is the same without ``sil``
  (our choice: the 15th viseme is the silence pose). ``face_modifications`` and ``body_shape``
  add nothing here;
* textures are NOT embedded: every image has a relative ``uri`` (a unique basename) and the
  file itself is a static resource ``/static_resources/metaperson_2.0/textures/<category>/
  <Part>/<Part>_<Kind>_<res>.<ext>``, returned in ``SampleAvatar.static_files``.

The pieces live in skeleton.py, geometry.py, body_parts.py, morph_targets.py, textures.py and
glb.py (shared with the Avaturn-style generator, avaturn_assets.py); this module assembles them
and re-exports the public names tests and the server use.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .body_parts import (
    add_head,
    body_mesh,
    eye_meshes,
    eyelashes_mesh,
    haircut_mesh,
    outfit_mesh,
    teeth_mesh,
)
from .geometry import Mesh
from .glb import SkinnedGlb, parse_glb
from .morph_targets import ARKIT_MOBILE_51, VISEMES_15, shape_key_names, target_deltas
from .png import png_bytes
from .skeleton import Figure, Joint, figure
from .textures import (
    CLOTH,
    NORMAL_FLAT,
    build_thumbnail,
    metal_rough,
    paint_texture,
    palette,
    textures_for_glb,
    write_photos,
)

__all__ = [
    "ARKIT_MOBILE_51",
    "STATIC_TEXTURES_PREFIX",
    "VISEMES_15",
    "SampleAvatar",
    "build_sample_avatar",
    "build_thumbnail",
    "parse_glb",
    "parse_profile",
    "png_bytes",
    "shape_key_names",
    "textures_for_glb",
    "write_photos",
]

STATIC_TEXTURES_PREFIX = "/static_resources/metaperson_2.0/textures"

_PROFILE_RE = re.compile(r"^(1K|2K|4K)\.(png|jpg|webp)$")
_SAFE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")


@dataclass(frozen=True)
class SampleAvatar:
    glb: bytes  # a valid glTF 2.0 binary
    # key: URL path of the static resource; value: the file's bytes (always PNG data)
    static_files: dict[str, bytes] = field(default_factory=dict)


def parse_profile(profile: str) -> tuple[str, str]:
    """``"1K.png"`` -> ``("1K", "png")``; ValueError for anything but 1K|2K|4K x png|jpg|webp."""
    match = _PROFILE_RE.match(profile)
    if not match:
        raise ValueError(f"unknown texture profile {profile!r} (expected e.g. '1K.png')")
    return match.group(1), match.group(2)


# --- the avatar -----------------------------------------------------------------------------


@dataclass
class _Part:
    node: str
    mesh: Mesh
    textures: dict[str, str] = field(default_factory=dict)  # slot -> image basename
    extra: dict[str, Any] = field(default_factory=dict)  # extra material fields
    targets: list[str] = field(default_factory=list)


def is_safe_name(name: str) -> bool:
    """A plain file-name-safe identifier: haircut and outfit names become file and URL parts."""
    return _SAFE_NAME_RE.fullmatch(name) is not None


def _safe_name(name: str) -> str:
    if not is_safe_name(name):
        raise ValueError(f"asset name {name!r} is not a plain file-name-safe identifier")
    return name


def build_sample_avatar(
    subtype: str = "female", *, profile: str = "1K.png",
    haircut: str | None = "HaircutGenerated", outfit: str | None = "LORI",
    blendshapes: Sequence[str] = ("mobile_51", "visemes_15"), texture_px: int = 64,
) -> SampleAvatar:
    """A MetaPerson-like GLB (textures referenced by relative URIs) and its static textures."""
    if subtype not in ("female", "male"):
        raise ValueError(f"unknown pipeline subtype {subtype!r} (expected 'female' or 'male')")
    res, ext = parse_profile(profile)
    female = subtype == "female"
    sub = "Female" if female else "Male"
    skeleton, fig = figure(female)

    # static textures: (category, group, kind, res, style); the bytes are always PNG, the file
    # name carries the profile's extension, except colour maps with alpha (eyelashes, hair),
    # which stay .png as in real exports
    skin = (224, 176, 148) if female else (198, 150, 118)
    hair_rgb = (92, 58, 36) if female else (46, 36, 30)
    static: dict[str, bytes] = {}
    images: list[str] = []

    def texture(category: str, group: str, kind: str, r: str, style: tuple[str, Any],
                file_ext: str | None = None) -> str:
        basename = f"{group}_{kind}_{r}.{file_ext or ext}"
        path = f"{STATIC_TEXTURES_PREFIX}/{category}/{group}/{basename}"
        if path not in static:
            static[path] = paint_texture(style[0], style[1], texture_px)
            images.append(basename)
        return basename

    def pbr(category: str, group: str, r: str, color: tuple[str, Any], normal_kind: str,
            roughness: int, color_ext: str | None = None) -> dict[str, str]:
        return {
            "baseColor": texture(category, group, "Color", r, color, color_ext),
            "normal": texture(category, group, normal_kind, r, NORMAL_FLAT),
            "metallicRoughness": texture(category, group, "GltfMetallicRoughness", r,
                                         metal_rough(roughness)),
        }

    body_tex = pbr("avatar", f"AvatarBody{sub}", res, ("skin", skin), "Normal1", 170)
    head_tex = pbr("avatar", f"AvatarHead{sub}", res, ("head", skin), "Normal1", 160)
    eyes_tex = pbr("avatar", "AvatarEyes", "512", ("eye", (74, 104, 136)), "Normal", 30)
    teeth_tex = pbr("avatar", "AvatarTeeth", res, ("flat", (236, 230, 214)), "Normal1", 70)
    lashes_tex = {"baseColor": texture("avatar", "AvatarEyelashes", "Color", "512",
                                       ("lashes", (22, 16, 12)), "png")}
    blend = {"alphaMode": "BLEND"}
    cornea = {"alphaMode": "BLEND", "pbrMetallicRoughness": {"baseColorFactor": [1, 1, 1, 0],
              "metallicFactor": 0, "roughnessFactor": 0.05}}

    head_mesh = add_head(Mesh(), fig)
    corneas = eye_meshes(fig, 0.0125, 0.0015)
    eyeballs = eye_meshes(fig, 0.012, 0.0)
    parts = [
        _Part("AvatarBody", body_mesh(fig, female), body_tex),
        _Part("AvatarHead", head_mesh, head_tex, targets=shape_key_names(blendshapes)),
        _Part("AvatarEyelashes", eyelashes_mesh(fig), lashes_tex, {**blend, "doubleSided": True}),
        _Part("AvatarLeftCornea", corneas["Left"], {}, cornea),
        _Part("AvatarRightCornea", corneas["Right"], {}, cornea),
        _Part("AvatarLeftEyeball", eyeballs["Left"], eyes_tex),
        _Part("AvatarRightEyeball", eyeballs["Right"], eyes_tex),
        _Part("AvatarTeethLower", teeth_mesh(fig, upper=False), teeth_tex),
        _Part("AvatarTeethUpper", teeth_mesh(fig, upper=True), teeth_tex),
    ]
    if haircut:
        group = _safe_name(haircut)
        tex = pbr("haircuts", group, res, ("hair", hair_rgb), "Normal", 140, "png")
        extra = {"alphaMode": "MASK", "alphaCutoff": 0.5, "doubleSided": True}
        parts.append(_Part("haircut", haircut_mesh(fig), tex, extra))
    if outfit:
        group = _safe_name(outfit)
        tex = pbr("outfits", group, res, ("cloth", palette(group, CLOTH)), "Normal", 220)
        # like real outfits: a body visibility mask image that no material samples
        texture("outfits", group, "BodyVisibilityMask", res, ("flat", (255, 255, 255)))
        parts.append(_Part("outfit", outfit_mesh(fig, female), tex, {"doubleSided": True}))
    return SampleAvatar(glb=_write_glb(skeleton, parts, images, fig), static_files=static)


def _write_glb(skeleton: list[Joint], parts: list[_Part], images: list[str],
               fig: Figure) -> bytes:
    out = SkinnedGlb("AvatarRoot", skeleton)
    image_index = {name: i for i, name in enumerate(images)}
    for part in parts:
        mat: dict[str, Any] = {"name": part.node}
        pbr_block: dict[str, Any] = {"metallicFactor": 1.0, "roughnessFactor": 1.0}
        if "baseColor" in part.textures:
            pbr_block["baseColorTexture"] = {"index": image_index[part.textures["baseColor"]]}
        if "metallicRoughness" in part.textures:
            mr = image_index[part.textures["metallicRoughness"]]
            pbr_block["metallicRoughnessTexture"] = {"index": mr}
        else:
            pbr_block["metallicFactor"] = 0.0
        if "normal" in part.textures:
            mat["normalTexture"] = {"index": image_index[part.textures["normal"]]}
        mat["pbrMetallicRoughness"] = pbr_block
        for key, value in part.extra.items():
            if key == "pbrMetallicRoughness":
                pbr_block.update(value)
            else:
                mat[key] = value
        out.add_mesh(part.node, part.mesh, mat, part.mesh.joints, part.targets,
                     target_deltas(part.mesh, part.targets, fig), name_primitive=True)
    out.images = [{"uri": name} for name in images]
    return out.glb("avatar_importer sandbox")
