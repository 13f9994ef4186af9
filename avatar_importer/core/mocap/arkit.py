"""ARKit face blend shape names and how they are found among an avatar's shape keys.

Apple's ``ARFaceAnchor.BlendShapeLocation`` has 52 coefficients. Live Link Face writes them
in PascalCase (``EyeBlinkLeft``), avatars name their shape keys in camelCase
(``eyeBlinkLeft``: MetaPerson ``mobile_51``, Avaturn), and other rigs use ``_L``/``_R``
suffixes or a namespace (``blendShape1.eyeBlinkLeft``). :func:`normalize` reduces all of
these to one comparable form; :data:`ALIASES` lists the other names a channel may go by.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

#: the 52 ARKit blend shapes, camelCase, in Live Link Face's column order
ARKIT_52: tuple[str, ...] = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft",
    "eyeSquintLeft", "eyeWideLeft", "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight",
    "eyeLookOutRight", "eyeLookUpRight", "eyeSquintRight", "eyeWideRight", "jawForward",
    "jawRight", "jawLeft", "jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthRight",
    "mouthLeft", "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthPressLeft",
    "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft",
    "mouthUpperUpRight", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft",
    "browOuterUpRight", "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "noseSneerLeft",
    "noseSneerRight", "tongueOut",
)

#: Other shape-key names a channel drives (besides its own name in any case or with
#: ``_L``/``_R`` suffixes). Rigs that split a symmetric shape get both halves; a few
#: common alternative spellings. Edit here to teach the matcher a new rig.
ALIASES: dict[str, tuple[str, ...]] = {
    "browInnerUp": ("browInnerUpLeft", "browInnerUpRight"),
    "cheekPuff": ("cheekPuffLeft", "cheekPuffRight"),
    "mouthClose": ("mouthClosed",),
    "jawOpen": ("mouthOpen",),
    "tongueOut": ("tongueOutward",),
}

_SIDE_SUFFIX = re.compile(r"[_.\s-]([lr])$", re.IGNORECASE)
_SEPARATORS = re.compile(r"[_\s-]+")
_NAMESPACE = re.compile(r"^.*[.:|]")
_DUPLICATE_SUFFIX = re.compile(r"\.\d+$")  # Blender's "name.001"
_PREFIXES = ("arkit", "bs", "blendshape")


def normalize(name: str) -> str:
    """A comparable form of a blend-shape name: no namespace (``blendShape1.``, ``ARKit:``),
    no ``ARKit_``/``BS_`` prefix, ``_L``/``_R`` spelled ``left``/``right``, no separators,
    lower case. ``EyeBlinkLeft``, ``eyeBlink_L`` and ``blendShape1.eyeBlinkLeft`` all give
    ``eyeblinkleft``."""
    text = _DUPLICATE_SUFFIX.sub("", name.strip())
    side = _SIDE_SUFFIX.search(text)
    if side:
        text = text[: side.start()] + ("Left" if side.group(1).lower() == "l" else "Right")
    text = _NAMESPACE.sub("", text)
    lowered = text.lower()
    for prefix in _PREFIXES:
        for sep in ("_", "-", " "):
            if lowered.startswith(prefix + sep):
                text = text[len(prefix) + 1:]
                lowered = text.lower()
    return _SEPARATORS.sub("", text).lower()


_CANONICAL = {normalize(n): n for n in ARKIT_52}


def canonical_name(name: str) -> str | None:
    """The ARKit name (camelCase) ``name`` stands for, or None."""
    return _CANONICAL.get(normalize(name))


def match_shape_keys(channel: str, shape_keys: Iterable[str]) -> list[str]:
    """The shape keys (exact names from ``shape_keys``) that ``channel`` drives: its own
    name, case- and separator-insensitively, else its aliases."""
    keys = list(shape_keys)
    canonical = canonical_name(channel) or channel
    wanted = normalize(canonical)
    direct = [k for k in keys if normalize(k) == wanted]
    if direct:
        return direct
    aliases = {normalize(a) for a in ALIASES.get(canonical, ())}
    return [k for k in keys if normalize(k) in aliases]


def arkit_columns(header: Sequence[str]) -> dict[str, int]:
    """ARKit name -> column index, for the columns of ``header`` that are ARKit shapes."""
    found: dict[str, int] = {}
    for index, column in enumerate(header):
        name = canonical_name(column)
        if name is not None and name not in found:
            found[name] = index
    return found
