"""Avaturn-style sample GLBs for the sandbox, generated in memory (standard library only).

Two layouts, both read off the vendor's documented exports (docs/service-apis.md section 2):

``classic``
    root node ``Armature`` holding the skeleton root ``Hips`` and one skinned mesh node per
    part: ``avaturn_body`` (body and head in one mesh, no shape keys), ``avaturn_hair_0``,
    ``avaturn_hair_1``, ``avaturn_look_0`` (outfit), ``avaturn_shoes_0``.
``split_head``
    the newer layout: the head is split off the body. ``Head_Mesh`` (ARKit + viseme shape
    keys), ``Teeth_Mesh`` (``jawOpen``), ``Tongue_Mesh`` (``jawOpen``, ``tongueOut``),
    ``Eye_Mesh`` (both eyeballs), ``Eyelash_Mesh``, ``Body_Mesh``; the hair, outfit and shoe
    meshes of the classic layout come along unchanged (our choice: assets do not depend on
    how the head is cut).

Common to both:

* skeleton: the Mixamo bone names without a prefix (:data:`AVATURN_JOINTS`, 54 joints: Hips,
  Spine, Spine1, Spine2, Neck, Head, LeftEye/RightEye, per side Shoulder, Arm, ForeArm, Hand,
  three joints for each of the five fingers, UpLeg, Leg, Foot, ToeBase). No ``*_End`` leaf
  joints. Joints carry translations only, so the bind pose is the T-pose; metres, Y-up, the
  figure faces +Z;
* every material is named ``<mesh>_material`` and is double-sided; ``avaturn_hair_0`` is
  ``alphaMode: MASK`` (cutoff 0.5), ``avaturn_hair_1`` and ``Eyelash_Mesh`` are ``BLEND``;
* textures are EMBEDDED: each image is a PNG in a ``bufferView`` with ``mimeType``;
* shape keys (``mesh.extras.targetNames``) on ``Head_Mesh``: :data:`ARKIT_52` (the 51 ARKit
  names of MetaPerson's ``mobile_51`` plus ``tongueOut``, alphabetical: Avaturn documents
  full ARKit support, and ARKit has 52) followed by :data:`OCULUS_VISEMES` (the 15 Oculus
  visemes with the ``viseme_`` prefix, Oculus order).

``body_type`` ``female`` gives the slimmer, shorter figure of :mod:`.assets`, ``male`` the
taller one. The skeleton, part meshes, morph targets, texture painters and GLB writing are
those of the MetaPerson-like sample (:mod:`.skeleton`, :mod:`.body_parts`,
:mod:`.morph_targets`, :mod:`.textures`, :mod:`.glb`), shared, not copied: the 73-joint
MetaPerson skeleton is reduced to the Avaturn joints and every vertex is skinned to its
nearest kept ancestor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .body_parts import (
    add_eye,
    add_head,
    body_mesh,
    eyelashes_mesh,
    haircut_mesh,
    outfit_mesh,
    teeth_mesh,
)
from .geometry import Mesh, box
from .glb import SkinnedGlb, parse_glb
from .morph_targets import ARKIT_MOBILE_51, target_deltas
from .skeleton import FINGERS, Figure, Joint, figure
from .textures import paint_texture, palette

__all__ = [
    "ARKIT_52",
    "AVATURN_JOINTS",
    "CLASSIC_MESHES",
    "LAYOUTS",
    "OCULUS_VISEMES",
    "SPLIT_HEAD_MESHES",
    "build_avaturn_glb",
    "mesh_target_names",
    "parse_glb",
]

LAYOUTS = ("classic", "split_head")
BODY_TYPES = ("male", "female")

ARKIT_52: tuple[str, ...] = (*ARKIT_MOBILE_51, "tongueOut")
OCULUS_VISEMES: tuple[str, ...] = tuple(
    f"viseme_{v}" for v in ("sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR",
                            "aa", "E", "I", "O", "U"))
TEETH_TARGETS: tuple[str, ...] = ("jawOpen",)
TONGUE_TARGETS: tuple[str, ...] = ("jawOpen", "tongueOut")

def _side_joints(side: str) -> list[str]:
    arm = [f"{side}Shoulder", f"{side}Arm", f"{side}ForeArm", f"{side}Hand"]
    fingers = [f"{side}Hand{f}{k}" for f in FINGERS for k in (1, 2, 3)]
    return arm + fingers


AVATURN_JOINTS: tuple[str, ...] = (
    "Hips", "Spine", "Spine1", "Spine2", "Neck", "Head", "LeftEye", "RightEye",
    *_side_joints("Left"), *_side_joints("Right"),
    *(f"{s}{p}" for s in ("Left", "Right") for p in ("UpLeg", "Leg", "Foot", "ToeBase")),
)

_ASSET_MESHES = ("avaturn_hair_0", "avaturn_hair_1", "avaturn_look_0", "avaturn_shoes_0")
CLASSIC_MESHES: tuple[str, ...] = ("avaturn_body", *_ASSET_MESHES)
SPLIT_HEAD_MESHES: tuple[str, ...] = (
    "Head_Mesh", "Teeth_Mesh", "Tongue_Mesh", "Eye_Mesh", "Eyelash_Mesh", "Body_Mesh",
    *_ASSET_MESHES)

@dataclass
class _Part:
    name: str
    mesh: Mesh
    color: tuple[str, tuple[int, int, int]]  # paint_texture style (textures.py), rgb
    alpha: dict[str, Any] = field(default_factory=dict)  # alphaMode / alphaCutoff
    targets: Sequence[str] = ()
    roughness: float = 0.8


def mesh_target_names(layout: str) -> dict[str, list[str]]:
    """Mesh name -> its morph target names, for ``layout`` (tests and docs)."""
    if layout == "classic":
        return {}
    return {"Head_Mesh": [*ARKIT_52, *OCULUS_VISEMES], "Teeth_Mesh": list(TEETH_TARGETS),
            "Tongue_Mesh": list(TONGUE_TARGETS)}


def _reduced_skeleton(full: list[Joint]) -> tuple[list[Joint], list[int]]:
    """The Avaturn joints of the MetaPerson skeleton (parents re-linked to the nearest kept
    ancestor) and, for every full-skeleton index, the reduced index it is skinned to."""
    names = [name for name, _, _ in full]
    missing = set(AVATURN_JOINTS) - set(names)
    if missing:
        raise AssertionError(f"skeleton lacks {sorted(missing)}")
    kept: dict[int, int] = {}
    reduced: list[Joint] = []
    for i, (name, _, pos) in enumerate(full):
        if name in AVATURN_JOINTS:
            kept[i] = len(reduced)
            reduced.append((name, -1, pos))
    remap: list[int] = []
    for i in range(len(full)):
        j = i
        while j not in kept:
            j = full[j][1]
        remap.append(kept[j])
    for i, index in kept.items():
        parent = full[i][1]
        if parent >= 0:
            name, _, pos = reduced[index]
            reduced[index] = (name, remap[parent], pos)
    return reduced, remap


def _eyes(fig: Figure) -> Mesh:
    m = Mesh()
    for side in ("Left", "Right"):
        add_eye(m, fig, side, 0.012, 0.0)
    return m


def _tongue(fig: Figure) -> Mesh:
    m = Mesh()
    cx, cy, cz = fig.head_center
    box(m, (cx - 0.014, cy - 0.062, cz + 0.02), (cx + 0.014, cy - 0.054, cz + 0.058),
        fig.j("Head"))
    return m


def _shoes(fig: Figure) -> Mesh:
    m = Mesh()
    for side in ("Left", "Right"):
        foot, toe_end = fig.pos[f"{side}Foot"], fig.pos[f"{side}Toe_End"]
        box(m, (foot[0] - 0.05, -0.005, foot[2] - 0.058),
            (foot[0] + 0.05, foot[1] + 0.04, toe_end[2] + 0.01), fig.j(f"{side}Foot"))
    return m


def _hair(fig: Figure, scale: float) -> Mesh:
    m = haircut_mesh(fig)
    cx, cy, cz = fig.head_center
    m.positions = [(cx + (x - cx) * scale, cy + (y - cy) * scale, cz + (z - cz) * scale)
                   for x, y, z in m.positions]
    return m


def _parts(layout: str, fig: Figure, female: bool) -> list[_Part]:
    skin = (224, 176, 148) if female else (198, 150, 118)
    hair = (92, 58, 36) if female else (46, 36, 30)
    look = palette("avaturn_look_0" + ("f" if female else "m"),
                   ((142, 52, 64), (52, 86, 140), (64, 112, 82), (90, 70, 120)))
    assets = [
        _Part("avaturn_hair_0", _hair(fig, 1.0), ("hair", hair),
              {"alphaMode": "MASK", "alphaCutoff": 0.5}),
        _Part("avaturn_hair_1", _hair(fig, 1.04), ("hair", hair), {"alphaMode": "BLEND"}),
        _Part("avaturn_look_0", outfit_mesh(fig, female), ("cloth", look), roughness=0.9),
        _Part("avaturn_shoes_0", _shoes(fig), ("cloth", (40, 40, 44)), roughness=0.6),
    ]
    if layout == "classic":
        return [_Part("avaturn_body", add_head(body_mesh(fig, female), fig), ("skin", skin)),
                *assets]
    targets = mesh_target_names(layout)
    return [
        _Part("Head_Mesh", add_head(Mesh(), fig), ("head", skin),
              targets=targets["Head_Mesh"]),
        _Part("Teeth_Mesh", teeth_mesh(fig, upper=True), ("flat", (236, 230, 214)),
              targets=targets["Teeth_Mesh"], roughness=0.3),
        _Part("Tongue_Mesh", _tongue(fig), ("flat", (196, 96, 104)),
              targets=targets["Tongue_Mesh"], roughness=0.4),
        _Part("Eye_Mesh", _eyes(fig), ("eye", (74, 104, 136)), roughness=0.1),
        _Part("Eyelash_Mesh", eyelashes_mesh(fig), ("lashes", (22, 16, 12)),
              {"alphaMode": "BLEND"}),
        _Part("Body_Mesh", body_mesh(fig, female), ("skin", skin)),
        *assets,
    ]


def build_avaturn_glb(layout: str = "classic", *, body_type: str = "male",
                      texture_px: int = 64) -> bytes:
    """An Avaturn-style GLB (textures embedded) in ``layout`` for ``body_type``."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown Avaturn layout {layout!r} (expected one of {LAYOUTS})")
    if body_type not in BODY_TYPES:
        raise ValueError(f"unknown body type {body_type!r} (expected 'male' or 'female')")
    female = body_type == "female"
    full, fig = figure(female)
    skeleton, remap = _reduced_skeleton(full)
    parts = _parts(layout, fig, female)

    out = SkinnedGlb("Armature", skeleton, skin_name="Armature")
    for part in parts:
        style, rgb = part.color
        image = out.embed_png(f"{part.name}_color", paint_texture(style, rgb, texture_px))
        material = {
            "name": f"{part.name}_material", "doubleSided": True, **part.alpha,
            "pbrMetallicRoughness": {"baseColorTexture": {"index": image},
                                     "metallicFactor": 0.0,
                                     "roughnessFactor": part.roughness},
        }
        out.add_mesh(part.name, part.mesh, material, [remap[j] for j in part.mesh.joints],
                     part.targets, target_deltas(part.mesh, part.targets, fig))
    return out.glb("avatar_importer sandbox (Avaturn-style)", scene_name="Scene")
