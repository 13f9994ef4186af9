"""The per-avatar report (batch JSON, panel): built from a finished job. No secrets."""

from __future__ import annotations

import dataclasses
from typing import Any

from .stages import JobState


def job_report(state: JobState) -> dict[str, Any]:
    result = state.result
    imported: dict[str, Any] = {}
    if result is not None:
        if dataclasses.is_dataclass(result) and not isinstance(result, type):
            imported = dataclasses.asdict(result)
        else:
            imported = dict(result)
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
        "bytes_downloaded": state.bytes_downloaded,
        "static_resources": {"fetched": state.static_fetched, "reused": state.static_reused},
        "seconds_per_stage": {k: round(v, 3) for k, v in state.stage_seconds.items()},
        "seconds_total": round(state.elapsed, 3),
    }
