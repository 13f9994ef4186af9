"""The avatar options a user picks, and the export/computation parameters they become.

The service's discovery calls (available parameters / export parameters) give the lists;
when they cannot be fetched (offline, first start) the built-in catalogue below, taken
from the curl tutorial's female lists, stands in.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from .params import SEED_EXPORT_PARAMETERS

LODS = ("LOD1", "LOD2")
PROFILES = tuple(f"{res}.{ext}" for res in ("1K", "2K", "4K") for ext in ("png", "jpg", "webp"))
BLENDSHAPE_SETS = ("mobile_51", "visemes_14", "visemes_15", "face_modifications", "body_shape")
MODIFICATIONS = ("remove_smile", "remove_glasses", "remove_stubble")
NONE = "NONE"

FALLBACK_EXPORT_CATALOGUE: dict[str, list[str]] = {
    "haircuts": ["HaircutGenerated", *(f"Haircut{i}" for i in range(14))],
    "outfits": ["ARPI", "CHATIN", "LORI", "dress_Shaki"],
    "outfits_top": ["hoodie_ARAS", "polo_Jil", "t-shirt_ARPI"],
    "outfits_bottom": ["jeans_AYGER", "jeans_SWAN", "jeans_VEDI", "shorts_Vedi"],
    "outfits_shoes": ["sneakers_ARPI", "sneakers_AZAT"],
    "glasses": [f"glasses_{i:02d}" for i in range(16)],
    "blendshapes": list(BLENDSHAPE_SETS),
}
FALLBACK_MODIFICATIONS = list(MODIFICATIONS)


def catalogue_from_service(export_params: dict[str, Any]) -> dict[str, list[str]]:
    """The lists of the export-parameter discovery answer, falling back per category."""
    out: dict[str, list[str]] = {}
    for key, fallback in FALLBACK_EXPORT_CATALOGUE.items():
        entry = export_params.get(key)
        names = entry.get("list") if isinstance(entry, dict) else None
        out[key] = [str(n) for n in names] if isinstance(names, list) and names else fallback
    return out


def modifications_from_service(params: dict[str, Any], subtype: str) -> list[str]:
    entry = params.get(subtype, params)
    mods = entry.get("avatar_modifications") if isinstance(entry, dict) else None
    if isinstance(mods, dict):  # grouped form
        mods = [n for group in mods.values() if isinstance(group, list) for n in group]
    return [str(m) for m in mods] if isinstance(mods, list) and mods else FALLBACK_MODIFICATIONS


@dataclass
class AvatarChoices:
    lod: str = "LOD1"
    profile: str = "1K.png"
    haircut: str = "HaircutGenerated"
    outfit_mode: str = "WHOLE"  # WHOLE (one outfit) or PARTS (top/bottom/shoes)
    outfit: str = "LORI"
    outfit_top: str = NONE
    outfit_bottom: str = NONE
    outfit_shoes: str = NONE
    glasses: str = NONE
    blendshapes: list[str] = field(default_factory=lambda: ["mobile_51", "visemes_15"])
    modifications: list[str] = field(default_factory=lambda: ["remove_smile",
                                                              "remove_glasses"])

    def export_parameters(self) -> dict[str, Any]:
        params = copy.deepcopy(SEED_EXPORT_PARAMETERS)
        params["lod"] = self.lod if self.lod in LODS else "LOD1"
        params["textures"]["profile"] = self.profile if self.profile in PROFILES else "1K.png"
        for key in ("haircuts", "outfits", "outfits_top", "outfits_bottom", "outfits_shoes",
                    "glasses"):
            params.pop(key, None)
        if self.haircut != NONE:
            params["haircuts"] = {"list": [self.haircut]}
        if self.outfit_mode == "WHOLE":
            if self.outfit != NONE:
                params["outfits"] = {"list": [self.outfit]}
        else:
            for key, value in (("outfits_top", self.outfit_top),
                               ("outfits_bottom", self.outfit_bottom),
                               ("outfits_shoes", self.outfit_shoes)):
                if value != NONE:
                    params[key] = {"list": [value]}
        if self.glasses != NONE:
            params["glasses"] = {"list": [self.glasses]}
        params["blendshapes"] = {"list": [b for b in self.blendshapes if b in BLENDSHAPE_SETS]}
        return params

    def parameters(self) -> dict[str, Any]:
        mods = {m: True for m in self.modifications if m in MODIFICATIONS}
        return {"avatar_modifications": mods} if mods else {}
