"""The batch script's studio mode: ``--manifest FILE --library DIR [--rows A-B]
[--assemble OUT.blend]``. Main thread only (the job engines' pump is driven from here).

For each manifest row (``core.manifest``), in the library folder (``core.library_rows``):

1. Take the row's lock; a row another worker holds is left to it (counted as transient).
2. Skip it when its asset is complete (and its animation unchanged); import its recorded
   avatar when an earlier run created one (no second creation); else create it (or import
   its ``avatar_id``).
3. As soon as the service gives the avatar's code (the engine's ``remote`` event) it is
   written to the row's state, so a killed run resumes that avatar.
4. When Blender has imported it: apply the row's animation (``row_animation``: its
   columns, else the run's ``--animation``... options; a failure fails the row, no asset),
   mark it as an asset, save ``DIR/<name>.blend``
   (``blender.library.assets``), record the row done, remove it from the open file.

Exit code (``core.errors.exit_code_for``): 0 every selected row is in the library; 1 some
row failed permanently (bad row, bad photo, credentials, plan limits); 75 only transient
failures (network, throttling, service down, a row busy elsewhere); 2 bad options or
manifest. ``--assemble OUT`` then links every asset of the library into a crowd scene
and writes ``DIR/library.json`` (the catalogue: every asset, its catalog and avatar).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bpy

from ...core import asset_catalogs, messages
from ...core.asset_meta import AssetMeta, AvatarSource
from ...core.cache import Cache, default_cache_root, write_atomic
from ...core.errors import (
    EXIT_OK,
    EXIT_USAGE,
    AvatarImporterError,
    ConfigError,
    InputError,
    exit_code_for,
)
from ...core.library_rows import LibraryRows, RowPlan, failure_fields
from ...core.manifest import Manifest, ManifestRow, load_manifest, parse_row_range
from ...core.params import default_parameters
from ...core.stages import Event, JobSpec, JobState, Stage
from .. import compat
from ..animation.batch_options import export_with_shapes_for
from ..wiring import batch_settings, build_engine
from . import assets as library
from . import row_animation

HELP = """studio mode (a manifest in, an asset library out):
  --manifest FILE --library DIR [--rows A-B] [--assemble OUT.blend]
  exit codes: 0 all done; 1 some row failed permanently (bad row or photo, rejected
  credentials, plan limits); 75 only transient failures (network, throttling, service
  down, a row busy on another worker): retry later; 2 bad options or manifest."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("studio mode (manifest -> asset library)")
    g.add_argument("--manifest", type=Path, help="CSV (header row) or JSON list: one avatar "
                   "per row; see the README for the columns")
    g.add_argument("--library", type=Path, help="asset library folder: DIR/<name>.blend per "
                   "avatar, DIR/blender_assets.cats.txt")
    g.add_argument("--rows", default="", help="run only rows A-B (or one row N), counted "
                   "from 1")
    g.add_argument("--rows-per-task", type=int, default=0, help="farm tasks: --rows N "
                   "means rows N..N+this-1; a chunk past the last row does nothing")
    g.add_argument("--assemble", type=Path, help="afterwards, link every asset of --library "
                   "into this crowd .blend (library overrides on a grid)")


def wanted(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "manifest", None) or getattr(args, "assemble", None))


def check_arguments(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if not wanted(args):
        return
    if args.library is None:
        p.error("--manifest and --assemble need --library DIR (where the assets are kept)")
    if args.photo or args.avatar_id or args.resume:
        p.error("--manifest runs the rows of its file: no --photo, --avatar-id or --resume")
    if args.rows and not args.manifest:
        p.error("--rows selects rows of a --manifest")
    if args.rows_per_task < 0:
        p.error("--rows-per-task must be at least 1")


@dataclass
class RowRun:
    row: ManifestRow
    service: str
    plan: RowPlan | None = None
    job: JobState | None = None
    status: str = "pending"  # skipped, done, failed
    error: str = ""
    kind: str = ""
    blend: str = ""
    lock: Any = None
    animation: dict[str, Any] | None = None  # what was applied (None: nothing asked)


class ManifestRun:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rows = LibraryRows(args.library)
        self.cache = Cache(args.cache_dir or default_cache_root())
        self.engines: dict[str, Any] = {}
        self.base_urls: dict[str, str] = {}
        self.by_job: dict[str, RowRun] = {}
        self.runs: list[RowRun] = []
        self.sandbox: Any = None
        self.tmp = Path(tempfile.mkdtemp(prefix="avatar-manifest-"))
        self.presets = row_animation.presets_folder(args)

    # -- the whole run --------------------------------------------------------------

    def execute(self, manifest: Manifest, first: int, last: int) -> int:
        rows, problems = manifest.select(first, last)
        failed_kinds: list[str] = []
        for problem in problems:
            messages.error(f"{manifest.path.name}: {problem}")
            failed_kinds.append("input")
            if problem.name and problem.column != "name":
                self._record_problem(problem.name, str(problem))
        for row in rows:
            self.runs.append(RowRun(row=row, service=row.service or self.args.service))
        try:
            for run in self.runs:
                self._start(run)
            self._pump()
        finally:
            for engine in self.engines.values():
                engine.shutdown(wait=True)
            if self.sandbox is not None:
                self.sandbox.stop()
            for run in self.runs:
                if run.lock is not None:
                    run.lock.release()
            shutil.rmtree(self.tmp, ignore_errors=True)
        for run in self.runs:
            if run.status == "failed":
                failed_kinds.append(run.kind)
            line = f"row {run.row.row} {run.row.name}: {run.status}"
            if run.status == "failed":
                messages.error(line + (f": {run.error}" if run.error else ""))
            else:
                _say(line + (f": {run.error}" if run.error else ""))
        self._report(problems)
        return exit_code_for(failed_kinds)

    def _record_problem(self, name: str, message: str) -> None:
        lock = self.rows.lock(name)
        if lock is None:
            return
        with lock:
            if not self.rows.complete(name):
                self.rows.update(name, **failure_fields(message, "input"))

    # -- per row ----------------------------------------------------------------------

    def _start(self, run: RowRun) -> None:
        name = run.row.name
        run.lock = self.rows.lock(name)
        if run.lock is None:
            self._fail(run, "another worker is working on this row now (lock "
                       f"{self.rows.lock_path(name)}); run again later", "busy")
            return
        redo: RowPlan | None = None
        done = self.rows.complete(name)
        recorded = self.rows.load(name)  # read once for this row
        wanted = run.row.animation.fingerprint()
        if done and row_animation.same_animation(recorded.get("animation"), wanted):
            self._skip(run)  # no engine, no request for a finished row
            return
        try:
            engine = self._engine(run.service)
        except AvatarImporterError as exc:
            self._fail(run, exc.message, exc.kind)
            return
        base_url = self.base_urls[run.service]
        if done:  # its animation changed: redo it from its recorded avatar
            redo, why_not = row_animation.redo_plan(recorded, wanted, base_url=base_url,
                                                    service=run.service)
            if redo is None:
                self._skip(run, why_not)
                return
        state = self._recover_code(recorded, base_url)
        if redo is not None:
            plan = redo
        elif state.get("_recovered"):
            plan = _plan_from(state)
        else:
            plan = self.rows.plan(name, avatar_id=run.row.avatar_id, base_url=base_url,
                                  service=run.service)
        run.plan = plan
        if plan.action == "skip":
            self._skip(run)
            return
        spec = self._spec(run)
        common = {"service": run.service, "base_url": base_url, "row": run.row.row,
                  "error": "", "error_kind": "", "transient": False}
        if plan.action == "import":
            _say(f"row {run.row.row} {name}: {plan.why}")
            self._retire_job(str(state.get("job_id") or ""))
            self.rows.update(name, status="created", avatar_code=plan.avatar_code, **common)
            run.job = engine.import_existing(plan.avatar_code, spec,
                                             player=plan.player or None,
                                             export_code=plan.export_code or None)
        else:
            self.rows.update(name, status="creating", started=time.time(), **common)
            run.job = engine.submit(spec)
        self.rows.update(name, job_id=run.job.id)
        self.by_job[run.job.id] = run

    def _skip(self, run: RowRun, why: str = "") -> None:
        run.status, run.error = "skipped", why
        run.blend = str(self.rows.blend_path(run.row.name))
        if run.lock is not None:
            run.lock.release()
            run.lock = None

    def _recover_code(self, state: dict[str, Any], base_url: str) -> dict[str, Any]:
        """A run killed between the service's answer and the row's state: the job record
        in this machine's cache may know the avatar's code."""
        if state.get("avatar_code") or not state.get("job_id"):
            return state
        record = self.cache.load_job(str(state["job_id"]))
        if record and record.get("avatar_code") and record.get("base_url") == base_url:
            return {**state, "avatar_code": record["avatar_code"],
                    "export_code": record.get("export_code", ""),
                    "player": record.get("player") or "", "_recovered": True}
        return state

    def _retire_job(self, job_id: str) -> None:
        """The earlier run's job record (this machine's cache) is taken over by this run:
        it no longer shows as an unfinished job to resume."""
        record = self.cache.load_job(job_id) if job_id else None
        if record is not None and record.get("state") == "active":
            record["state"] = "superseded"
            self.cache.save_job(record)

    def _spec(self, run: RowRun) -> JobSpec:
        row = run.row
        subtype = row.subtype or self.args.subtype
        extra: dict[str, Any] = {}
        if row.side_photos:
            extra = {"side_photos": [str(p) for p in row.side_photos], "body_type": subtype,
                     "telephoto": False}
        export = export_with_shapes_for(row.export_parameters(),
                                        face=row.animation.face_capture is not None,
                                        lipsync=row.animation.lipsync is not None)
        return JobSpec(photo=row.photo, name=row.name, subtype=subtype,
                       pipeline=self.args.pipeline, parameters=default_parameters(),
                       export_parameters=export, extra=extra)

    def _fail(self, run: RowRun, message: str, kind: str) -> None:
        run.status, run.error, run.kind = "failed", message, kind
        messages.error(f"row {run.row.row} ({run.row.name}): {message}")
        if kind != "busy":  # a busy row's state belongs to the worker holding it
            self.rows.update(run.row.name, **failure_fields(message, kind))

    # -- engines ----------------------------------------------------------------------

    def _engine(self, service: str) -> Any:
        if service in self.engines:
            return self.engines[service]
        settings, local, poll = batch_settings(self.args, service, self._sandbox_url)
        engine = build_engine(settings, self.cache, poll_interval=poll,
                              pack_images=not self.args.no_pack, remember_player=not local)
        engine.listeners.append(self._on_event)
        self.engines[service] = engine
        self.base_urls[service] = engine.service.base_url
        return engine

    def _sandbox_url(self) -> str:
        """One sandbox for the whole run, started the first time a row needs it."""
        if self.sandbox is None:
            from ...sandbox.server import Sandbox, SandboxConfig
            self.sandbox = Sandbox(SandboxConfig(
                compute_seconds=self.args.sandbox_compute_seconds)).start()
            _say(f"sandbox running at {self.sandbox.base_url}")
        return str(self.sandbox.base_url)

    def _pump(self) -> None:
        while any(e.active() or not e.events.empty() for e in self.engines.values()):
            applied = sum(e.pump(budget=0.05) for e in list(self.engines.values()))
            if not applied:
                time.sleep(0.02)

    # -- engine events (main thread, inside pump) -------------------------------------

    def _on_event(self, state: JobState, event: Event) -> None:
        run = self.by_job.get(state.id)
        if run is None:
            return
        try:
            self._apply_event(run, state, event)
        except Exception as exc:  # never take the pump (and the other rows) down
            if run.status == "pending":
                self._fail(run, f"Unexpected error: {type(exc).__name__}: {exc}", "internal")
        if run.status != "pending" and run.lock is not None:
            run.lock.release()
            run.lock = None

    def _apply_event(self, run: RowRun, state: JobState, event: Event) -> None:
        if event.kind == "remote":
            ids = {k: str(v) for k, v in event.data.items()
                   if k in ("avatar_code", "export_code", "player") and v}
            if "avatar_code" in ids:
                ids["status"] = "created"
            if ids:
                self.rows.update(run.row.name, **ids)
        elif event.kind == "imported" and state.stage == Stage.DONE:
            self._save(run, state)
        elif state.stage in (Stage.FAILED, Stage.CANCELLED) and run.status == "pending":
            self._fail(run, state.error or "cancelled", state.error_kind or "cancelled")

    def _save(self, run: RowRun, state: JobState) -> None:
        row = run.row
        collection = bpy.data.collections.get(getattr(state.result, "collection_name", ""))
        if collection is None:
            self._fail(run, "the imported avatar's collection is missing", "import_failed")
            return
        if collection.name != row.name and bpy.data.collections.get(row.name) is None:
            collection.name = row.name
        source = AvatarSource.from_job(state)
        library.remember(collection, source)
        meta = AssetMeta.for_avatar(row.name, source, catalog=row.catalog, tags=row.tags,
                                    description=row.description,
                                    preview=self._preview_file(run, state))
        wanted = row.animation.fingerprint()
        try:
            if not row.animation.empty():
                try:
                    run.animation = row_animation.animate(collection, row.animation,
                                                          self.presets)
                except AvatarImporterError as exc:  # nothing saved: no asset without it
                    self._fail(run, row_animation.failure_text(row.animation, exc), "input")
                    return
            path = library.save_avatar_to_library(collection, self.rows.folder, meta)
        except (OSError, RuntimeError, AvatarImporterError, TimeoutError) as exc:
            self._fail(run, f"saving to the library failed: {exc}", "library")
            return
        finally:
            library.remove_avatar(collection)
        run.status, run.blend = "done", str(path)
        self.rows.update(row.name, status="done", blend=path.name, done_at=time.time(),
                         animation=wanted, animation_applied=run.animation or {},
                         **meta.row_fields())
        if run.animation:
            _say(f"row {row.row} {row.name}: " + "; ".join(run.animation["summary"]))
        _say(f"row {row.row} {row.name}: saved {path}")

    def _preview_file(self, run: RowRun, state: JobState) -> Path | None:
        """The service's thumbnail of the avatar when it has one, else the row's photo."""
        engine = self.engines[run.service]
        client = getattr(engine.service, "client", None)
        if state.avatar_code and hasattr(client, "get_avatar"):
            dest = self.tmp / f"{state.id}-thumbnail.img"
            try:
                avatar = client.get_avatar(state.avatar_code,
                                           player=self.rows.load(run.row.name).get("player"))
                if avatar.thumbnail:
                    client.download(avatar.thumbnail, dest, max_bytes=20 * 1024 * 1024)
                    return dest
            except Exception as exc:  # a missing preview never fails the row
                messages.warn(f"row {run.row.row} {run.row.name}: no thumbnail ({exc}); "
                              "using the photo as its preview")
        return run.row.photo

    # -- report -----------------------------------------------------------------------

    def _report(self, problems: list[Any]) -> None:
        if not self.args.report:
            return
        body = {
            "rows": [{"row": r.row.row, "name": r.row.name, "status": r.status,
                      "avatar_code": (r.job.avatar_code if r.job else "") or
                      self.rows.load(r.row.name).get("avatar_code"),
                      "error": r.error or None, "error_kind": r.kind or None,
                      "blend": r.blend or None, "animation": r.animation}
                     for r in self.runs],
            "bad_rows": [{"row": p.row, "name": p.name, "column": p.column,
                          "error": p.message} for p in problems],
            "blender": bpy.app.version_string,
        }
        write_atomic(self.args.report, json.dumps(body, indent=2).encode())


def _plan_from(state: dict[str, Any]) -> RowPlan:
    return RowPlan("import", avatar_code=str(state["avatar_code"]),
                   export_code=str(state.get("export_code") or ""),
                   player=str(state.get("player") or ""),
                   why="resuming the avatar this machine's job record remembers")


def write_catalogue(folder: Path, crowd: Path | None = None) -> Path:
    """``DIR/library.json``: every asset of the library with its catalog and avatar."""
    rows = LibraryRows(folder)
    catalogs = {c.uuid: c.path for c in asset_catalogs.read(folder)}
    states = rows.states()
    assets = []
    for blend, name in library.library_assets(folder, exclude=crowd):
        state = states.get(blend.stem, {})
        assets.append({"name": name, "file": blend.name, "catalog": state.get("catalog"),
                       "catalog_id": next((u for u, p in catalogs.items()
                                           if p == state.get("catalog")), None),
                       "avatar_code": state.get("avatar_code"),
                       "service": state.get("service"), "tags": state.get("tags", [])})
    failed = {n: s.get("error") for n, s in states.items() if s.get("status") == "failed"}
    out = Path(folder) / "library.json"
    write_atomic(out, json.dumps({"assets": assets, "failed_rows": failed,
                                  "catalogs": sorted(catalogs.values())}, indent=2).encode())
    return out


def main(args: argparse.Namespace) -> int:
    """Run the studio mode; returns the exit code."""
    code = EXIT_OK
    try:
        if not bpy.data.filepath:
            bpy.ops.wm.read_factory_settings(use_empty=True)
        args.library.mkdir(parents=True, exist_ok=True)
        if args.assemble:
            _check_crowd_path(args.assemble, args.library)
        if args.manifest:
            manifest = load_manifest(args.manifest,
                                     animation_defaults=row_animation.run_defaults(args),
                                     user_presets=row_animation.presets_folder(args))
            if args.rows:
                first, last = parse_row_range(args.rows)
                if args.rows_per_task:
                    last = first + args.rows_per_task - 1
                if first > manifest.total and not args.rows_per_task:
                    raise InputError(f"--rows {args.rows}: the manifest has only "
                                     f"{manifest.total} row(s)")
                if first > manifest.total:
                    _say(f"rows {first}-{last}: past the manifest's last row "
                         f"({manifest.total}): nothing to do")
                    return EXIT_OK
                last = min(last, manifest.total)
            else:
                first, last = 1, manifest.total
            compat.allow_online_access_for_batch()
            _say(f"manifest {args.manifest.name}: rows {first}-{last} of {manifest.total}")
            code = ManifestRun(args).execute(manifest, first, last)
        if args.assemble:
            crowd = library.assemble_crowd(args.library, args.assemble)
            catalogue = write_catalogue(args.library, crowd.out)
            _say(f"crowd of {len(crowd.avatars)} avatar(s) saved as {crowd.out}; "
                 f"catalogue {catalogue}")
    except (ConfigError, InputError) as exc:
        messages.error(str(exc))
        return EXIT_USAGE
    except OSError as exc:
        messages.error(str(exc))
        return EXIT_USAGE
    return code


def _check_crowd_path(out: Path, folder: Path) -> None:
    """The crowd file must not be (or become) a row's asset file."""
    out = Path(out).resolve()
    if out.parent == Path(folder).resolve() and LibraryRows(folder).load(out.stem):
        raise InputError(f"--assemble {out.name} would replace the asset of the row named "
                         f"{out.stem!r}: choose another file name")


def _say(text: str) -> None:
    messages.say(text)
