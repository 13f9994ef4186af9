"""Builds a job engine for Blender: service + cache + the main-thread glTF import.

Used by both the UI (timer pump) and the headless batch script (plain loop).
Main thread only.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..core.cache import Cache
from ..core.engine import EngineOptions, JobEngine
from ..core.parallelism import MAX_JOB_THREADS
from ..core.settings import ServiceSettings, make_service
from ..core.stages import Event, JobState
from .importing import undo_step
from .importing.importer import ImportResult, import_avatar_glb


def make_importer(pack_images: bool = True,
                  options: Callable[[], dict[str, Any]] | None = None
                  ) -> Callable[[JobState], ImportResult]:
    """The engine's import handler. ``options()`` (main thread, at import time) may give
    more keyword arguments of ``import_avatar_glb`` (the panel's import settings)."""
    def import_job(state: JobState) -> ImportResult:
        assert state.glb_path is not None
        kwargs: dict[str, Any] = {"pack_images": pack_images}
        if options is not None:
            kwargs.update(options())
        result = import_avatar_glb(Path(state.glb_path), name=state.spec.name,
                                   search=[state.search], **kwargs)
        undo_step.note(result.collection_name)  # an undo step when the pump flushes
        return result
    return import_job


def build_engine(settings: ServiceSettings, cache: Cache, *, poll_interval: float = 5.0,
                 pack_images: bool = True, remember_player: bool = True,
                 max_parallel: int = MAX_JOB_THREADS,
                 import_options: Callable[[], dict[str, Any]] | None = None) -> JobEngine:
    key = Cache.player_key(settings.service, settings.base_url, settings.account())
    if remember_player and not settings.player:
        settings.player = cache.get_player(key)
    service = make_service(settings)
    engine = JobEngine(service, cache,
                       EngineOptions(poll_interval=poll_interval, max_parallel=max_parallel),
                       importer=make_importer(pack_images, import_options))
    if remember_player:
        def keep_player(_state: JobState, event: Event) -> None:
            player = event.data.get("player") if event.kind == "remote" else None
            if player and player != cache.get_player(key):
                cache.set_player(key, player)
        engine.listeners.append(keep_player)
    return engine


def batch_settings(args: argparse.Namespace, service: str,
                   sandbox_url: Callable[[], str]) -> tuple[ServiceSettings, bool, float]:
    """The batch's service settings from its options (``--base-url``, credentials,
    ``--sandbox``...) for ``service``: (settings, runs against a local sandbox, poll
    interval). ``sandbox_url()`` starts a sandbox when one is needed and none was given.
    Real services take missing credentials from the environment."""
    settings = ServiceSettings(service=service, base_url=args.base_url,
                               client_id=args.client_id, client_secret=args.client_secret,
                               api_token=args.api_token, player=args.player or None,
                               timeout=args.timeout)
    local = service == "sandbox" or args.sandbox
    if local and not settings.base_url:
        settings.base_url = sandbox_url()
    if local and service == "avaturn":
        settings.api_token = settings.api_token or "sandbox-avaturn"
    elif local:
        settings.client_id = settings.client_id or "sandbox"
        settings.client_secret = settings.client_secret or "sandbox"
    else:
        settings.with_env()
    poll = args.poll_interval
    if poll is None:
        poll = 0.3 if local else 5.0
    return settings, local, poll
