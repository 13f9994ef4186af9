"""An Edit > Undo step for an import made outside an operator.

The panel's imports are made by the job pump, a ``bpy.app.timers`` callback, not by an
operator, so Blender records no undo step for them. Blender's undo restores whole states
(one per step), so Edit > Undo after such an import went back to the state before the
*previous* operator: it removed the new avatar together with whatever the artist did
before it, and Redo brought back only the latter: the avatar was lost from the history
(measured in Blender 3.4's window: File > Import Ada, a pump import of Bob, Undo: neither;
Redo: Ada only). :func:`push` records the step the way an operator's would (``ed.undo_push``,
the state after the import), so one Undo removes exactly that avatar and Redo brings it back.

Operators (File > Import) get their step from Blender and must not push another. Headless
Blender (``-b``: the batch script, tests) keeps no undo history: nothing is pushed.

Main thread only.
"""

from __future__ import annotations

import contextlib

import bpy


def push(message: str) -> bool:
    """Record the current state as an undo step named ``message`` when a window exists;
    whether one was recorded."""
    if bpy.app.background:
        return False
    wm = bpy.context.window_manager
    window = wm.windows[0] if wm is not None and len(wm.windows) else None
    if window is None:
        return False
    with contextlib.suppress(RuntimeError), \
            bpy.context.temp_override(window=window, screen=window.screen):
        return "FINISHED" in bpy.ops.ed.undo_push(message=message)
    return False
