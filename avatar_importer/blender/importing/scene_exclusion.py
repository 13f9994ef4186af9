"""Earlier avatars out of the view layer while the next one imports; restored exactly.

Blender's glTF importer runs operators that update the view layer several times per import
(mode switches for the bones, selection); each update re-evaluates what the view layer
holds, so importing into a scene with many avatars gets slower with every avatar
(docs: blender-facts.md "Scale"). While an import runs, ``earlier_avatars_excluded``
excludes from the active view layer every collection holding an earlier import (it
carries the import report property) that is not excluded already, and afterwards puts back
exactly what the user had:

* the collections' ``exclude`` flags (only those we set are cleared; Blender itself restores
  the flags of nested collections it excluded along with them);
* each affected object's per-view-layer state that excluding drops with its base: hidden
  (``hide_get``) and selected (``select_get``); and the active object.

Object-level flags (``hide_viewport``, ``hide_render``) and the layer collections' other
flags (``hide_viewport``, ``holdout``, ``indirect_only``) are not touched by excluding.
Other view layers and scenes are not touched at all.

A batch imports many avatars in a row: ``held_excluded`` keeps every exclusion open until
the run ends (putting a collection back costs a view-layer resync that grows with the
scene; one by one, a crowd of 100 paid it 100 times per import).

Main thread only (touches ``bpy`` data).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Excluded:
    """What ``earlier_avatars_excluded`` changed, to be put back."""

    view_layer: Any
    # layer collections we excluded, as paths of collection names from the view layer's root
    # (one collection linked in two places has two layer collections)
    paths: list[tuple[str, ...]] = field(default_factory=list)
    # every object whose base excluding drops, with (hidden, selected) in the view layer;
    # held by reference: a lookup by name scans all objects, for each of them
    objects: list[tuple[Any, bool, bool]] = field(default_factory=list)
    active: Any = None


def _avatar_layers(root: Any, marker: str,
                   path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Included layer collections whose collection carries ``marker`` (not below them),
    with their paths."""
    for child in root.children:
        if child.exclude:
            continue
        here = (*path, child.name)
        if child.collection.get(marker) is not None:
            yield here, child
        else:
            yield from _avatar_layers(child, marker, here)


def _layer_at(root: Any, path: tuple[str, ...]) -> Any | None:
    layer = root
    for name in path:
        layer = layer.children.get(name)
        if layer is None:
            return None
    return layer


def exclude_avatars(view_layer: Any, marker: str) -> Excluded:
    """Exclude every included collection marked with ``marker`` (the import report)."""
    state = Excluded(view_layer=view_layer)
    layers = list(_avatar_layers(view_layer.layer_collection, marker))
    if not layers:
        return state
    state.active = view_layer.objects.active
    seen: set[int] = set()
    for _path, layer in layers:
        for obj in layer.collection.all_objects:
            if obj.as_pointer() in seen:
                continue
            seen.add(obj.as_pointer())
            try:
                flags = (obj.hide_get(view_layer=view_layer),
                         obj.select_get(view_layer=view_layer))
            except RuntimeError:  # not in this view layer
                continue
            state.objects.append((obj, *flags))
    for path, layer in layers:
        state.paths.append(path)
        layer.exclude = True
    return state


def restore(state: Excluded) -> None:
    """Put back everything ``exclude_avatars`` changed (idempotent)."""
    view_layer = state.view_layer
    layers = []
    for path in state.paths:  # all found before any flag changes: a lookup after a change
        with contextlib.suppress(ReferenceError, RuntimeError, AttributeError):  # would
            layers.append(_layer_at(view_layer.layer_collection, path))  # resync the layer
    for layer in layers:
        with contextlib.suppress(ReferenceError, RuntimeError, AttributeError):
            if layer is not None:
                layer.exclude = False
    for obj, hidden, selected in state.objects:
        with contextlib.suppress(RuntimeError, ReferenceError):
            if obj.hide_get(view_layer=view_layer) != hidden:
                obj.hide_set(hidden, view_layer=view_layer)
            if obj.select_get(view_layer=view_layer) != selected:
                obj.select_set(selected, view_layer=view_layer)
    if state.active is not None and view_layer.objects.active is None:
        with contextlib.suppress(RuntimeError, ReferenceError, TypeError, ValueError):
            view_layer.objects.active = state.active
    state.paths = []
    state.objects = []


#: exclusions held open for a run of imports (``held_excluded``), innermost last
_held: list[Excluded] = []


def _holder(view_layer: Any) -> Excluded | None:
    pointer = view_layer.as_pointer()
    return next((h for h in reversed(_held) if h.view_layer.as_pointer() == pointer), None)


@contextmanager
def earlier_avatars_excluded(view_layer: Any, marker: str) -> Iterator[Excluded]:
    """Exclude earlier avatars for the duration of the block; always restore - unless a
    ``held_excluded`` block is open on the view layer: then what this block excluded
    stays excluded and is put back when that block ends."""
    state = exclude_avatars(view_layer, marker)
    try:
        yield state
    finally:
        holder = _holder(view_layer)
        if holder is None:
            restore(state)
        else:
            holder.paths += state.paths
            holder.objects += state.objects
            holder.active = holder.active or state.active


@contextmanager
def held_excluded(view_layer: Any, marker: str) -> Iterator[Excluded]:
    """For a run of imports: earlier avatars, and each one imported meanwhile, stay excluded
    until the block ends; then everything is put back at once, as the imports one by one
    would have left it (see ``deselect_held``)."""
    state = exclude_avatars(view_layer, marker)
    _held.append(state)
    try:
        yield state
    finally:
        _held.remove(state)
        restore(state)


def deselect_held(view_layer: Any) -> None:
    """Objects held excluded come back deselected (a new avatar becomes the selection:
    had they been put back at once, it would have deselected them)."""
    holder = _holder(view_layer)
    if holder is not None:
        holder.objects = [(obj, hidden, False) for obj, hidden, _ in holder.objects]
