"""My Avatars' "Back Up All": every avatar of the account saved into the asset library,
one after another, resumable.

Threading rules: main thread only. The avatar list is fetched by a background task
(``runtime.run_task``); downloads run in the workers of this module's own job engine
(``core.engine``), which ``runtime.pump_tick`` pumps like the panel's engine (headless
tests call ``pump_tick`` themselves). :func:`tick` (a ``runtime.TICK_HOOKS`` hook) starts
the next avatar when the previous one is finished.

Each avatar: its export is downloaded (``JobEngine.import_existing``: nothing is created
on the service, no recompute; an export already in the cache is not downloaded again),
imported into the open scene, saved as ``DIR/<name>.blend`` (``library``) and removed from
the open file again in the same main-thread step (everything the import created, by a
snapshot of ``bpy.data``; selection and active object restored). Its file is named by
``core.library_names`` (the manifest's rule) and it is described by
``AssetMeta.for_avatar``: its subtype as the service lists it, its export options those of
the job that created or imported it on this machine when the cache still has its record
(the service's list does not say them). The library's row state
(``core.library_rows``: status, avatar code, service) tells a later run what is done: an
avatar whose row is ``done`` with its file present is skipped, so an interrupted backup
goes on with the rest.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bpy

from ...core.asset_meta import AssetMeta, AvatarSource, sources_by_code, spec_for_existing
from ...core.cache import Cache
from ...core.engine import EngineOptions, JobEngine
from ...core.errors import ImportFailed
from ...core.library_names import library_name, name_key, with_suffix
from ...core.library_rows import LibraryRows, failure_fields
from ...core.row_lock import RowLock
from ...core.service import RemoteAvatar
from ...core.stages import Event, JobState, Stage
from .. import runtime
from ..importing.importer import ImportResult, import_avatar_glb, remove_created, take_snapshot
from . import assets as library

BACKUP_KEY = ("library-backup",)
MAX_PAGES = 1000  # a listing that never ends is cut here


@dataclass
class _Item:
    avatar: RemoteAvatar
    name: str
    #: what this machine's job records know of the avatar (subtype, export parameters)
    known: AvatarSource | None = None


@dataclass
class _Backup:
    folder: Path | None = None
    running: bool = False
    listing: bool = False
    queue: list[_Item] = field(default_factory=list)
    total: int = 0
    saved: int = 0
    skipped: int = 0
    failed: list[str] = field(default_factory=list)
    current: _Item | None = None
    job: JobState | None = None
    lock: RowLock | None = None
    engine: JobEngine | None = None
    cancelled: bool = False
    no_preview: int = 0
    message: str = ""


_STATE = _Backup()


def state() -> _Backup:
    return _STATE


def library_dir(prefs: Any = None) -> Path | None:
    """The library folder of the preferences, or None (the feature is off)."""
    prefs = prefs if prefs is not None else runtime.preferences()
    text = str(getattr(prefs, "library_dir", "") or "")
    return Path(bpy.path.abspath(text)) if text.strip() else None


def row_name_for(rows: LibraryRows, avatar: RemoteAvatar, service: str,
                 states: dict[str, dict[str, Any]] | None = None) -> str:
    """The row (and file) name of ``avatar``: the one it has already, else its name, made
    unique with its code when another avatar has that name. ``states``: the rows' states
    read once (``rows.states()``) for a whole listing."""
    for name, row in (rows.states() if states is None else states).items():
        if row.get("avatar_code") == avatar.code and row.get("service") in (None, service):
            return name
    base = library_name(avatar.name or avatar.code[:8])
    taken = rows.load(base)
    if (taken and taken.get("avatar_code") != avatar.code) or \
            (not taken and rows.blend_path(base).exists()):
        return with_suffix(base, avatar.code[:8])
    return base


def start(folder: Path) -> None:
    """List every avatar of the account (background), then back them up one by one."""
    global _STATE
    if _STATE.running:
        return
    prefs = runtime.preferences()
    engine = _engine(prefs)
    _STATE = _Backup(folder=Path(folder), running=True, listing=True,
                     message="Listing your avatars...", engine=engine)
    service = engine.service

    def list_all() -> list[RemoteAvatar]:
        found: list[RemoteAvatar] = []
        for page in range(1, MAX_PAGES + 1):
            avatars, more = service.list_avatars(page)
            found += avatars
            if not more:
                break
        return found

    run = _STATE

    def listed(result: Any, error: BaseException | None) -> None:
        if run is not _STATE or run.cancelled:
            return
        run.listing = False
        if error is not None:
            _finish(f"Back Up All: listing your avatars failed: {error}", "ERROR")
            return
        _plan(run, list(result or []))
        if not run.queue:
            _finish(_summary(run))
        else:
            runtime.ensure_timer()

    runtime.run_task(list_all, listed)
    if tick not in runtime.TICK_HOOKS:
        runtime.TICK_HOOKS.append(tick)


def _plan(run: _Backup, avatars: list[RemoteAvatar]) -> None:
    assert run.folder is not None and run.engine is not None
    rows = LibraryRows(run.folder)
    service = run.engine.service.name
    run.total = len(avatars)
    names: set[str] = set()
    states = rows.states()  # read once: 100 avatars, 100 rows
    cache, base_url = run.engine.cache, run.engine.service.base_url
    for avatar in avatars:
        if avatar.status != "Completed":
            run.failed.append(f"{avatar.name or avatar.code[:8]} (not ready: "
                              f"{avatar.status})")
            continue
        name = row_name_for(rows, avatar, service, states)
        if name_key(name) in names:  # two avatars of one name in this listing
            name = with_suffix(name, avatar.code[:8])
        names.add(name_key(name))
        if rows.complete(name):
            run.skipped += 1
        else:
            known = sources_by_code(cache.jobs_for_avatar(avatar.code, base_url), base_url)
            run.queue.append(_Item(avatar, name, known.get(avatar.code)))  # index: few reads
    run.message = f"{len(run.queue)} to back up, {run.skipped} already in the library"


def cancel() -> None:
    run = _STATE
    if not run.running:
        return
    run.cancelled = True
    run.queue.clear()
    if run.job is not None and run.engine is not None:
        run.engine.cancel(run.job.id)
    if run.job is None:
        _finish(f"Back Up All cancelled: {run.saved} saved", "WARNING")


def tick() -> bool:
    """Tick hook: start the next avatar when none is under way; False when finished."""
    run = _STATE
    if not run.running:
        return False
    if run.listing or run.job is not None:
        return True
    if not run.queue:
        _finish(_summary(run))
        return False
    _begin(run, run.queue.pop(0))
    return True


def _begin(run: _Backup, item: _Item) -> None:
    assert run.folder is not None and run.engine is not None
    rows = LibraryRows(run.folder)
    lock = rows.lock(item.name)
    if lock is None:
        run.failed.append(f"{item.name} (busy in another Blender)")
        return
    engine = run.engine
    rows.update(item.name, status="backing_up", avatar_code=item.avatar.code,
                service=engine.service.name, base_url=engine.service.base_url,
                source="backup")
    run.current, run.lock = item, lock
    run.message = f"Backing up {item.name} ({run.saved + run.skipped + 1} of {run.total})"
    _fetch_thumbnail(engine, item.avatar)
    spec = spec_for_existing(item.name, item.known, item.avatar.subtype)
    run.job = engine.import_existing(item.avatar.code, spec)


def _fetch_thumbnail(engine: JobEngine, avatar: RemoteAvatar) -> None:
    path = thumbnail_path(engine.cache, avatar.code)
    if path.is_file() or not avatar.thumbnail:
        return

    def done(_result: Any, _error: BaseException | None) -> None:
        pass  # a missing thumbnail only means an asset without preview

    runtime.run_task(lambda: engine.service.fetch_thumbnail(avatar, path), done)


def thumbnail_path(cache: Cache, code: str) -> Path:
    """Where My Avatars keeps an avatar's thumbnail (``browse`` writes the same)."""
    return cache.root / "thumbnails" / f"{code}.png"


def _engine(prefs: Any) -> JobEngine:
    """The backup's own engine (same account and cache as the panel's), whose import step
    saves each avatar to the library and takes it out of the open file again. It shares the
    panel engine's service (account, remote user, token); its cache is the same folder."""
    panel = runtime.engine_for(prefs)  # its service: same account, player and token
    old = _STATE.engine
    if old is not None and old.service is panel.service and \
            old.cache.root == runtime.cache_root(prefs):
        return old
    engine = JobEngine(panel.service, Cache(runtime.cache_root(prefs)),
                       EngineOptions(poll_interval=panel.options.poll_interval, max_parallel=2),
                       importer=_import_and_save)
    engine.listeners.append(_on_event)
    runtime.add_engine(BACKUP_KEY, engine)
    return engine


def _import_and_save(job: JobState) -> ImportResult:
    """The engine's import step (main thread): import, save to the library, remove."""
    run = _STATE
    if run.folder is None or run.current is None or job is not run.job or run.cancelled:
        # (a cancel that came while the download's last event was queued ends here)
        raise ImportFailed("the library backup was cancelled")
    assert job.glb_path is not None and run.engine is not None
    item = run.current
    view_layer = bpy.context.view_layer
    active = view_layer.objects.active
    selected = [o for o in view_layer.objects if o.select_get()]
    snapshot = take_snapshot()
    namesake: Any = None  # the open file's own collection of the asset's name
    try:
        result = import_avatar_glb(Path(job.glb_path), name=item.name, search=[job.search],
                                   pack_images=True, transparent_bounces=False)
        collection = bpy.data.collections[result.collection_name]
        if collection.name != item.name:  # lent its name for the write, given back below
            namesake = bpy.data.collections.get(item.name)
            if namesake is not None:
                namesake.name = f"{item.name} (backup in progress)"
            collection.name = item.name
        if not library.writes_preview(collection):
            run.no_preview += 1
        thumb = thumbnail_path(run.engine.cache, item.avatar.code)
        source = AvatarSource.from_job(job)
        library.remember(collection, source)
        meta = AssetMeta.for_avatar(item.name, source,
                                    preview=thumb if thumb.is_file() else None)
        try:
            path = library.save_avatar_to_library(collection, run.folder, meta)
        except (OSError, RuntimeError) as exc:
            raise ImportFailed(f"saving {item.name} to the library failed: {exc}") from exc
        LibraryRows(run.folder).update(
            item.name, status="done", blend=path.name, done_at=time.time(), error="",
            error_kind="", **meta.row_fields())
        return result
    finally:
        remove_created(snapshot)
        if namesake is not None:
            namesake.name = item.name
        with contextlib.suppress(ReferenceError, RuntimeError):
            for obj in view_layer.objects:
                obj.select_set(obj in selected)
            view_layer.objects.active = active


def _on_event(job: JobState, event: Event) -> None:
    run = _STATE
    if job is not run.job or not job.stage.final:
        return
    item = run.current
    assert item is not None and run.folder is not None
    if job.stage == Stage.DONE:
        run.saved += 1
    elif not run.cancelled:
        run.failed.append(f"{item.name} ({job.error or job.stage.value})")
        if job.stage == Stage.FAILED:
            LibraryRows(run.folder).update(item.name,
                                           **failure_fields(job.error, job.error_kind))
    if run.lock is not None:
        run.lock.release()
    run.job, run.current, run.lock = None, None, None
    runtime.dismiss(job.id)
    if run.cancelled:
        _finish(f"Back Up All cancelled: {run.saved} saved", "WARNING")


def _summary(run: _Backup) -> str:
    text = f"Back Up All: {run.saved} saved, {run.skipped} already in the library"
    if run.failed:
        text += f", {len(run.failed)} not saved: " + "; ".join(run.failed)
    if run.no_preview:
        text += (f". {run.no_preview} saved without preview (this Blender's partial "
                 "write drops previews)")
    return text


def _finish(message: str, level: str = "INFO") -> None:
    run = _STATE
    run.running, run.listing, run.message = False, False, message
    if run.lock is not None:
        run.lock.release()
        run.lock = None
    level = "WARNING" if level == "INFO" and run.failed else level
    runtime.notify(message, level)


def progress() -> tuple[float, str]:
    """(fraction done, text) for the panel."""
    run = _STATE
    done = run.saved + run.skipped + len(run.failed)
    fraction = done / run.total if run.total else 0.0
    return fraction, run.message


def reset() -> None:
    """Unregister: forget the run (its engine is shut down with the others)."""
    global _STATE
    if _STATE.lock is not None:
        _STATE.lock.release()
    _STATE = _Backup()

