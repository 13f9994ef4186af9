"""The per-avatar report (batch JSON, panel): built from a finished job. No secrets.

``import_report`` is the import part alone (also what File > Import produces);
``report_lines`` turns it into short lines for the panel.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

from .stages import JobState


def _as_dict(result: Any) -> dict[str, Any]:
    if result is None:
        return {}
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return dataclasses.asdict(result)
    return dict(result)


def import_report(result: Any) -> dict[str, Any]:
    """The import report of one avatar from an ``ImportResult`` (or its dict): parts
    found, materials adjusted and how, images (resolved or missing, and from where),
    shape keys per mesh, bone count, warnings and scene changes."""
    imported = _as_dict(result)
    return {
        "collection": imported.get("collection_name"),
        "source_file": imported.get("source_file") or None,
        "objects": imported.get("objects", []),
        "armature": imported.get("armature"),
        "bone_count": imported.get("bone_count"),
        "parts": imported.get("parts", {}),
        "materials": imported.get("materials", []),
        "images": imported.get("images", []),
        "missing_images": imported.get("missing_images", []),
        "unused_missing_images": imported.get("unused_missing_images", []),
        "shape_keys": imported.get("shape_keys", {}),
        "warnings": imported.get("warnings", []),
        "scene_changes": imported.get("scene_changes", []),
        "import_seconds": imported.get("seconds"),
    }


def report_lines(result: Any, *, max_materials: int = 12) -> list[str]:
    """Short lines describing an import (``ImportResult`` or its dict), for the panel.
    Missing textures and warnings come first; nothing here does I/O."""
    rep = import_report(result)
    if rep["collection"] is None:
        return []
    lines: list[str] = []
    for warning in rep["warnings"]:
        lines.append(f"Warning: {warning}")
    parts = rep["parts"]
    kinds = Counter(parts.values())
    if parts:
        lines.append("Parts: " + ", ".join(f"{k} x{n}" if n > 1 else k
                                          for k, n in sorted(kinds.items())))
    images = rep["images"]
    sources = Counter(str(i.get("source")) for i in images if i.get("resolved"))
    found = sum(sources.values())
    text = f"Images: {found} resolved"
    if sources:
        text += " (" + ", ".join(f"{n} {s}" for s, n in sorted(sources.items())) + ")"
    if rep["missing_images"]:
        text += f", {len(rep['missing_images'])} missing: " + ", ".join(rep["missing_images"])
    lines.append(text)
    adjusted = [m for m in rep["materials"] if m.get("changes")]
    lines.append(f"Materials: {len(adjusted)} of {len(rep['materials'])} adjusted")
    for mat in adjusted[:max_materials]:
        lines.append(f"  {mat['name']} ({mat['part']}): " + ", ".join(mat["changes"]))
    if len(adjusted) > max_materials:
        lines.append(f"  ... and {len(adjusted) - max_materials} more")
    keys = {name: n for name, n in rep["shape_keys"].items() if n}
    if keys:
        lines.append("Shape keys: " + ", ".join(f"{name} {n}" for name, n in sorted(
            keys.items())))
    if rep["armature"]:
        lines.append(f"Armature {rep['armature']}: {rep['bone_count']} bones")
    lines += rep["scene_changes"]
    return lines


def job_report(state: JobState) -> dict[str, Any]:
    imported = _as_dict(state.result)
    details = import_report(imported) if imported else {}
    return {
        "job_id": state.id,
        "name": state.spec.name,
        "photo": str(state.spec.photo) if state.spec.photo else None,
        "service": state.service,
        "avatar_code": state.avatar_code or None,
        "export_code": state.export_code or None,
        "status": state.stage.value,
        "error": state.error or None,
        "error_kind": state.error_kind or None,
        "collection": imported.get("collection_name"),
        "objects": imported.get("objects", []),
        "armature": imported.get("armature"),
        "bone_count": imported.get("bone_count"),
        "images": imported.get("images", []),
        "shape_keys": imported.get("shape_keys", {}),
        "parts": details.get("parts", {}),
        "materials": details.get("materials", []),
        "missing_images": details.get("missing_images", []),
        "warnings": details.get("warnings", []),
        "scene_changes": details.get("scene_changes", []),
        "bytes_downloaded": state.bytes_downloaded,
        "static_resources": {"fetched": state.static_fetched, "reused": state.static_reused},
        "seconds_per_stage": {k: round(v, 3) for k, v in state.stage_seconds.items()},
        "seconds_total": round(state.elapsed, 3),
    }
