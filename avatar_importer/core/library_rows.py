"""What the library folder remembers about each manifest row, so that runs are
idempotent and no avatar is created twice.

Layout under the library folder ``DIR``::

    DIR/<name>.blend                         the finished asset (one per row)
    DIR/blender_assets.cats.txt              asset catalogs (core.asset_catalogs)
    DIR/.avatar_importer/rows/<name>.json    the row's state (below)
    DIR/.avatar_importer/locks/<name>.lock   held while a worker works on the row

A row's state (JSON, replaced atomically) records, as soon as each is known: the job id,
the service and base URL, the remote user (player), the avatar code and export code, and
finally ``status``: ``creating`` (work started), ``created`` (the service has the avatar:
its code is recorded), ``done`` (the .blend is in the library), ``failed`` (with the
error, its kind and whether it is transient). No secret is ever written here.

Deciding what a run does with a row (:func:`plan_row`):

* ``done`` and its .blend exists -> skip (nothing is created, nothing downloaded).
* an avatar code is recorded (the avatar was created, or is an existing one) -> import that
  avatar (wait, export, download, import): no second creation. Except when the service
  said the avatar itself failed or no longer exists: then it is created anew.
* otherwise -> create it (or import the row's ``avatar_id``).
No bpy here.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .cache import write_atomic
from .errors import is_transient
from .row_lock import RowLock, try_lock

STATE_DIR = ".avatar_importer"
#: failures after which the recorded avatar is not worth importing again
UNUSABLE_AVATAR_KINDS = frozenset({"remote_failed", "not_found"})


@dataclass(frozen=True)
class RowPlan:
    action: str  # "skip", "create", "import"
    avatar_code: str = ""
    export_code: str = ""
    player: str = ""
    why: str = ""


class LibraryRows:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.state_dir = self.folder / STATE_DIR

    def blend_path(self, name: str) -> Path:
        return self.folder / f"{name}.blend"

    def _state_path(self, name: str) -> Path:
        return self.state_dir / "rows" / f"{name}.json"

    def lock_path(self, name: str) -> Path:
        return self.state_dir / "locks" / f"{name}.lock"

    def lock(self, name: str) -> RowLock | None:
        return try_lock(self.lock_path(name))

    def load(self, name: str) -> dict[str, Any]:
        try:
            data = json.loads(self._state_path(name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def update(self, name: str, **fields: Any) -> dict[str, Any]:
        """Merge ``fields`` into the row's state and write it atomically (caller holds the
        row's lock, so there is one writer per row)."""
        state = self.load(name)
        state.update({k: v for k, v in fields.items() if v is not None})
        state["name"] = name
        state["updated"] = time.time()
        write_atomic(self._state_path(name),
                     json.dumps(state, indent=1, sort_keys=True).encode("utf-8"))
        return state

    def states(self) -> dict[str, dict[str, Any]]:
        out = {}
        for path in sorted((self.state_dir / "rows").glob("*.json")):
            out[path.stem] = self.load(path.stem)
        return out

    def complete(self, name: str) -> bool:
        return self.load(name).get("status") == "done" and self.blend_path(name).is_file()

    def plan(self, name: str, *, avatar_id: str = "", base_url: str = "",
             service: str = "") -> RowPlan:
        return plan_row(self.load(name), self.blend_path(name).is_file(), avatar_id=avatar_id,
                        base_url=base_url, service=service)


def plan_row(state: dict[str, Any], blend_exists: bool, *, avatar_id: str = "",
             base_url: str = "", service: str = "") -> RowPlan:
    """What to do with a row given its recorded state (see the module docstring)."""
    status = state.get("status", "")
    if status == "done" and blend_exists:
        return RowPlan("skip", why="already in the library")
    code = str(state.get("avatar_code") or "")
    same_service = (not service or state.get("service") in (None, service)) and \
        (not base_url or state.get("base_url") in (None, base_url))
    if code and same_service:
        unusable = status == "failed" and state.get("error_kind") in UNUSABLE_AVATAR_KINDS \
            and not avatar_id
        if not unusable:
            return RowPlan("import", avatar_code=code,
                           export_code=str(state.get("export_code") or ""),
                           player=str(state.get("player") or ""),
                           why=f"resuming avatar {code} recorded by an earlier run")
    if avatar_id:
        return RowPlan("import", avatar_code=avatar_id, why="existing avatar of the manifest")
    return RowPlan("create")


def failure_fields(message: str, kind: str) -> dict[str, Any]:
    return {"status": "failed", "error": message, "error_kind": kind,
            "transient": is_transient(kind)}
