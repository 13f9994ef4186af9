"""The add-on's live state in an interactive Blender: engines, the sandbox, the timer pump.

Threading rules: everything here runs on Blender's main thread (operators, the timer,
register/unregister). Worker threads live inside the job engines (see core/engine.py)
and the task runner (core/tasks.py) and reach this module only through their queues,
which ``pump_tick`` drains. Nothing here blocks: the timer applies events within
``TICK_BUDGET`` and runs at most one glTF import per tick.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import deque
from pathlib import Path
from typing import Any

import bpy

from ..core.cache import ENV_CACHE, Cache, default_cache_root
from ..core.engine import JobEngine
from ..core.settings import ENV_AVATURN_TOKEN, ENV_CLIENT_ID, ENV_CLIENT_SECRET, ServiceSettings
from ..core.stages import JobSpec, JobState
from ..core.tasks import OnDone, TaskRunner
from . import compat
from .importing import undo_step
from .library import assets as library
from .wiring import build_engine

ADDON_ID = __package__.rpartition(".")[0]
TICK_BUDGET = 0.004  # seconds of event handling per timer tick
TICK_INTERVAL = 0.1
#: (seconds spent, kind) of recent timer ticks: kind is "events" or "import"
TICKS: deque[tuple[float, str]] = deque(maxlen=20000)
#: services that run on the local sandbox (no network, no account)
LOCAL_SERVICES = frozenset({"sandbox", "sandbox_avaturn"})
AVATURN_SERVICES = frozenset({"avaturn", "sandbox_avaturn"})
#: main-thread callbacks run every tick; each returns True while it still needs ticks
TICK_HOOKS: list[Any] = []


class _State:
    engines: dict[tuple[str, ...], JobEngine] = {}
    sandbox: Any = None
    tasks: TaskRunner | None = None
    soon: list[Any] = []  # one-shot timers still registered
    last_status: str | None = None
    last_redraw: float = 0.0


def preferences() -> Any:
    addon = bpy.context.preferences.addons.get(ADDON_ID)
    return addon.preferences if addon is not None else None


def cache_root(prefs: Any = None, create: bool = True) -> Path:
    """The cache root; ``create=False`` (for ``draw``) never touches the disk."""
    if os.environ.get(ENV_CACHE):
        return default_cache_root()
    cache_dir = str(prefs.cache_dir) if prefs is not None else ""
    if cache_dir:
        return Path(bpy.path.abspath(cache_dir))
    return compat.extension_cache_dir(ADDON_ID, create=create) or default_cache_root()


def ensure_sandbox(compute_seconds: float) -> Any:
    if _State.sandbox is None:
        from ..sandbox.server import Sandbox, SandboxConfig
        _State.sandbox = Sandbox(SandboxConfig(compute_seconds=compute_seconds)).start()
    return _State.sandbox


def settings_from_prefs(prefs: Any) -> ServiceSettings:
    service = prefs.service if prefs is not None else "sandbox"
    env = os.environ  # environment variables override the preferences (headless use)
    timeout = float(getattr(prefs, "timeout", 0.0)) or compat.system_network_timeout() or 60.0
    if service in LOCAL_SERVICES:
        sandbox = ensure_sandbox(getattr(prefs, "sandbox_compute_seconds", 3.0))
        if service == "sandbox_avaturn":
            return ServiceSettings(service="avaturn", base_url=sandbox.base_url,
                                   api_token=sandbox.config.avaturn_token)
        return ServiceSettings(service="sandbox", base_url=sandbox.base_url,
                               client_id="sandbox", client_secret="sandbox")
    if service == "avaturn":
        return ServiceSettings(
            service="avaturn", base_url=prefs.avaturn_base_url,
            api_token=env.get(ENV_AVATURN_TOKEN) or prefs.avaturn_token,
            player=prefs.avaturn_user_id or None, timeout=timeout)
    return ServiceSettings(
        service="avatarsdk", base_url=prefs.base_url,
        client_id=env.get(ENV_CLIENT_ID) or prefs.client_id,
        client_secret=env.get(ENV_CLIENT_SECRET) or prefs.client_secret,
        player=prefs.player_id or None, timeout=timeout)


def engine_for(prefs: Any) -> JobEngine:
    settings = settings_from_prefs(prefs)
    key = (settings.service, settings.base_url, settings.client_id,
           str(hash(settings.client_secret)))
    engine = _State.engines.get(key)
    if engine is None:
        poll = float(getattr(prefs, "poll_interval", 5.0)) if prefs is not None else 5.0
        local = prefs is None or prefs.service in LOCAL_SERVICES
        if local:
            poll = min(poll, 0.5)
        engine = build_engine(settings, Cache(cache_root(prefs)), poll_interval=poll,
                              remember_player=not local, import_options=_import_options)
        engine.listeners.append(_on_event)
        engine.listeners.append(_keep_user_in_prefs)
        engine.listeners.append(library.remember_source)
        _State.engines[key] = engine
    return engine


def _import_options() -> dict[str, Any]:
    """The panel's import settings, read when an avatar is imported (main thread)."""
    opts = getattr(bpy.context.scene, "avatar_importer", None)
    if opts is None:
        return {}
    return {"pack_images": bool(opts.pack_textures), "at_cursor": bool(opts.at_cursor),
            "transparent_bounces": bool(opts.raise_bounces)}


def submit(prefs: Any, spec: JobSpec) -> JobState:
    engine = engine_for(prefs)
    state = engine.submit(spec)
    ensure_timer()
    return state


def add_engine(key: tuple[str, ...], engine: JobEngine) -> None:
    """Pump (and shut down) an engine made elsewhere (the library backup's own)."""
    _State.engines[key] = engine
    ensure_timer()


def call_soon(fn: Any) -> None:
    """Run ``fn()`` on the main thread at the next timer tick, outside ``draw``."""

    def once() -> None:
        if once in _State.soon:
            _State.soon.remove(once)
        fn()

    _State.soon.append(once)
    bpy.app.timers.register(once, first_interval=0.0)


def run_task(fn: Any, on_done: OnDone) -> None:
    """Run ``fn`` on a worker thread; ``on_done(result, error)`` follows on the main thread."""
    if _State.tasks is None:
        _State.tasks = TaskRunner()
    _State.tasks.submit(fn, on_done)
    ensure_timer()


def all_jobs() -> list[JobState]:
    return [job for engine in _State.engines.values() for job in engine.jobs.values()]


def cancel(job_id: str) -> None:
    for engine in _State.engines.values():
        if job_id in engine.jobs:
            engine.cancel(job_id)


def dismiss(job_id: str) -> None:
    for engine in _State.engines.values():
        job = engine.jobs.get(job_id)
        if job is not None and job.stage.final:
            del engine.jobs[job_id]


def _keep_user_in_prefs(_state: JobState, event: Any) -> None:
    """Show the player / user made on first use in the preferences (kept, resettable)."""
    player = event.data.get("player") if event.kind == "remote" else None
    remember_user(player)


def remember_user(player: str | None) -> None:
    prefs = preferences()
    if not player or prefs is None or prefs.service in LOCAL_SERVICES:
        return
    field = "avaturn_user_id" if prefs.service in AVATURN_SERVICES else "player_id"
    if not getattr(prefs, field):
        setattr(prefs, field, player)


def notify(message: str, level: str = "INFO") -> None:
    """An operator report from outside an operator (timer, task callback)."""
    print(f"avatar_importer: {message}")
    with contextlib.suppress(Exception):  # no window (headless): the print is the report
        bpy.ops.avatar_importer.notify(message=message, level=level)  # type: ignore[attr-defined]


def _on_event(state: JobState, event: Any) -> None:
    if event.kind == "imported" and state.result is not None:
        notify(f"{state.spec.name} imported into {state.result.collection_name}")
    elif state.stage.value == "failed" and event.kind in ("failed", "imported"):
        notify(f"{state.spec.name} failed: {state.error}", "ERROR")


# -- the timer pump -------------------------------------------------------------------


def pump_tick() -> float | None:
    """``bpy.app.timers`` callback: apply events, at most one import; redraw on change."""
    start = time.perf_counter()
    applied = 0
    importing = False
    for engine in list(_State.engines.values()):
        applied += engine.pump(budget=TICK_BUDGET)
        if engine.last_was_import:
            importing = True
            break
    if _State.tasks is not None and not importing:
        applied += _State.tasks.drain()
    if not importing:  # after a run of imports: one Edit > Undo step for them
        undo_step.flush()
    hooks_busy = any([hook() for hook in TICK_HOOKS])
    spent = time.perf_counter() - start
    if applied:
        TICKS.append((spent, "import" if importing else "events"))
    if applied or time.monotonic() - _State.last_redraw >= 1.0:  # elapsed time keeps moving
        _State.last_redraw = time.monotonic()
        _redraw()
    tasks_busy = _State.tasks is not None and _State.tasks.busy()
    if not tasks_busy and not hooks_busy and \
            not any(e.active() for e in _State.engines.values()):
        undo_step.flush()
        _status(None)
        _redraw()
        return None
    return TICK_INTERVAL


def ensure_timer() -> None:
    if not bpy.app.timers.is_registered(pump_tick):
        bpy.app.timers.register(pump_tick, first_interval=0.0, persistent=True)


def _redraw() -> None:
    active = [j for j in all_jobs() if not j.stage.final]
    _status(f"Avatar: {active[0].spec.name} - {active[0].status_line()}" if active else None)
    wm = bpy.context.window_manager
    if wm is None:
        return
    for window in wm.windows:
        for area in window.screen.areas:
            if area.type == "VIEW_3D":
                area.tag_redraw()


def _status(text: str | None) -> None:
    if text == _State.last_status:
        return
    _State.last_status = text
    workspace = getattr(bpy.context, "workspace", None)
    if workspace is not None:
        with contextlib.suppress(AttributeError, RuntimeError):
            workspace.status_text_set(text)


def shutdown() -> None:
    """Stop every worker and timer (unregister)."""
    if bpy.app.timers.is_registered(pump_tick):
        bpy.app.timers.unregister(pump_tick)
    for once in _State.soon:
        if bpy.app.timers.is_registered(once):
            bpy.app.timers.unregister(once)
    _State.soon.clear()
    undo_step.flush()
    if _State.tasks is not None:
        _State.tasks.shutdown(wait=True)
        _State.tasks = None
    for engine in _State.engines.values():
        engine.shutdown(wait=True)
    _State.engines.clear()
    if _State.sandbox is not None:
        _State.sandbox.stop()
        _State.sandbox = None
    _status(None)
