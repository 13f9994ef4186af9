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

#: characters per summary row: a label with an icon inside the job's box at the sidebar's
#: default width shows about 128 px of text (Blender 3.4 screenshot: a 24-character row
#: was cut), i.e. 22 characters of ordinary text at UI scale 1
SUMMARY_WIDTH = 22

_BOUNCES = re.compile(r"transparent bounces raised \d+ -> (\d+)")
_SCALED = re.compile(r"^scaled x([0-9.eE+-]+)")


def _plural(n: int, word: str, plural: str = "") -> str:
    return f"{n} {word}" if n == 1 else f"{n} {plural or word + 's'}"


def _first_fitting(*texts: str) -> str:
    """The first text that fits a row (the last one, cut, when none does)."""
    for text in texts:
        if len(text) <= SUMMARY_WIDTH:
            return text
    return texts[-1][:SUMMARY_WIDTH - 1] + "…"


def summary_rows(result: Any) -> list[tuple[str, str]]:
    """(icon, text) rows summarising an import (``ImportResult`` or its dict): warnings,
    images, missing files, materials, meshes and bones, shape keys, scene changes. Every
    text is at most ``SUMMARY_WIDTH`` characters; names and details are in
    ``full_report_lines``."""
    rep = import_report(result)
    if rep["collection"] is None:
        return []
    rows: list[tuple[str, str]] = []
    if rep["warnings"]:
        rows.append(("ERROR", _plural(len(rep["warnings"]), "warning")))
    images = rep["images"]
    resolved = sum(1 for i in images if i.get("resolved"))
    rows.append(("IMAGE_DATA" if resolved == len(images) else "ERROR",
                 _first_fitting(f"{resolved}/{len(images)} images")))
    unused = set(rep["unused_missing_images"])
    used_missing = [m for m in rep["missing_images"] if m not in unused]
    if used_missing:
        rows.append(("ERROR", _first_fitting(f"{len(used_missing)} missing: drawn pink",
                                             f"{len(used_missing)} missing")))
    if unused:
        rows.append(("INFO", _first_fitting(f"{len(unused)} missing, not used",
                                            f"{len(unused)} unused missing")))
    mats = rep["materials"]
    adjusted = sum(1 for m in mats if m.get("changes"))
    rows.append(("MATERIAL", _first_fitting(f"{adjusted}/{len(mats)} materials fixed",
                                            f"{adjusted}/{len(mats)} materials")))
    meshes = _plural(len(rep["shape_keys"]), "mesh", "meshes")
    bones = _plural(int(rep["bone_count"] or 0), "bone")
    rows.append(("ARMATURE_DATA", _first_fitting(f"{meshes}, {bones}", bones)))
    keys = [n for n in rep["shape_keys"].values() if n]
    if keys:
        rows.append(("SHAPEKEY_DATA", _first_fitting(f"{max(keys)} shape keys")))
    other = 0
    for change in rep["scene_changes"]:
        bounces = _BOUNCES.search(change)
        scaled = _SCALED.search(change)
        if bounces:  # the hair icon says why
            rows.append(("STRANDS", _first_fitting(f"Transp. bounces: {bounces.group(1)}")))
        elif change.startswith("placed at the 3D cursor"):
            rows.append(("PIVOT_CURSOR", "At the 3D cursor"))
        elif scaled:
            rows.append(("FULLSCREEN_ENTER", _first_fitting(
                f"Scaled x{scaled.group(1)} (metres)", f"Scaled x{scaled.group(1)}")))
        elif not change.startswith("armature "):  # renamed after the avatar: expected
            other += 1
    if other:
        rows.append(("SCENE_DATA", _plural(other, "more scene change")))
    return rows


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
