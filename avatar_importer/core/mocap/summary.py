"""Short lines saying what an animation apply did, for a narrow sidebar and the batch log.

Input: the report of ``blender.animation.apply.apply_animation_files`` (plain dict)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

MAX_NAMES = 3


def _names(items: Sequence[str]) -> str:
    shown = ", ".join(items[:MAX_NAMES])
    more = len(items) - MAX_NAMES
    return f"{shown} +{more}" if more > 0 else shown


def summary_lines(report: Mapping[str, Any]) -> list[str]:
    """One line per part applied, then one line per kind of unmatched item."""
    lines: list[str] = []
    body = report.get("body")
    if body:
        lines.append(f"Body: {body.get('frame_start')}-{body.get('frame_end')}, "
                     f"{len(body.get('mapped', {}))} bones")
    face = report.get("face")
    if face:
        bones = len(face.get("bones", {}))
        lines.append(f"Face: {len(face['shape_keys_driven'])} keys"
                     + (f", {bones} bones" if bones else "")
                     + f", {face['frame_start']}-{face['frame_end']}")
    lips = report.get("lipsync")
    if lips:
        lines.append(f"Lip-sync: {lips['cues']} cues, {len(lips['visemes_mapped'])} visemes")
    # each line fits a default-width sidebar (about 30 characters)
    unmatched: list[str] = []
    if body:
        unmatched += list(body.get("unmapped_target", []))
    if unmatched:
        lines.append(f"No source: {_names(unmatched)}")
    if face and face.get("channels_unmapped"):
        lines.append(f"No shape key: {_names(face['channels_unmapped'])}")
    if face and face.get("bones_missing"):
        lines.append(f"No bone: {_names(face['bones_missing'])}")
    if lips and lips.get("visemes_unmapped"):
        lines.append(f"No viseme: {_names(lips['visemes_unmapped'])}")
    return lines
