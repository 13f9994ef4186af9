"""The avatar options the service offers (haircuts, outfits, glasses, ...), for the panel.

Main thread only. The lists start as the built-in catalogue and are replaced by the
service's own discovery answers, fetched by a background task (never from ``draw``) and
kept in the cache so the next start shows them at once, even offline.
"""

from __future__ import annotations

import json
from typing import Any

import bpy

from ...core.cache import Cache, write_atomic
from ...core.options import (
    FALLBACK_EXPORT_CATALOGUE,
    FALLBACK_MODIFICATIONS,
    NONE,
    catalogue_from_service,
    modifications_from_service,
)
from .. import compat, runtime


class _Catalogue:
    lists: dict[str, list[str]] = dict(FALLBACK_EXPORT_CATALOGUE)
    modifications: list[str] = list(FALLBACK_MODIFICATIONS)
    source: str = "built-in"
    error: str = ""
    requested: bool = False
    #: enum items handed to Blender must stay referenced while they are shown
    items: dict[str, list[tuple[str, str, str]]] = {}


DEFAULTS = {"haircuts": "HaircutGenerated", "outfits": "LORI"}
OPTIONAL = {"haircuts", "outfits", "outfits_top", "outfits_bottom", "outfits_shoes", "glasses"}


def enum_items(key: str) -> Any:
    """An ``EnumProperty`` items callback for one catalogue category."""

    def items(_self: Any, _context: Any) -> list[tuple[str, str, str]]:
        names = list(_Catalogue.lists.get(key, []))
        default = DEFAULTS.get(key)
        if default in names:  # dynamic enums default to their first item
            names.remove(default)
            names.insert(0, default)
        result = [(n, n.replace("_", " "), "") for n in names]
        if key in OPTIONAL:
            none_item = (NONE, "None", "Leave this out")
            result = [*result, none_item] if default else [none_item, *result]
        _Catalogue.items[key] = result
        return result

    return items


def status() -> str:
    text = f"Options: {_Catalogue.source}"
    return f"{text} ({_Catalogue.error})" if _Catalogue.error else text


def _cache_file(cache: Cache, service: str) -> Any:
    return cache.root / f"catalogue-{service}.json"


def load_cached() -> None:
    """At start-up: the catalogue saved by an earlier session, if any (a small file)."""
    prefs = runtime.preferences()
    if prefs is None:
        return
    path = _cache_file(Cache(runtime.cache_root(prefs)), prefs.service)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    if isinstance(data, dict) and isinstance(data.get("lists"), dict):
        _Catalogue.lists = {k: [str(x) for x in v] for k, v in data["lists"].items()}
        _Catalogue.modifications = [str(m) for m in data.get("modifications") or []] \
            or list(FALLBACK_MODIFICATIONS)
        _Catalogue.source = f"{prefs.service} (saved)"


def request_refresh(force: bool = False) -> None:
    """Ask for a background refresh; safe to call from ``draw`` (it only sets a timer)."""
    if _Catalogue.requested and not force:
        return
    _Catalogue.requested = True
    runtime.call_soon(_start_fetch)


def _start_fetch() -> None:
    prefs = runtime.preferences()
    if prefs is None:
        return
    if prefs.service != "sandbox" and not compat.online_access_allowed():
        _Catalogue.error = "offline: built-in lists"
        return
    try:
        engine = runtime.engine_for(prefs)
    except Exception as exc:  # missing credentials: keep the lists we have
        _Catalogue.error = str(exc)
        return
    scene = bpy.context.scene
    subtype = scene.avatar_importer.subtype if scene else "female"  # type: ignore[attr-defined]
    service = engine.service
    path = _cache_file(engine.cache, prefs.service)

    def fetch() -> tuple[dict[str, list[str]], list[str]]:
        params, export_params = service.discover(subtype)
        lists = catalogue_from_service(export_params)
        mods = modifications_from_service(params, subtype)
        write_atomic(path, json.dumps({"lists": lists, "modifications": mods}).encode())
        return lists, mods

    def done(result: Any, error: BaseException | None) -> None:
        if error is not None:
            _Catalogue.error = str(error)
            return
        _Catalogue.lists, _Catalogue.modifications = result
        _Catalogue.source, _Catalogue.error = prefs.service, ""

    runtime.run_task(fetch, done)


def modifications() -> list[str]:
    return list(_Catalogue.modifications)


def reset() -> None:
    _Catalogue.requested = False
    _Catalogue.items.clear()
