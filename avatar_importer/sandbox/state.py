"""The MetaPerson service state of one sandbox (tokens, players, avatars and their exports) and
the clock-driven statuses of avatars and exports.

Everything in :class:`State` is touched only under ``State.lock``; the status functions are
called with it held (they may latch ``Export.completed``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .catalogue import ExportChoice


def now_iso() -> str:
    # timezone.utc, not datetime.UTC: Blender 3.x bundles Python 3.10
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # noqa: UP017


@dataclass
class Export:
    code: str
    choice: ExportChoice
    created_on: str
    created_at: float  # monotonic
    completed: bool = False  # latched once Completed


@dataclass
class Avatar:
    code: str
    player: str
    name: str
    description: str
    subtype: str
    created_on: str
    created_at: float  # monotonic
    outcome: str  # final status: Completed, Failed or Timed Out
    exports: list[Export] = field(default_factory=list)


@dataclass
class State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    tokens: dict[str, tuple[float, int]] = field(default_factory=dict)  # -> (expiry, epoch)
    players: dict[str, dict[str, Any]] = field(default_factory=dict)
    avatars: dict[str, Avatar] = field(default_factory=dict)


# --- clock-driven statuses (callers hold the state lock) --------------------------------------


def avatar_progress(avatar: Avatar, now: float, compute_seconds: float) -> tuple[str, int]:
    """(status, progress): Uploading -> Queued -> Computing -> the avatar's outcome."""
    total = compute_seconds
    t = now - avatar.created_at
    if t >= total:
        return avatar.outcome, 100 if avatar.outcome == "Completed" else 99
    if t < 0.1 * total:
        return "Uploading", 0
    if t < 0.25 * total:
        return "Queued", 0
    return "Computing", min(99, int(99 * (t - 0.25 * total) / (0.75 * total)))


def export_status(avatar: Avatar, export: Export, now: float, compute_seconds: float,
                  export_seconds: float, stuck: bool) -> str:
    """Pending until the avatar completes, then Queued -> Computing -> Completed (latched);
    ``stuck`` keeps an unlatched export Computing."""
    status, _ = avatar_progress(avatar, now, compute_seconds)
    if status in ("Failed", "Timed Out"):
        return "Failed"
    if export.completed:
        return "Completed"
    if status != "Completed":
        return "Pending"
    start = max(export.created_at, avatar.created_at + compute_seconds)
    t = now - start
    if t < 0.3 * export_seconds:
        return "Queued"
    if t < export_seconds or stuck:
        return "Computing"
    export.completed = True
    return "Completed"
