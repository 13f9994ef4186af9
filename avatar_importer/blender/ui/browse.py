"""What the panel browses: the user's avatars on the service (with thumbnails), jobs left
unfinished by a crash or restart, and the preview of the chosen photo.

Main thread only. Every listing, download and file scan runs as a background task
(``runtime.run_task``); ``draw`` only reads the state kept here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bpy

from ...core.cache import Cache
from ...core.service import RemoteAvatar
from .. import compat, runtime


class _Browse:
    avatars: list[RemoteAvatar] = []
    page: int = 1
    has_next: bool = False
    loading: bool = False
    error: str = ""
    interrupted: list[dict[str, Any]] = []
    interrupted_requested: bool = False
    previews: Any = None
    cache_size: int | None = None
    cache_size_requested: bool = False


def _previews() -> Any:
    if _Browse.previews is None:
        import bpy.utils.previews
        _Browse.previews = bpy.utils.previews.new()
    return _Browse.previews


def icon_for(key: str) -> int:
    pcoll = _Browse.previews
    if pcoll is None or key not in pcoll:
        return 0
    return int(pcoll[key].icon_id)


def has_preview(key: str) -> bool:
    """Whether a preview with pixels is loaded (icon ids stay 0 without a GPU)."""
    pcoll = _Browse.previews
    return pcoll is not None and key in pcoll and tuple(pcoll[key].image_size) != (0, 0)


# -- the photo preview --------------------------------------------------------------


def photo_key(path: str) -> str:
    return f"photo:{path}"


def load_photo_preview(path: str) -> None:
    """Property update callback: Blender makes the preview lazily, off the main thread."""
    full = bpy.path.abspath(path) if path else ""
    if full and Path(full).is_file() and photo_key(full) not in _previews():
        _previews().load(photo_key(full), full, "IMAGE")


# -- jobs left unfinished ------------------------------------------------------------


def request_interrupted(force: bool = False) -> None:
    """Safe from ``draw``: schedules a background scan of the job records."""
    if _Browse.interrupted_requested and not force:
        return
    _Browse.interrupted_requested = True
    runtime.call_soon(_scan_interrupted)


def _scan_interrupted() -> None:
    prefs = runtime.preferences()
    cache = Cache(runtime.cache_root(prefs))
    running = {j.id for j in runtime.all_jobs()}
    service = prefs.service if prefs is not None else "sandbox"

    def scan() -> list[dict[str, Any]]:
        return [r for r in cache.unfinished_jobs()
                if r.get("id") not in running and r.get("service") == service]

    def done(result: Any, error: BaseException | None) -> None:
        _Browse.interrupted = list(result or [])

    runtime.run_task(scan, done)


def interrupted() -> list[dict[str, Any]]:
    return _Browse.interrupted


def forget_interrupted(job_id: str) -> None:
    _Browse.interrupted = [r for r in _Browse.interrupted if r.get("id") != job_id]


# -- my avatars ----------------------------------------------------------------------


def refresh_avatars(page: int = 1) -> None:
    prefs = runtime.preferences()
    engine = runtime.engine_for(prefs)
    service = engine.service
    thumbs = engine.cache.root / "thumbnails"
    _Browse.loading, _Browse.error = True, ""

    def fetch() -> tuple[list[RemoteAvatar], bool]:
        return service.list_avatars(page)

    def done(result: Any, error: BaseException | None) -> None:
        _Browse.loading = False
        if error is not None:
            _Browse.error = str(error)
            return
        _Browse.avatars, _Browse.has_next = result
        _Browse.page = page
        for avatar in _Browse.avatars:
            _thumbnail(service, avatar, thumbs)

    runtime.run_task(fetch, done)


def _thumbnail(service: Any, avatar: RemoteAvatar, folder: Path) -> None:
    key = f"thumb:{avatar.code}"
    path = folder / f"{avatar.code}.png"
    if key in _previews():
        return
    if path.is_file():
        _previews().load(key, str(path), "IMAGE")
        return
    if not avatar.thumbnail or avatar.status != "Completed":
        return

    def fetch() -> None:
        service.fetch_thumbnail(avatar, path)

    def done(_result: Any, error: BaseException | None) -> None:
        if error is None and path.is_file() and key not in _previews():
            _previews().load(key, str(path), "IMAGE")

    runtime.run_task(fetch, done)


def avatars() -> list[RemoteAvatar]:
    return _Browse.avatars


def listing_state() -> tuple[int, bool, bool, str]:
    return _Browse.page, _Browse.has_next, _Browse.loading, _Browse.error


def request_cache_size(force: bool = False) -> None:
    """Safe from ``draw``: measures the cache folder in the background."""
    if _Browse.cache_size_requested and not force:
        return
    _Browse.cache_size_requested = True
    runtime.call_soon(measure_cache)


def measure_cache() -> None:
    cache = Cache(runtime.cache_root(runtime.preferences()))

    def done(result: Any, error: BaseException | None) -> None:
        _Browse.cache_size = None if error is not None else int(result)

    _Browse.cache_size = None
    runtime.run_task(cache.size_bytes, done)


def cache_size_text() -> str:
    size = _Browse.cache_size
    return "measuring..." if size is None else f"{size / 1e6:.1f} MB"


def network_allowed() -> bool:
    prefs = runtime.preferences()
    return prefs is None or prefs.service == "sandbox" or compat.online_access_allowed()


def reset() -> None:
    """Unregister: drop previews and lists (the next session starts clean)."""
    if _Browse.previews is not None:
        bpy.utils.previews.remove(_Browse.previews)
        _Browse.previews = None
    _Browse.avatars, _Browse.interrupted = [], []
    _Browse.interrupted_requested = _Browse.loading = False
    _Browse.cache_size, _Browse.cache_size_requested = None, False
    reset_watch()
    _Browse.error = ""


# -- Avaturn's browser editor ----------------------------------------------------------

WATCH_INTERVAL = 3.0
WATCH_LIMIT = 30 * 60.0


class _Watch:
    active: bool = False
    started: float = 0.0
    last: float = 0.0
    in_flight: bool = False
    url: str = ""
    baseline: dict[str, tuple[str, str]] = {}
    offered: list[RemoteAvatar] = []


def open_editor(kind: str, avatar_id: str | None = None) -> None:
    """Open a new editor session in the system browser (from a worker: never blocks
    Blender), then watch the user's avatars for the one made or edited there."""
    import time
    import webbrowser

    from ...core.errors import InputError

    engine = runtime.engine_for(runtime.preferences())
    service = engine.service
    if not hasattr(service, "open_session"):
        raise InputError("This service has no browser editor")

    def work() -> tuple[str, dict[str, tuple[str, str]]]:
        before = {a.code: (a.status, a.updated_on) for a in service.list_avatars(1)[0]}
        url = service.open_session(kind, avatar_id)  # type: ignore[attr-defined]
        webbrowser.open(url)
        return url, before

    def done(result: Any, error: BaseException | None) -> None:
        if error is not None:
            runtime.notify(f"Could not open the Avaturn editor: {error}", "ERROR")
            return
        _Watch.url, _Watch.baseline = result
        _Watch.active, _Watch.started, _Watch.last = True, time.monotonic(), 0.0
        runtime.remember_user(getattr(service, "user_id", None))
        runtime.notify("Avaturn editor opened in your browser: the avatar is offered here "
                       "for import once you finish")

    runtime.run_task(work, done)


def watch_tick() -> bool:
    """Tick hook: poll the avatar list now and then while an editor session is open."""
    import time

    if not _Watch.active:
        return False
    now = time.monotonic()
    if now - _Watch.started > WATCH_LIMIT:
        _Watch.active = False
        return False
    if _Watch.in_flight or now - _Watch.last < WATCH_INTERVAL:
        return True
    _Watch.in_flight, _Watch.last = True, now
    service = runtime.engine_for(runtime.preferences()).service

    def done(result: Any, error: BaseException | None) -> None:
        _Watch.in_flight = False
        if error is not None or not _Watch.active:
            return
        offered = {a.code for a in _Watch.offered}
        for avatar in result[0]:
            changed = _Watch.baseline.get(avatar.code) != (avatar.status, avatar.updated_on)
            if avatar.status == "Completed" and changed and avatar.code not in offered:
                _Watch.offered.append(avatar)

    runtime.run_task(lambda: service.list_avatars(1), done)
    return True


def watching() -> tuple[bool, str, list[RemoteAvatar]]:
    return _Watch.active, _Watch.url, list(_Watch.offered)


def stop_watching() -> None:
    _Watch.active = False


def take_offer(code: str) -> None:
    _Watch.offered = [a for a in _Watch.offered if a.code != code]


def reset_watch() -> None:
    _Watch.active, _Watch.in_flight, _Watch.url = False, False, ""
    _Watch.baseline, _Watch.offered = {}, []
