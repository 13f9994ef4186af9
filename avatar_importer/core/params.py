"""Default computation and export parameters: the curl tutorial's two files."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from .errors import InputError

SEED_PARAMETERS: dict[str, Any] = {
    "avatar_modifications": {"remove_smile": True, "remove_glasses": True},
}

SEED_EXPORT_PARAMETERS: dict[str, Any] = {
    "format": "glb",
    "lod": "LOD1",
    "embed": True,
    "textures": {
        "list": ["Color", "Normal", "GltfMetallicRoughness", "BodyVisibilityMask",
                 "HeadVisibilityMask"],
        "embed": True,
        "profile": "1K.png",
    },
    "avatar": {
        "list": ["AvatarBody", "AvatarEyelashes", "AvatarHead", "AvatarLeftCornea",
                 "AvatarLeftEyeball", "AvatarRightCornea", "AvatarRightEyeball",
                 "AvatarTeethLower", "AvatarTeethUpper"],
    },
    "blendshapes": {"list": ["face_modifications", "body_shape", "mobile_51"]},
    "haircuts": {"list": ["HaircutGenerated"]},
    "outfits": {"list": ["LORI"]},
}


def default_parameters() -> dict[str, Any]:
    return copy.deepcopy(SEED_PARAMETERS)


def default_export_parameters() -> dict[str, Any]:
    return copy.deepcopy(SEED_EXPORT_PARAMETERS)


def load_json_file(path: Path, what: str) -> dict[str, Any]:
    """Read a parameters file, with a message naming the file and the problem."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{what} file {path} cannot be read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise InputError(f"{what} file {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{what} file {path} must hold a JSON object")
    if what.lower().startswith("export") and data.get("format", "glb") != "glb":
        raise InputError(f"{what} file {path}: only \"format\": \"glb\" can be imported")
    return data
