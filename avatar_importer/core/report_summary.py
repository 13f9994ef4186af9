"""A short import summary that fits the sidebar's default width, and the full report as
plain text (for the report popup and its text block). No bpy, no I/O, no secrets: built
only from the import report (``report.import_report``), which holds none.

``summary_rows`` gives (Blender icon name, text) pairs of at most ``SUMMARY_WIDTH``
characters each; everything else (names, per-material changes, each missing file) is in
``full_report_lines``.
"""

from __future__ import annotations

import re
from typing import Any

from .report import import_report, report_lines

__all__ = ["SUMMARY_WIDTH", "full_report_lines", "summary_rows"]

#: characters that fit a label with an icon in the 3D viewport's sidebar at its default
#: width and UI scale 1
SUMMARY_WIDTH = 28

_BOUNCES = re.compile(r"transparent bounces raised \d+ -> (\d+)")
_SCALED = re.compile(r"^scaled x([0-9.eE+-]+)")


def _plural(n: int, word: str, plural: str = "") -> str:
    return f"{n} {word}" if n == 1 else f"{n} {plural or word + 's'}"


def summary_rows(result: Any) -> list[tuple[str, str]]:
    """(icon, text) rows summarising an import (``ImportResult`` or its dict): images,
    missing files, materials, meshes and bones, shape keys, warnings, scene changes.
    Every text is at most ``SUMMARY_WIDTH`` characters."""
    rep = import_report(result)
    if rep["collection"] is None:
        return []
    rows: list[tuple[str, str]] = []
    if rep["warnings"]:
        rows.append(("ERROR", _plural(len(rep["warnings"]), "warning") + " (see report)"))
    images = rep["images"]
    resolved = sum(1 for i in images if i.get("resolved"))
    rows.append(("IMAGE_DATA" if resolved == len(images) else "ERROR",
                 f"{resolved}/{len(images)} images"))
    unused = set(rep["unused_missing_images"])
    used_missing = [m for m in rep["missing_images"] if m not in unused]
    if used_missing:
        rows.append(("ERROR", f"{len(used_missing)} missing: drawn pink"))
    if unused:
        rows.append(("INFO", f"{len(unused)} unused files missing"))
    mats = rep["materials"]
    adjusted = sum(1 for m in mats if m.get("changes"))
    rows.append(("MATERIAL", f"{adjusted}/{len(mats)} materials adjusted"))
    meshes = len(rep["shape_keys"])
    rows.append(("ARMATURE_DATA", f"{_plural(meshes, 'mesh', 'meshes')}, "
                 f"{_plural(int(rep['bone_count'] or 0), 'bone')}"))
    keys = [n for n in rep["shape_keys"].values() if n]
    if keys:
        rows.append(("SHAPEKEY_DATA", f"{max(keys)} shape keys"
                     + (f" ({len(keys)} meshes)" if len(keys) > 1 else "")))
    other = 0
    for change in rep["scene_changes"]:
        bounces = _BOUNCES.search(change)
        scaled = _SCALED.search(change)
        if bounces:
            rows.append(("STRANDS", f"Hair: transparent bounces {bounces.group(1)}"))
        elif change.startswith("placed at the 3D cursor"):
            rows.append(("PIVOT_CURSOR", "Placed at the 3D cursor"))
        elif scaled:
            rows.append(("FULLSCREEN_ENTER", f"Scaled x{scaled.group(1)} (metres)"))
        elif not change.startswith("armature "):  # renamed after the avatar: expected
            other += 1
    if other:
        rows.append(("SCENE_DATA", _plural(other, "scene change") + " (see report)"))
    return [(icon, _fit(text)) for icon, text in rows]


def _fit(text: str) -> str:
    return text if len(text) <= SUMMARY_WIDTH else text[:SUMMARY_WIDTH - 1] + "…"


def full_report_lines(result: Any, title: str = "") -> list[str]:
    """Every line of the import report, nothing cut: title, source file, warnings, parts,
    images (each missing file by name), every adjusted material with its changes, shape
    keys per mesh, armature, scene changes."""
    rep = import_report(result)
    if rep["collection"] is None:
        return []
    lines = [title or f"Avatar report: {rep['collection']}"]
    if rep["source_file"]:
        lines.append(f"Source: {rep['source_file']}")
    lines += report_lines(result, max_materials=len(rep["materials"]))
    if rep["unused_missing_images"]:
        lines.append("Missing but unused by any material: "
                     + ", ".join(rep["unused_missing_images"]))
    if rep["import_seconds"] is not None:
        lines.append(f"Imported in {float(rep['import_seconds']):.1f} s")
    return lines
