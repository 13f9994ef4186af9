"""Bone maps between skeleton families, detected from bone names, and user presets.

A *family* is a naming convention for a humanoid skeleton. Each family's table maps the
project's canonical slots (``hips``, ``upper_arm.L``, ``index2.R``...) to that family's bone
names (data tables, not code branches, as Rigify does). ``bone_map(source, target)`` joins
two tables on the slots. Families:

``mixamo``
    Mixamo downloads (FBX, and BVH converted from them): ``mixamorig:Hips``... The
    namespace prefix varies (``mixamorig:``, ``mixamorig1:``, ``mixamorig_``): names are
    matched without it (:func:`normalize`).
``bvh_cmu``
    CMU-style BVH: ``Hips``, ``LHipJoint``, ``LeftUpLeg``, ``LeftLeg``, ``LeftFoot``,
    ``LowerBack``, ``Spine``, ``Spine1``, ``Neck``, ``Neck1``, ``Head``, ``LThumb``...
``bvh_classic``
    the older Biovision-style names: ``Hips``, ``Chest``, ``LeftCollar``, ``LeftShoulder``
    (upper arm), ``LeftElbow``, ``LeftWrist``, ``LeftHip``, ``LeftKnee``, ``LeftAnkle``.
``metaperson``
    MetaPerson 2.0 (73 joints: Mixamo names without prefix plus ``Neck1``/``Neck2``,
    ``ForeArm1``/``ForeArm2`` twist bones, four joints per finger, ``*_End`` leaves).
``avaturn`` / ``avaturn_split_head``
    Avaturn exports: Mixamo names without prefix, 54 joints, no ``*_End`` leaves. Both
    layouts share the skeleton; only the meshes tell them apart (``Head_Mesh``).

User presets are JSON files in a folder the caller owns (the add-on's user folder):
``{"format": 1, "name", "source_family", "target_family", "map": {source: target}}``.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError

SIDES = (("L", "Left"), ("R", "Right"))
FINGERS = ("thumb", "index", "middle", "ring", "pinky")
LIMB_CHAINS = {  # the chains whose rest direction is corrected (A-pose vs T-pose)
    "arm.L": ("shoulder.L", "upper_arm.L", "forearm.L"),
    "arm.R": ("shoulder.R", "upper_arm.R", "forearm.R"),
    "leg.L": ("thigh.L", "shin.L"),
    "leg.R": ("thigh.R", "shin.R"),
}
#: the slot whose head each limb bone points at, to measure rest directions
AIM_AT = {
    "shoulder": "upper_arm", "upper_arm": "forearm", "forearm": "hand",
    "thigh": "shin", "shin": "foot",
}
#: slots a usable body skeleton must mostly have (hips is required)
CORE_SLOTS = ("hips", "spine", "head", "upper_arm.L", "forearm.L", "hand.L", "upper_arm.R",
              "forearm.R", "hand.R", "thigh.L", "shin.L", "foot.L", "thigh.R", "shin.R",
              "foot.R")
MIN_CORE_SLOTS = 10
PRESET_FORMAT = 1


def _mixamo_like(neck_extra: bool = False) -> dict[str, str]:
    table = {"hips": "Hips", "spine": "Spine", "chest": "Spine1", "upper_chest": "Spine2",
             "neck": "Neck", "head": "Head"}
    for side, word in SIDES:
        table.update({
            f"eye.{side}": f"{word}Eye",
            f"shoulder.{side}": f"{word}Shoulder", f"upper_arm.{side}": f"{word}Arm",
            f"forearm.{side}": f"{word}ForeArm", f"hand.{side}": f"{word}Hand",
            f"thigh.{side}": f"{word}UpLeg", f"shin.{side}": f"{word}Leg",
            f"foot.{side}": f"{word}Foot", f"toe.{side}": f"{word}ToeBase",
        })
        for finger in FINGERS:
            for k in (1, 2, 3):
                table[f"{finger}{k}.{side}"] = f"{word}Hand{finger.capitalize()}{k}"
    return table


def _cmu() -> dict[str, str]:
    table = {"hips": "Hips", "spine": "LowerBack", "chest": "Spine", "upper_chest": "Spine1",
             "neck": "Neck", "head": "Head"}
    for side, word in SIDES:
        table.update({
            f"shoulder.{side}": f"{word}Shoulder", f"upper_arm.{side}": f"{word}Arm",
            f"forearm.{side}": f"{word}ForeArm", f"hand.{side}": f"{word}Hand",
            f"thigh.{side}": f"{word}UpLeg", f"shin.{side}": f"{word}Leg",
            f"foot.{side}": f"{word}Foot", f"toe.{side}": f"{word}ToeBase",
            f"thumb1.{side}": f"{side}Thumb", f"index1.{side}": f"{word}HandIndex1",
        })
    return table


def _classic() -> dict[str, str]:
    table = {"hips": "Hips", "spine": "Chest", "chest": "Chest2", "upper_chest": "Chest3",
             "neck": "Neck", "head": "Head"}
    for side, word in SIDES:
        table.update({
            f"shoulder.{side}": f"{word}Collar", f"upper_arm.{side}": f"{word}Shoulder",
            f"forearm.{side}": f"{word}Elbow", f"hand.{side}": f"{word}Wrist",
            f"thigh.{side}": f"{word}Hip", f"shin.{side}": f"{word}Knee",
            f"foot.{side}": f"{word}Ankle", f"toe.{side}": f"{word}Toe",
        })
    return table


FAMILIES: dict[str, dict[str, str]] = {
    "mixamo": {slot: f"mixamorig:{name}" for slot, name in _mixamo_like().items()},
    "bvh_cmu": _cmu(),
    "bvh_classic": _classic(),
    "metaperson": _mixamo_like(),
    "avaturn": _mixamo_like(),
    "avaturn_split_head": _mixamo_like(),
}
FAMILY_LABELS = {
    "mixamo": "Mixamo", "bvh_cmu": "BVH (CMU names)", "bvh_classic": "BVH (Biovision names)",
    "metaperson": "MetaPerson 2.0", "avaturn": "Avaturn (classic)",
    "avaturn_split_head": "Avaturn (split head)",
}
# names only some families have: how the Mixamo-named families are told apart
_METAPERSON_ONLY = {"neck1", "neck2", "leftforearm1", "rightforearm1", "lefttoe_end"}
_MIXAMO_LEAVES = {"headtop_end", "lefthandindex4", "righthandindex4", "lefttoe_end"}
_CMU_ONLY = {"lhipjoint", "rhipjoint", "lowerback", "lthumb", "rthumb", "leftfingerbase"}
_NAMESPACE = re.compile(r"^(?:.*[:|])|^mixamorig\d*_?", re.IGNORECASE)
_SAFE_NAME = re.compile(r"[^A-Za-z0-9 ._-]+")


def normalize(name: str) -> str:
    """A bone name without namespace (``mixamorig:``, ``mixamorig1:``, ``Armature|``...),
    lower-cased: the key names are matched on."""
    return _NAMESPACE.sub("", name).strip().lower()


def slot_table(family: str) -> dict[str, str]:
    """The family's canonical slot -> bone name table (``InputError`` if unknown)."""
    try:
        return dict(FAMILIES[family])
    except KeyError:
        raise InputError(f"unknown skeleton family {family!r} (known: "
                         + ", ".join(FAMILIES) + ")") from None


def _coverage(family: str, names: set[str]) -> int:
    return sum(1 for name in FAMILIES[family].values() if normalize(name) in names)


def detect_family(bone_names: Iterable[str], mesh_names: Iterable[str] = ()) -> str:
    """The family of a skeleton from its bone names (and, to tell the two Avaturn layouts
    apart, the names of the meshes it deforms). ``"unknown"`` when even the best family
    matches fewer than :data:`MIN_CORE_SLOTS` core bones or no hips."""
    raw = list(bone_names)
    names = {normalize(n) for n in raw}
    scores = {family: _coverage(family, names) for family in FAMILIES}
    best = max(scores, key=lambda f: (scores[f], f == "bvh_cmu" and bool(names & _CMU_ONLY)))
    table = FAMILIES[best]
    core = sum(1 for slot in CORE_SLOTS if normalize(table.get(slot, "")) in names)
    if core < MIN_CORE_SLOTS or normalize(table["hips"]) not in names:
        return "unknown"
    if best in ("bvh_cmu", "bvh_classic"):
        return best
    # the Mixamo-named families: same names once the namespace is stripped
    if any(n.lower().startswith("mixamorig") for n in raw):
        return "mixamo"
    if names & _METAPERSON_ONLY:
        return "metaperson"
    if names & _MIXAMO_LEAVES:
        return "mixamo"
    if any(m == "Head_Mesh" or m.startswith("Head_Mesh.") for m in mesh_names):
        return "avaturn_split_head"
    return "avaturn"


def bone_map(source_family: str, target_family: str) -> dict[str, str]:
    """Source bone name -> target bone name for every slot both families have."""
    source, target = slot_table(source_family), slot_table(target_family)
    return {source[slot]: target[slot] for slot in source if slot in target}


def slots_of(family: str) -> dict[str, str]:
    """Bone name -> slot, the inverse of the family's table."""
    return {name: slot for slot, name in slot_table(family).items()}


@dataclass(frozen=True)
class Matched:
    """A bone map resolved against the bones that really exist."""

    mapped: dict[str, str]  # source bone -> target bone (actual names)
    unmapped_source: list[str]
    unmapped_target: list[str]


def resolve(mapping: Mapping[str, str], source_bones: Iterable[str],
            target_bones: Iterable[str]) -> Matched:
    """Apply ``mapping`` to real bone names: exact names first, then names compared without
    namespace and case (:func:`normalize`). A target bone is driven by one source bone only
    (the first in ``mapping``'s order)."""
    sources, targets = list(source_bones), list(target_bones)
    src_exact, tgt_exact = set(sources), set(targets)
    src_norm = {normalize(n): n for n in reversed(sources)}
    tgt_norm = {normalize(n): n for n in reversed(targets)}
    mapped: dict[str, str] = {}
    used: set[str] = set()
    for want_src, want_tgt in mapping.items():
        src = want_src if want_src in src_exact else src_norm.get(normalize(want_src))
        tgt = want_tgt if want_tgt in tgt_exact else tgt_norm.get(normalize(want_tgt))
        if src is None or tgt is None or src in mapped or tgt in used:
            continue
        mapped[src] = tgt
        used.add(tgt)
    return Matched(mapped=mapped,
                   unmapped_source=[n for n in sources if n not in mapped],
                   unmapped_target=[n for n in targets if n not in used])


def slot_names(mapped: Mapping[str, str], target_family: str,
               source_family: str | None = None) -> dict[str, str]:
    """Slot -> target bone for the bones of ``mapped`` (found through the target family's
    table, else the source's), for the rest-pose correction and the height measure."""
    out: dict[str, str] = {}
    tables = [slots_of(target_family)] if target_family in FAMILIES else []
    src_tables = [slots_of(source_family)] if source_family in FAMILIES else []
    tgt_norm = [{normalize(k): v for k, v in t.items()} for t in tables]
    src_norm = [{normalize(k): v for k, v in t.items()} for t in src_tables]
    for src, tgt in mapped.items():
        slot = next((t[normalize(tgt)] for t in tgt_norm if normalize(tgt) in t), None)
        if slot is None:
            slot = next((t[normalize(src)] for t in src_norm if normalize(src) in t), None)
        if slot is not None and slot not in out:
            out[slot] = tgt
    return out


def check_skeleton(slots: Mapping[str, str], what: str) -> None:
    """``InputError`` unless ``slots`` (slot -> bone) holds the hips and enough core bones."""
    have = [slot for slot in CORE_SLOTS if slot in slots]
    if "hips" not in slots or len(have) < MIN_CORE_SLOTS:
        missing = [slot for slot in CORE_SLOTS if slot not in slots]
        raise InputError(f"{what} has no recognisable humanoid skeleton: only {len(have)} of "
                         f"the {len(CORE_SLOTS)} core bones matched (missing: "
                         + ", ".join(missing) + "); choose a bone-map preset or map the "
                         "bones by hand")


# --- user presets ------------------------------------------------------------------------


@dataclass(frozen=True)
class Preset:
    name: str
    source_family: str
    target_family: str
    map: dict[str, str]

    def as_json(self) -> dict[str, object]:
        return {"format": PRESET_FORMAT, "name": self.name, "source_family": self.source_family,
                "target_family": self.target_family, "map": dict(self.map)}


def preset_filename(name: str) -> str:
    """The file a preset called ``name`` is stored in (``InputError`` for an empty name)."""
    stem = _SAFE_NAME.sub("_", name).strip(" ._")
    if not stem:
        raise InputError(f"{name!r} cannot be used as a preset name")
    return stem[:80] + ".json"


def save_preset(folder: Path, preset: Preset) -> Path:
    """Write ``preset`` into ``folder`` (created if needed), atomically; returns the file."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / preset_filename(preset.name)
    fd, tmp = tempfile.mkstemp(prefix=".preset-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(preset.as_json(), fh, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_preset_file(path: Path) -> Preset:
    """Read a preset file (``InputError`` naming what is wrong)."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"bone-map preset not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"bone-map preset {path.name} is not readable JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("map"), dict):
        raise InputError(f"bone-map preset {path.name} has no \"map\" object")
    mapping = doc["map"]
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
        raise InputError(f"bone-map preset {path.name}: every map entry must be "
                         "\"source bone\": \"target bone\"")
    return Preset(name=str(doc.get("name") or path.stem),
                  source_family=str(doc.get("source_family") or "custom"),
                  target_family=str(doc.get("target_family") or "custom"),
                  map=dict(mapping))


def load_preset(folder: Path, name: str) -> Preset:
    """The preset called ``name`` in ``folder``."""
    return load_preset_file(Path(folder) / preset_filename(name))


def list_presets(folder: Path | None) -> list[str]:
    """Names of the presets saved in ``folder`` (sorted; unreadable files are skipped)."""
    if folder is None or not Path(folder).is_dir():
        return []
    names = []
    for path in sorted(Path(folder).glob("*.json")):
        try:
            names.append(load_preset_file(path).name)
        except InputError:
            continue
    return names


def delete_preset(folder: Path, name: str) -> bool:
    """Remove a saved preset; False when there was none."""
    path = Path(folder) / preset_filename(name)
    if not path.is_file():
        return False
    path.unlink()
    return True
