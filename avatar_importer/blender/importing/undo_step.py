"""Edit > Undo steps for imports made outside an operator (the panel's job pump).

The panel's imports are made by the job pump, a ``bpy.app.timers`` callback, not by an
operator, so Blender recorded no undo step for them. Blender's undo restores whole states
(one per step), so Edit > Undo after such an import went back to the state before the
*previous* operator: it removed the new avatar together with whatever the artist did
before it, and Redo brought back only the latter: the avatar was lost from the history
(measured in Blender 3.4's window: File > Import Ada, a pump import of Bob, Undo: neither;
Redo: Ada only).

Each such import is :func:`note`-d; the pump calls :func:`flush` on its first tick without
an import (and before it stops), which records one step the way an operator's is recorded
(``ed.undo_push``: the state after the imports), so one Undo removes exactly those avatars
and Redo brings them back. Imports on consecutive ticks (a crowd whose avatars are ready
together) make one step: recording a step writes the whole .blend to memory, a cost that
grows with the scene (Blender 3.4, window, small sandbox avatars: 8 ms with 1-5 avatars
in the scene, 120 ms with 26-30), paid once per run of imports instead of once per avatar.

Operators (File > Import) get their step from Blender and must not record another.
Headless Blender (``-b``: the batch script, tests) keeps no undo history: nothing is noted.

Main thread only.
"""

from __future__ import annotations

import contextlib
from typing import Any

import bpy


class _Pending:
    names: list[str] = []  # avatars imported since the last step, in order


def note(name: str) -> None:
    """An avatar was imported outside an operator: record it at the next :func:`flush`."""
    if not bpy.app.background:
        _Pending.names.append(name)


def flush() -> bool:
    """Record one undo step for the imports noted since the last one; whether one was."""
    if not _Pending.names:
        return False
    names, _Pending.names = _Pending.names, []
    return push(f"Import Avatar {names[0]}" if len(names) == 1
                else f"Import {len(names)} Avatars")


def push(message: str) -> bool:
    """Record the current state as an undo step named ``message`` when a window exists;
    whether one was recorded."""
    if bpy.app.background:
        return False
    wm = bpy.context.window_manager
    window = wm.windows[0] if wm is not None and len(wm.windows) else None
    if window is None:
        return False
    result: Any = None
    with contextlib.suppress(RuntimeError), \
            bpy.context.temp_override(window=window, screen=window.screen):
        result = bpy.ops.ed.undo_push(message=message)
    return "FINISHED" in (result or ())
