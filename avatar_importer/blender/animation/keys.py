"""Writing baked keys, and undoing a whole apply when anything in it fails.

An :class:`ActionSession` gives each animated ID (a shape-key ``Key``, the armature) one
action for the session: a copy of the action it had (so earlier work is kept and the
original stays untouched) or a new one. ``rollback`` puts every ID's previous action (and
slot) back and removes what the session created, so bad input leaves the avatar as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import bpy

from .. import compat


@dataclass
class _Previous:
    id_block: Any
    action: Any | None
    slot: Any | None
    had_animation_data: bool = True


@dataclass
class ActionSession:
    #: actions made earlier in the same apply (the body's bake): written into, not copied
    fresh: set[str] = field(default_factory=set)
    previous: dict[int, _Previous] = field(default_factory=dict)
    created: list[Any] = field(default_factory=list)
    scene_settings: list[tuple[Any, str, Any]] = field(default_factory=list)

    def action_for(self, id_block: Any, name: str) -> Any:
        """The action this session writes ``id_block``'s keys into (assigned to it)."""
        ptr = id_block.as_pointer()
        current = compat.id_action(id_block)
        if current is not None and current.name in self.fresh:
            return current
        if ptr in self.previous and any(current == a for a in self.created):
            return current
        self.remember(id_block)
        action = current.copy() if current is not None else bpy.data.actions.new(name)
        action.name = name
        self.created.append(action)
        self.fresh.add(action.name)
        compat.id_action_assign(id_block, action)
        return action

    def remember(self, id_block: Any) -> None:
        """Note ``id_block``'s current action before something else (the body's bake)
        assigns a new one, so a rollback restores it."""
        ptr = id_block.as_pointer()
        if ptr not in self.previous:
            self.previous[ptr] = _Previous(id_block, compat.id_action(id_block),
                                           compat.id_action_slot(id_block),
                                           id_block.animation_data is not None)

    def adopt(self, action: Any) -> None:
        """An action made for this session elsewhere: written into, removed on rollback."""
        self.fresh.add(action.name)
        self.created.append(action)

    def keep_scene(self, scene: Any) -> None:
        """Restore the scene's frame rate and range on rollback, whoever changes them."""
        render = scene.render
        for owner, attr in ((render, "fps"), (render, "fps_base"), (scene, "frame_start"),
                            (scene, "frame_end")):
            self.scene_settings.append((owner, attr, getattr(owner, attr)))

    def set_scene(self, owner: Any, attr: str, value: Any) -> None:
        self.scene_settings.append((owner, attr, getattr(owner, attr)))
        setattr(owner, attr, value)

    def rollback(self) -> None:
        for prev in self.previous.values():
            compat.id_action_assign(prev.id_block, None)
            if prev.action is not None:
                compat.id_action_assign(prev.id_block, prev.action, prev.slot)
            elif not prev.had_animation_data:
                prev.id_block.animation_data_clear()
        for action in self.created:
            if action.name in bpy.data.actions:
                bpy.data.actions.remove(action)
        for owner, attr, value in reversed(self.scene_settings):
            setattr(owner, attr, value)
        self.previous.clear()
        self.created.clear()
        self.scene_settings.clear()


def write_keys(id_block: Any, data_path: str, frames: Sequence[float],
               values: Sequence[float], *, index: int = 0, group: str = "",
               constant: bool = False) -> Any:
    """Replace the F-curve ``data_path[index]`` of ``id_block`` with keys (frame, value)."""
    fcurve = compat.id_fcurve_new(id_block, data_path, index, group)
    points = fcurve.keyframe_points
    points.add(len(frames))
    coords = [c for pair in zip(frames, values, strict=True) for c in pair]
    points.foreach_set("co", coords)
    if constant:
        for point in points:
            point.interpolation = "CONSTANT"
    else:
        for point in points:
            point.interpolation = "LINEAR"
    fcurve.update()
    return fcurve


def shape_key_path(name: str) -> str:
    return f'key_blocks["{bpy.utils.escape_identifier(name)}"].value'
