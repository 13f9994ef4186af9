"""The job engine: one avatar = one job, run on a worker thread, applied on the main thread.

Threading rules (read before changing anything here):

* Worker threads (``avatar-job-*``, and the static fetcher's ``avatar-static-*``) do HTTP
  and file I/O only. They never touch Blender data and never change a :class:`JobState`.
  They talk to the main thread only by putting :class:`Event` objects on ``self.events``
  (a ``queue.Queue``).
* The main thread owns every :class:`JobState` and is the only caller of :meth:`pump`,
  :meth:`submit`, :meth:`resume` and :meth:`cancel`. In the Blender UI a
  ``bpy.app.timers`` callback calls ``pump``; headless, a plain loop does
  (:meth:`run_until_done`), because timers never fire there.
* The import handler (Blender's glTF import) is called from ``pump`` on the main thread,
  at most one import per call, in a call of its own so event ticks stay short.
* Cancellation is cooperative: ``cancel`` sets the job's ``threading.Event``; workers check
  it between requests, while waiting and for every downloaded chunk. It is a
  ``transport.CancelSwitch``: setting it also breaks a download blocked on a silent
  connection, so neither a cancel nor :meth:`shutdown` (add-on disabled, Blender quitting)
  waits for a read timeout.
"""

from __future__ import annotations

import queue
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .archive import extract_zip, find_model
from .avatarsdk import static_names
from .cache import OWNER_KEY, Cache, owner_mark
from .errors import (
    AvatarImporterError,
    Cancelled,
    DeadlineExceeded,
    NetworkError,
    ProtocolError,
    ServerError,
    ThrottledError,
)
from .glb import place_beside
from .parallelism import MAX_JOB_THREADS
from .service import AvatarService, Deadlines, ExportPlan, JobContext
from .stages import Event, JobSpec, JobState, Stage
from .statics import StaticFetcher
from .transport import CancelSwitch

ImportHandler = Callable[[JobState], Any]
Listener = Callable[[JobState, Event], None]

#: errors after which the remote avatar is still worth resuming later (an unreadable answer
#: is usually a proxy or a Wi-Fi sign-in page in the way, not the avatar's fault)
RESUMABLE = (NetworkError, ServerError, ThrottledError, DeadlineExceeded, ProtocolError)
MAX_EXPORT_BYTES = 4 * 1024**3
#: one static resource (a shared texture): real 4K textures weigh 20-60 MB
MAX_STATIC_BYTES = 256 * 1024**2


@dataclass
class EngineOptions:
    poll_interval: float = 5.0
    max_parallel: int = MAX_JOB_THREADS  # threads start only as jobs wait: parallelism.py
    static_workers: int = 8
    #: size limit of one static resource: a larger announced Content-Length is refused
    #: before reading, a body running past it is cut and its partial file deleted
    max_static_bytes: int = MAX_STATIC_BYTES
    deadlines: Deadlines = field(default_factory=Deadlines)


class JobEngine:
    def __init__(self, service: AvatarService, cache: Cache,
                 options: EngineOptions | None = None,
                 importer: ImportHandler | None = None) -> None:
        self.service = service
        self.cache = cache
        self.options = options or EngineOptions()
        self.importer = importer
        self.events: queue.Queue[Event] = queue.Queue()
        self.jobs: dict[str, JobState] = {}
        self.listeners: list[Listener] = []
        self._cancel: dict[str, threading.Event] = {}
        self._to_import: list[str] = []
        self._pool = ThreadPoolExecutor(max_workers=self.options.max_parallel,
                                        thread_name_prefix="avatar-job")
        self.statics = StaticFetcher(cache, self.options.static_workers)
        cache.sweep_partials()  # temporary files of runs that were killed mid-write
        self._closed = False
        self.last_was_import = False

    # -- main thread API --------------------------------------------------------------

    def submit(self, spec: JobSpec) -> JobState:
        """Start the job ``spec`` asks for - unless the same job (same ``JobSpec.key``:
        photo and options, same service base URL) is unfinished in the cache or running
        here: then that job goes on (``JobState.resumed``), and no second avatar is made."""
        key = spec.key()
        record = self.cache.unfinished_job_for(key, self.service.base_url)
        if record is not None:
            running = self.jobs.get(str(record["id"]))
            if running is not None and not running.stage.final:
                return running
            return self.resume(record)
        record = {"id": uuid.uuid4().hex[:12], "state": "active", "stage": "waiting",
                  "spec": spec.to_record(), "key": key, "created": time.time(),
                  **self.service.record()}
        return self._start(record)  # saves it

    def resume(self, record: dict[str, Any]) -> JobState:
        """Continue a job cut short by a crash or restart: poll, export, download (a
        record whose creation may have been sent looks its avatar up first)."""
        record = dict(record)
        record["state"] = "active"
        state = self._start(record)
        state.resumed = True
        return state

    def import_existing(self, avatar_code: str, spec: JobSpec, *, player: str | None = None,
                        export_code: str | None = None) -> JobState:
        """Import an avatar computed earlier (from the user's list): wait for its export,
        download it unless cached, import. No upload, no recompute."""
        record: dict[str, Any] = {
            "id": uuid.uuid4().hex[:12], "state": "active", "stage": "waiting",
            "spec": spec.to_record(), "created": time.time(), **self.service.record(),
            "avatar_code": avatar_code}
        if player:
            record["player"] = player
        if export_code:
            record["export_code"] = export_code
        self.cache.save_job(record)
        return self._start(record)

    def cancel(self, job_id: str) -> None:
        state = self.jobs.get(job_id)
        if state is None or state.stage.final:
            return
        self._cancel[job_id].set()
        if state.stage == Stage.READY:  # worker is finished; the import has not started
            self._finish(state, Stage.CANCELLED, time.monotonic())

    def active(self) -> bool:
        return any(not s.stage.final for s in self.jobs.values())

    def pump(self, budget: float = 0.004) -> int:
        """Apply queued events for at most ``budget`` seconds; or run one pending import.

        Returns the number of events applied (an import counts as one).
        """
        self.last_was_import = False
        if self._to_import and self.events.empty():
            self.last_was_import = True
            self._import_next()
            return 1
        start = time.perf_counter()
        applied = 0
        while time.perf_counter() - start < budget:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                break
            self._apply(event)
            applied += 1
        return applied

    def run_until_done(self, tick: float = 0.02, timeout: float | None = None,
                       on_tick: Callable[[], None] | None = None) -> None:
        """Headless: drive the pump from a plain loop until every job is final."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.active() or not self.events.empty():
            if not self.pump(budget=0.05):
                time.sleep(tick)
            if on_tick is not None:
                on_tick()
            if deadline is not None and time.monotonic() > deadline:
                for job_id in list(self.jobs):
                    self.cancel(job_id)
                deadline = None

    def shutdown(self, wait: bool = True) -> None:
        """Stop every worker (cancelling running jobs) and release the pools."""
        if self._closed:
            return
        self._closed = True
        for event in self._cancel.values():
            event.set()
        self.statics.shutdown(wait=wait)
        self._pool.shutdown(wait=wait, cancel_futures=True)
        self.service.close()

    # -- internals (main thread) ------------------------------------------------------

    def _start(self, record: dict[str, Any]) -> JobState:
        if self._closed:
            raise RuntimeError("the job engine is shut down")
        record[OWNER_KEY] = owner_mark()  # other processes leave it alone while we run
        self.cache.save_job(record)
        spec = JobSpec.from_record(record.get("spec") or {})
        state = JobState(id=record["id"], spec=spec, service=self.service.name,
                         avatar_code=record.get("avatar_code", ""),
                         export_code=record.get("export_code", ""))
        self.jobs[state.id] = state
        cancel = self._cancel[state.id] = CancelSwitch()  # also breaks stalled reads
        ctx = JobContext(job_id=state.id, spec=spec, cancel=cancel, post=self.events.put,
                         cache=self.cache, record=record,
                         poll_interval=self.options.poll_interval,
                         deadlines=self.options.deadlines)
        self._pool.submit(self._run, ctx)
        return state

    def _apply(self, event: Event) -> None:
        state = self.jobs.get(event.job_id)
        if state is None or state.stage.final:
            return
        data = event.data
        kind = event.kind
        if kind == "stage":
            state.enter(Stage(data["stage"]), event.at)
            if state.stage == Stage.DOWNLOADING:
                state.bytes_done, state.bytes_total = 0, None
        elif kind == "progress":
            state.progress = data["progress"]
        elif kind == "bytes":
            state.bytes_done, state.bytes_total = data["done"], data["total"]
        elif kind == "remote":
            state.avatar_code = data.get("avatar_code", state.avatar_code)
            state.export_code = data.get("export_code", state.export_code)
        elif kind == "ready":
            state.glb_path = data["glb"]
            state.search = data["search"]
            state.static_fetched = data["static_fetched"]
            state.static_reused = data["static_reused"]
            state.bytes_downloaded = data["bytes"]
            state.enter(Stage.READY, event.at)
            if self.importer is None:
                self._finish(state, Stage.DONE, event.at)
            else:
                self._to_import.append(state.id)
        elif kind == "failed":
            state.error, state.error_kind = data["message"], data["kind"]
            self._finish(state, Stage.FAILED, event.at)
        elif kind == "cancelled":
            self._finish(state, Stage.CANCELLED, event.at)
        for listener in self.listeners:
            listener(state, event)

    def _import_next(self) -> None:
        job_id = self._to_import.pop(0)
        state = self.jobs[job_id]
        if state.stage != Stage.READY or self.importer is None:
            return
        state.enter(Stage.IMPORTING, time.monotonic())
        try:
            state.result = self.importer(state)
        except AvatarImporterError as exc:
            state.error, state.error_kind = exc.message, exc.kind
            self._finish(state, Stage.FAILED, time.monotonic())
        except Exception as exc:  # the importer must never take the pump down
            state.error, state.error_kind = f"Import failed unexpectedly: {exc}", "internal"
            self._finish(state, Stage.FAILED, time.monotonic())
        else:
            self._finish(state, Stage.DONE, time.monotonic())
        for listener in self.listeners:
            listener(state, Event(job_id, "imported"))

    def _finish(self, state: JobState, stage: Stage, at: float) -> None:
        state.enter(stage, at)
        record = self.cache.load_job(state.id)
        if record is not None:
            # a job whose avatar exists, or may exist (its creation tag was sent), is kept
            known = bool(state.avatar_code or record.get("avatar_code")
                         or record.get("creation_tag") or record.get("pending_avatar"))
            resumable = stage == Stage.FAILED and known and record.get("resumable", False)
            record["state"] = "active" if resumable else stage.value
            record["stage"] = stage.value
            record["error"] = state.error
            record.pop(OWNER_KEY, None)
            self.cache.save_job(record)

    # -- worker thread ----------------------------------------------------------------

    def _run(self, ctx: JobContext) -> None:
        try:
            self._run_guarded(ctx)
        except BaseException as exc:  # last resort: the main thread must hear of the end
            self.events.put(Event(ctx.job_id, "failed", {
                "message": f"Unexpected error: {type(exc).__name__}: {exc}",
                "kind": "internal"}))

    def _run_guarded(self, ctx: JobContext) -> None:
        try:
            self._run_stages(ctx)
        except Cancelled:
            ctx.record["state"] = "cancelled"
            ctx.emit("cancelled")
        except AvatarImporterError as exc:
            ctx.record["resumable"] = isinstance(exc, RESUMABLE)
            ctx.cache.save_job(ctx.record)
            ctx.emit("failed", message=exc.message, kind=exc.kind)
        except Exception as exc:
            ctx.emit("failed", message=f"Unexpected error: {type(exc).__name__}: {exc}",
                     kind="internal")

    def _run_stages(self, ctx: JobContext) -> None:
        record = ctx.record
        if not record.get("avatar_code"):
            self.service.create(ctx)
        ctx.stage(Stage.QUEUED)
        self.service.wait_computed(ctx)
        plan = self.service.wait_export(ctx)
        glb, downloaded = self._fetch_export(ctx, plan)
        ctx.stage(Stage.STATIC)

        def fetch_one(url: str, dest: Path, stop: threading.Event) -> int:
            try:
                return self.service.download(url, dest, cancel=stop,
                                             max_bytes=self.options.max_static_bytes)
            except Cancelled:
                raise
            except AvatarImporterError as exc:  # name the texture; keep the error's kind
                exc.message = f"Shared texture {dest.name} could not be downloaded: " \
                    f"{exc.message}"
                exc.args = (exc.message,)
                raise

        statics = self.statics.fetch(plan.static_urls, fetch_one, ctx.cancel)
        names = static_names(plan.static_urls)
        search = {name: statics.paths[url] for name, url in names.items()}
        if plan.kind == "zip":  # our own export folder: textures go beside the GLB here,
            place_beside(glb, search)  # off the main thread

        ctx.check()
        ctx.emit("ready", glb=glb, search=search, static_fetched=statics.fetched,
                 static_reused=statics.reused, bytes=downloaded + statics.bytes)

    def _fetch_export(self, ctx: JobContext, plan: ExportPlan) -> tuple[Path, int]:
        """Download the export (unless cached) and extract it safely; returns the GLB."""
        folder = self.cache.export_dir(self.service.name, ctx.record["avatar_code"],
                                       ctx.record["export_code"])
        extracted = folder / "extracted"
        archive = folder / ("export.zip" if plan.kind == "zip" else "model.glb")
        downloaded = 0
        if not archive.is_file():
            ctx.stage(Stage.DOWNLOADING)
            last = [0.0]

            def progress(done: int, total: int | None) -> None:
                now = time.monotonic()
                if now - last[0] >= 0.1 or (total is not None and done >= total):
                    last[0] = now
                    ctx.emit("bytes", done=done, total=total)

            downloaded = self.service.download(plan.file_url, archive, progress=progress,
                                               cancel=ctx.cancel, max_bytes=MAX_EXPORT_BYTES,
                                               owner=ctx.record.get("player"))
        ctx.check()
        if plan.kind == "glb":
            return archive, downloaded
        if not extracted.is_dir():
            try:
                extract_zip(archive, extracted)
            except AvatarImporterError:
                archive.unlink(missing_ok=True)  # a bad archive is not worth keeping
                shutil.rmtree(extracted, ignore_errors=True)
                raise
        files = [p for p in extracted.rglob("*") if p.is_file()]
        return find_model(files), downloaded
