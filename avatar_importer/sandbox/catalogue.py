"""The sandbox's MetaPerson catalogue: the parameters and export parameters the service offers,
and the validation of the export parameters a client sends (:func:`export_choice`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .assets import is_safe_name, parse_profile

PIPELINE = "metaperson_2.0"
SUBTYPES = ("female", "male")

_MODEL_INFO = ["gender", "race", "age", "hair_color", "skin_color", "eye_sclera_color",
               "eye_iris_color"]
_T_BASE = ["Color", "GltfMetallicRoughness", "Normal", "Roughness", "UnityMetallicSmoothness"]
_T_OUTFIT = ["BodyVisibilityMask", "Color", "GltfMetallicRoughness", "HeadVisibilityMask",
             "Normal", "Roughness", "UnityMetallicSmoothness"]
_T_BOTTOM = ["BodyVisibilityMask", "Color", "GltfMetallicRoughness", "Metallic", "Normal",
             "Roughness", "UnityMetallicSmoothness"]
_T_SHOES = ["BodyVisibilityMask", "Color", "GltfMetallicRoughness", "Normal", "Roughness",
            "UnityMetallicSmoothness"]
_T_HAIR = ["AO", "Alpha", "Color", "Depth", "GltfMetallicRoughness", "Normal", "Root",
           "Roughness", "Scalp", "Shade", "UniqueID", "UnityMetallicSmoothness"]
_T_GLASSES = ["Color", "GltfMetallicRoughness", "Metallic", "Roughness", "UnityMetallicSmoothness"]
_PARTS = ["AvatarBody", "AvatarEyelashes", "AvatarHead", "AvatarLeftCornea", "AvatarLeftEyeball",
          "AvatarRightCornea", "AvatarRightEyeball", "AvatarTeethLower", "AvatarTeethUpper"]
_LISTS: dict[str, dict[str, list[str]]] = {
    "female": {
        "outfits_shoes": ["sneakers_ARPI", "sneakers_AZAT"],
        "outfits": ["ARPI", "CHATIN", "LORI", "dress_Shaki"],
        "outfits_bottom": ["jeans_AYGER", "jeans_SWAN", "jeans_VEDI", "shorts_Vedi"],
        "haircuts": [*sorted(f"Haircut{i}" for i in range(14)), "HaircutGenerated"],
        "outfits_top": ["hoodie_ARAS", "polo_Jil", "t-shirt_ARPI"],
    },
    "male": {  # same shape; the sandbox's own plausible lists
        "outfits_shoes": ["sneakers_ARPI", "sneakers_AZAT"],
        "outfits": ["ARPI", "CHATIN", "SWAN"],
        "outfits_bottom": ["jeans_AYGER", "jeans_SWAN", "jeans_VEDI", "shorts_Vedi"],
        "haircuts": [*sorted(f"Haircut{i}" for i in range(10)), "HaircutGenerated"],
        "outfits_top": ["hoodie_ARAS", "t-shirt_ARPI"],
    },
}


def available_parameters(subtype: str) -> dict[str, Any]:
    return {subtype: {"avatar_modifications": ["remove_smile", "remove_glasses", "remove_stubble"],
                      "model_info": list(_MODEL_INFO)}}


def available_export_parameters(subtype: str) -> dict[str, Any]:
    lists = _LISTS[subtype]
    return {
        "blendshapes": {"list": ["body_shape", "face_modifications", "mobile_51", "visemes_14",
                                 "visemes_15"]},
        "outfits_shoes": {"textures": _T_SHOES, "list": lists["outfits_shoes"]},
        "outfits": {"textures": _T_OUTFIT, "list": lists["outfits"]},
        "outfits_bottom": {"textures": _T_BOTTOM, "list": lists["outfits_bottom"]},
        "haircuts": {"textures": _T_HAIR, "list": lists["haircuts"]},
        "avatar": {"textures": _T_BASE, "list": _PARTS},
        "glasses": {"textures": _T_GLASSES, "list": [f"glasses_{i:02d}" for i in range(16)]},
        "outfits_top": {"textures": _T_OUTFIT, "list": lists["outfits_top"]},
    }


# --- export parameters ------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportChoice:
    """What one export's GLB is generated from (the cache key of generated files)."""

    subtype: str
    profile: str
    haircut: str | None
    outfit: str | None
    blendshapes: tuple[str, ...]


def _first_listed(params: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        group = params.get(key)
        if group is None:
            continue
        if not isinstance(group, dict) or not isinstance(group.get("list", []), list):
            raise ValueError(f"'{key}' must be an object with a 'list' array")
        names = group.get("list") or []
        if names:
            if not all(isinstance(n, str) for n in names):
                raise ValueError(f"'{key}.list' must hold strings")
            if not is_safe_name(names[0]):
                raise ValueError(f"'{key}.list' holds an unusable name {names[0]!r}")
            return str(names[0])
    return None


def export_choice(subtype: str, params: Any) -> ExportChoice:
    """Validate one export-parameters object; ValueError with a plain message when unusable."""
    if not isinstance(params, dict):
        raise ValueError("each export parameters item must be a JSON object")
    fmt = params.get("format", "glb")
    if fmt != "glb":
        raise ValueError(f"the sandbox only produces format 'glb' (got {fmt!r})")
    textures = params.get("textures") or {}
    if not isinstance(textures, dict):
        raise ValueError("'textures' must be an object")
    profile = textures.get("profile", "1K.png")
    parse_profile(str(profile))
    blend = params.get("blendshapes") or {}
    names = blend.get("list", []) if isinstance(blend, dict) else None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError("'blendshapes.list' must be an array of strings")
    return ExportChoice(subtype, str(profile), _first_listed(params, "haircuts"),
                        _first_listed(params, "outfits", "outfits_top"), tuple(names))
