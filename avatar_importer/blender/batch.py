"""Headless batch import: photos in, avatars in a .blend, a JSON report and a preview.

Run as ``blender -b -P scripts/batch_import.py -- [options]`` or
``python scripts/batch_import.py [options]`` with the ``bpy`` wheel. Timers never fire
headless, so the job engine is driven by a plain loop on the main thread (the same
``pump`` the UI's timer calls). Exit code 0 only if every avatar was imported; 1 when
any failed; 2 for bad options or configuration.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import bpy

from ..core import messages
from ..core.cache import Cache, default_cache_root, write_atomic
from ..core.errors import AvatarImporterError, ConfigError, InputError
from ..core.params import (
    default_export_parameters,
    default_parameters,
    load_json_file,
)
from ..core.report import job_report
from ..core.settings import (
    ENV_AVATURN_TOKEN,
    ENV_CLIENT_ID,
    ENV_CLIENT_SECRET,
    SERVICES,
)
from ..core.stages import JobSpec, JobState, Stage
from . import compat
from .animation import batch_options as animation_options
from .importing.importer import avatars_excluded_meanwhile
from .library import manifest_run
from .wiring import batch_settings, build_engine


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="batch_import.py",
        description="Create avatars from photos with Avatar SDK MetaPerson 2.0 or Avaturn "
                    "(or the local sandbox) and import them into a .blend.",
        epilog=manifest_run.HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--service", choices=SERVICES, default="avatarsdk",
                   help="sandbox = Avatar SDK against the local sandbox")
    p.add_argument("--sandbox", action="store_true",
                   help="run the chosen service against a local sandbox (no account)")
    p.add_argument("--base-url", default="", help="API base URL (sandbox: started locally "
                   "when omitted)")
    p.add_argument("--client-id", default="", help=f"Avatar SDK; or {ENV_CLIENT_ID}")
    p.add_argument("--client-secret", default="", help=f"Avatar SDK; or {ENV_CLIENT_SECRET}")
    p.add_argument("--token", "--api-token", dest="api_token", default="",
                   help=f"Avaturn project API token; or {ENV_AVATURN_TOKEN}")
    p.add_argument("--player", default="", help="player code (Avatar SDK) or user id "
                   "(Avaturn) to reuse; else the remembered one, or a new one")
    p.add_argument("--pipeline", default="metaperson_2.0")
    p.add_argument("--subtype", choices=("male", "female"), default="female")
    p.add_argument("--photo", action="append", default=[], type=Path,
                   help="photo (JPEG/PNG); repeat for several avatars, computed at once")
    p.add_argument("--name", action="append", default=[],
                   help="avatar name per --photo (default: the photo's file name)")
    p.add_argument("--side-photo", action="append", default=[], type=Path,
                   help="Avaturn: a side photo; give it twice (left, right)")
    p.add_argument("--body-type", choices=("male", "female"),
                   help="Avaturn: body type (default: --subtype)")
    p.add_argument("--telephoto", action="store_true",
                   help="Avaturn: the photos were taken with a telephoto lens")
    p.add_argument("--avatar-id", action="append", default=[],
                   help="import an existing avatar by its id/code (repeatable)")
    p.add_argument("--parameters", type=Path, help="computation parameters JSON file")
    p.add_argument("--export-parameters", type=Path, help="export parameters JSON file")
    p.add_argument("--cache-dir", type=Path, help="cache directory (default: "
                   "AVATAR_IMPORTER_CACHE or the per-user cache)")
    p.add_argument("--out", type=Path, help="save the result as this .blend")
    p.add_argument("--report", type=Path, help="write a JSON report here")
    p.add_argument("--render", type=Path, help="render a Cycles CPU preview PNG here")
    p.add_argument("--resume", action="store_true",
                   help="resume jobs left unfinished by a crash (no recompute)")
    p.add_argument("--poll-interval", type=float, default=None,
                   help="seconds between status polls (default 5; sandbox 0.3)")
    p.add_argument("--timeout", type=float, default=60.0, help="network timeout, seconds")
    p.add_argument("--no-pack", action="store_true",
                   help="reference textures in the cache instead of packing them")
    p.add_argument("--no-compress", action="store_true",
                   help="save --out uncompressed (default: compressed, as Blender's "
                   "File > Save with Compress: a crowd's meshes take half the space)")
    p.add_argument("--sandbox-compute-seconds", type=float, default=3.0)
    animation_options.add_arguments(p)
    manifest_run.add_arguments(p)
    p.add_argument("--quiet", "-q", action="store_true",
                   help="print no progress on stdout; warnings and errors still go to "
                   "stderr")
    args = p.parse_args(argv)
    animation_options.check(args, p)
    manifest_run.check_arguments(p, args)
    if manifest_run.wanted(args):
        return args
    if not args.photo and not args.resume and not args.avatar_id:
        p.error("give at least one --photo (or --avatar-id, or --resume)")
    if args.side_photo and len(args.side_photo) != 2:
        p.error("give --side-photo twice (two side photos), or not at all")
    if args.side_photo and args.service != "avaturn":
        p.error("--side-photo is for --service avaturn")
    if args.service == "avaturn" and args.photo and not args.side_photo:
        p.error("Avaturn needs two side photos with the frontal --photo: --side-photo twice")
    if args.name and len(args.name) != len(args.photo):
        p.error("give one --name per --photo, or none")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    messages.configure(quiet=args.quiet)
    with messages.silenced_stdout(args.quiet):  # Blender's own stdout lines too
        if manifest_run.wanted(args):
            return manifest_run.main(args)
        return _main(args)


def _main(args: argparse.Namespace) -> int:
    sandbox = None
    engine = None
    try:
        if not bpy.data.filepath:
            bpy.ops.wm.read_factory_settings(use_empty=True)
        compat.allow_online_access_for_batch()
        cache = Cache(args.cache_dir or default_cache_root())
        started: list[Any] = []

        def sandbox_url() -> str:
            started.append(_start_sandbox(args.sandbox_compute_seconds))
            return str(started[0].base_url)

        settings, _local, poll = batch_settings(args, args.service, sandbox_url)
        sandbox = started[0] if started else None
        specs = _specs(args)
        engine = build_engine(settings, cache, poll_interval=poll,
                              pack_images=not args.no_pack,
                              remember_player=sandbox is None)
        player = settings.player or None
        jobs: list[JobState] = []
        if args.resume:
            for record in cache.unfinished_jobs():
                if record.get("base_url") == engine.service.base_url:
                    jobs.append(engine.resume(record))
            _say(f"resuming {len(jobs)} unfinished job(s)")
        for spec in specs:
            job = engine.submit(spec)  # the same photo and options resume an unfinished job
            if job.resumed:
                _say(job.resumed_text())
            if all(j.id != job.id for j in jobs):
                jobs.append(job)
        for code in args.avatar_id:
            jobs.append(engine.import_existing(code, JobSpec(photo=None, name=code[:12]),
                                               player=player))
        _run(engine, jobs)
    except (ConfigError, InputError) as exc:
        messages.error(str(exc))
        return 2
    except AvatarImporterError as exc:
        messages.error(str(exc))
        return 1
    finally:
        if engine is not None:
            engine.shutdown(wait=True)
        if sandbox is not None:
            sandbox.stop()
    return _finish(args, jobs)


def _specs(args: argparse.Namespace) -> list[JobSpec]:
    params = load_json_file(args.parameters, "Parameters") if args.parameters \
        else default_parameters()
    export = load_json_file(args.export_parameters, "Export parameters") \
        if args.export_parameters else default_export_parameters()
    export = animation_options.export_with_needed_shapes(args, export)
    names = args.name or [p.stem for p in args.photo]
    specs = []
    extra: dict[str, Any] = {}
    if args.service == "avaturn":
        for side in args.side_photo:
            if not Path(side).is_file():
                raise InputError(f"Side photo {side} does not exist or is not a file")
        extra = {"side_photos": [str(Path(s).resolve()) for s in args.side_photo],
                 "body_type": args.body_type or args.subtype, "telephoto": args.telephoto}
    for photo, name in zip(args.photo, names, strict=True):
        if not Path(photo).is_file():
            raise InputError(f"Photo {photo} does not exist or is not a file")
        specs.append(JobSpec(photo=Path(photo).resolve(), name=name, subtype=args.subtype,
                             pipeline=args.pipeline, parameters=params,
                             export_parameters=export, extra=dict(extra)))
    return specs


def _run(engine: Any, jobs: list[JobState]) -> None:
    seen: dict[str, str] = {}

    def show() -> None:
        for job in jobs:
            line = job.status_line()
            if seen.get(job.id) != line:
                seen[job.id] = line
                _say(f"[{job.spec.name}] {line}")

    with avatars_excluded_meanwhile():  # all put back before anything else runs
        engine.run_until_done(on_tick=show)
    show()


def _finish(args: argparse.Namespace, jobs: list[JobState]) -> int:
    reports = [job_report(j) for j in jobs]
    ok = bool(jobs) and all(j.stage == Stage.DONE for j in jobs)
    ok = animation_options.animate_reports(args, reports, _say, messages.error) and ok
    extra: dict[str, Any] = {}
    if args.render and any(j.stage == Stage.DONE for j in jobs):
        from .importing.render import render_preview
        try:
            render_preview(args.render)
            extra["render"] = str(args.render)
        except Exception as exc:  # a failed preview does not undo the import
            messages.warn(f"preview render failed: {exc}")
            extra["render_error"] = str(exc)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        bpy.ops.wm.save_as_mainfile(filepath=str(args.out.resolve()),
                                    compress=not args.no_compress)
        extra["blend"] = str(args.out)
    if args.report:
        body = {"ok": ok, "blender": bpy.app.version_string, "avatars": reports, **extra}
        write_atomic(args.report, json.dumps(body, indent=2, default=str).encode())
    for rep in reports:
        for warning in rep["warnings"]:
            messages.warn(f"{rep['name']}: {warning}")
        if rep["status"] == Stage.DONE.value:
            messages.say(f"{rep['name']}: {rep['status']}")
        else:
            why = f": {rep['error']}" if rep["error"] else ""
            messages.error(f"{rep['name']}: {rep['status']}{why}")
    return 0 if ok else 1


def _start_sandbox(compute_seconds: float) -> Any:
    from ..sandbox.server import Sandbox, SandboxConfig
    sandbox = Sandbox(SandboxConfig(compute_seconds=compute_seconds)).start()
    _say(f"sandbox running at {sandbox.base_url}")
    return sandbox


def _say(text: str) -> None:
    """Progress on stdout (silenced by --quiet). Warnings and errors: ``messages.warn`` and
    ``messages.error`` (stderr)."""
    messages.say(text)


def run_from_command_line() -> int:
    if "--" in sys.argv:
        argv = sys.argv[sys.argv.index("--") + 1:]
    elif Path(sys.argv[0]).name.lower().startswith("blender"):
        argv = []  # inside the Blender executable: its own arguments are not ours
    else:
        argv = sys.argv[1:]
    return main(argv)
