"""The sandbox: a loopback HTTP emulator of the Avatar SDK MetaPerson 2.0 web API.

It follows the seed's curl flow call for call (token, player, parameters, export parameters,
avatar creation, polling, exports, export archive, static resources) with the same JSON shapes
and status codes; see docs/service-apis.md section 1. Specifics of this emulator:

* avatars walk Uploading -> Queued -> Computing (progress rising 0..99) -> Completed (100)
  over ``compute_seconds``; ``pipeline``/``pipeline_subtype`` are null until Completed, as in
  the seed. Each export object given at creation is one export; exports are ``Pending`` until
  the avatar completes, then Queued -> Computing -> Completed over ``export_seconds``. An
  export lists its ``files`` only once Completed (``[]`` before);
* ``/avatars/...`` JSON calls need ``X-PlayerUID`` of a known player (403 otherwise); another
  player's avatar is 404. File downloads (export archive, thumbnail) check the player only
  when the header is sent, and also accept ``?access_token=``;
* static resources need no token; with ``separate_static_host`` they are served by a second
  listener, so a client can be checked for not sending ``Authorization`` there;
* only ``format: glb`` is produced; export archives hold ``avatar/model.glb``;
* ``/_sandbox/state/`` (GET) and ``/_sandbox/faults/`` (POST JSON) drive it from elsewhere;
* the Avaturn API (``/api/v1/...``, its browser-session and file URLs) is emulated by
  avaturn.py on the same listeners, with the same fault switches.

This module holds the :class:`Sandbox` (listeners, request log, generated files), its
:class:`SandboxConfig`, :class:`RequestRecord` and the command line. The rest lives in:
catalogue.py (parameters the service offers, export choices), state.py (avatars, exports,
players, tokens and their statuses), handler.py (the HTTP server and request handler),
metaperson.py (the MetaPerson routes and endpoints), routing.py, forms.py (request bodies)
and errors.py.

Threading rules: ``Sandbox.start`` runs each listener's ``serve_forever`` in its own daemon
thread, and ``ThreadingHTTPServer`` handles every connection in a further daemon thread. All
mutable service state (tokens, players, avatars, exports) lives in ``State`` (state.py) and is
touched only under ``State.lock``; generated archives and textures are cached under
``Sandbox._cache_lock`` (generation runs under it, so it happens once per parameter set);
``requests_log`` is appended under ``Sandbox._log_lock``; fault switches have their own lock
(see faults.py). No lock is held while sleeping or writing to a socket. ``stop`` shuts the
listeners down and joins their threads; handler threads still streaming are left to finish.
"""

from __future__ import annotations

import argparse
import io
import ipaddress
import socket
import sys
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from .assets import STATIC_TEXTURES_PREFIX, build_sample_avatar, textures_for_glb
from .catalogue import ExportChoice, export_choice
from .faults import Faults
from .handler import Handler as _Handler
from .handler import Server as _Server
from .link import Link
from .state import Avatar, Export, State, avatar_progress, export_status
from .textures import from_folder

__all__ = ["ExportChoice", "RequestRecord", "Sandbox", "SandboxConfig", "export_choice", "main"]

CUSTOM_STATIC_PREFIX = f"{STATIC_TEXTURES_PREFIX}/custom"


@dataclass
class SandboxConfig:
    client_id: str = "sandbox"
    client_secret: str = "sandbox"
    token_ttl: float = 36000.0
    compute_seconds: float = 3.0  # Uploading -> Queued -> Computing -> Completed
    export_seconds: float = 0.5  # export Queued/Computing -> Completed
    model_glb: Path | None = None  # serve this GLB instead of the generated avatar
    separate_static_host: bool = False  # static resources from a second listener
    page_size: int = 100
    extra_archive_bytes: int = 0  # pad export archives with a stored file this big
    # textures at real sizes: static textures found by basename in this folder are served
    # instead of the small generated ones (textures.from_folder)
    texture_dir: Path | None = None
    # one bandwidth cap shared by every file download (link.py), bytes per second
    link_bytes_per_second: float | None = None
    # the Avaturn API (avaturn.py): project API token, GLB layout ("auto": split-head for
    # female avatars, else classic; or "classic" / "split_head"), export URL lifetime
    avaturn_token: str = "sandbox-avaturn"
    avaturn_layout: str = "auto"
    avaturn_url_seconds: float = 60.0


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str  # without the query string
    query: str
    host: str  # the Host header as sent
    had_authorization: bool
    player: str | None  # the X-PlayerUID header as sent
    status: int
    listener: str  # "api" or "static"
    range: str = ""  # the Range header as sent


def _check_loopback(host: str) -> str:
    if host == "localhost":
        return "127.0.0.1"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"the sandbox binds to a loopback IP address only, not {host!r}") from None
    if not ip.is_loopback:
        raise ValueError(f"refusing to bind the sandbox to non-loopback address {host}")
    return host


class Sandbox:
    """The emulated service on 127.0.0.1; ``with Sandbox(cfg) as sb:`` starts and stops it."""

    def __init__(self, config: SandboxConfig | None = None, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.config = config or SandboxConfig()
        self.host = _check_loopback(host)
        self.port = port
        self.faults = Faults()
        rate = self.config.link_bytes_per_second
        self.link: Link | None = Link(rate) if rate else None
        self.requests_log: list[RequestRecord] = []
        self.verbose = False
        self._log_lock = threading.Lock()
        self._state = State()
        self._cache_lock = threading.Lock()
        self._archives: dict[tuple[ExportChoice, int], bytes] = {}
        self._statics: dict[ExportChoice, list[str]] = {}
        self._static_files: dict[str, bytes] = {}
        self._model: bytes | None = None
        if self.config.model_glb is not None:
            self._model = Path(self.config.model_glb).read_bytes()
            self._static_files.update(textures_for_glb(self._model, CUSTOM_STATIC_PREFIX))
        self._servers: list[_Server] = []
        self._threads: list[threading.Thread] = []
        self.base_url = ""
        self.static_base_url = ""

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> Sandbox:
        if self._servers:
            return self
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        listeners = [("api", self.port)]
        if self.config.separate_static_host:
            listeners.append(("static", 0))
        for name, port in listeners:
            handler = type("Handler", (_Handler,), {"sandbox": self, "listener": name})
            server = _Server((self.host, port), handler, family)
            self._servers.append(server)
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                      name=f"sandbox-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        hostpart = f"[{self.host}]" if ":" in self.host else self.host
        urls = [f"http://{hostpart}:{s.server_address[1]}/" for s in self._servers]
        self.base_url = urls[0]
        self.static_base_url = urls[-1]
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers, self._threads = [], []

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- inspection ---------------------------------------------------------------------------

    def requests_to(self, path_prefix: str) -> list[RequestRecord]:
        with self._log_lock:
            return [r for r in self.requests_log if r.path.startswith(path_prefix)]

    def delete_avatar(self, code: str) -> None:
        """Remove an avatar as its owner would (tests: "deleted while polling")."""
        with self._state.lock:
            self._state.avatars.pop(code, None)

    def avatar_status(self, code: str) -> str:
        with self._state.lock:
            avatar = self._state.avatars.get(code)
            if avatar is None:
                raise KeyError(code)
            return self._avatar_progress(avatar, time.monotonic())[0]

    def _record(self, record: RequestRecord) -> None:
        with self._log_lock:
            self.requests_log.append(record)
        if self.verbose:
            print(f"{record.status} {record.method} {record.path} ({record.listener})", flush=True)

    # --- clock-driven statuses (callers hold the state lock) ----------------------------------

    def _avatar_progress(self, avatar: Avatar, now: float) -> tuple[str, int]:
        return avatar_progress(avatar, now, self.config.compute_seconds)

    def _export_status(self, avatar: Avatar, export: Export, now: float) -> str:
        cfg = self.config
        return export_status(avatar, export, now, cfg.compute_seconds, cfg.export_seconds,
                             self.faults.export_stuck)

    # --- generated files ----------------------------------------------------------------------

    def _static_paths(self, choice: ExportChoice) -> list[str]:
        if self._model is not None:
            return sorted(self._static_files)
        with self._cache_lock:
            if choice not in self._statics:
                self._generate(choice)
            return self._statics[choice]

    def _archive(self, choice: ExportChoice) -> bytes:
        key = (choice, self.config.extra_archive_bytes)
        with self._cache_lock:
            if key not in self._archives:
                glb = self._model if self._model is not None else self._generate(choice)
                self._archives[key] = _zip_archive(glb, self.config.extra_archive_bytes)
            return self._archives[key]

    def _generate(self, choice: ExportChoice) -> bytes:
        """Build the sample avatar for ``choice`` (caller holds the cache lock)."""
        sample = build_sample_avatar(choice.subtype, profile=choice.profile,
                                     haircut=choice.haircut, outfit=choice.outfit,
                                     blendshapes=choice.blendshapes)
        self._static_files.update(from_folder(sample.static_files, self.config.texture_dir))
        self._statics[choice] = sorted(sample.static_files)
        return sample.glb

    def static_file(self, path: str) -> bytes | None:
        with self._cache_lock:
            return self._static_files.get(path) or self._static_files.get(unquote(path))


def _zip_archive(glb: bytes, extra_bytes: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("avatar/model.glb", date_time=(2020, 1, 1, 0, 0, 0))
        zf.writestr(info, glb, compress_type=zipfile.ZIP_DEFLATED)
        if extra_bytes > 0:
            pad = zipfile.ZipInfo("avatar/padding.bin", date_time=(2020, 1, 1, 0, 0, 0))
            zf.writestr(pad, bytes(extra_bytes), compress_type=zipfile.ZIP_STORED)
    return buf.getvalue()



# --- command line -----------------------------------------------------------------------------


def main(argv: list[str] | None = None, *, wait: Callable[[], None] | None = None) -> int:
    """Run the sandbox until Ctrl+C. ``wait`` replaces the endless wait (for tests)."""
    parser = argparse.ArgumentParser(
        prog="python -m avatar_importer.sandbox",
        description="Loopback emulator of the Avatar SDK MetaPerson 2.0 web API.")
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--port", type=int, default=8765, help="port (0 = any free port)")
    parser.add_argument("--compute-seconds", type=float, default=3.0)
    parser.add_argument("--export-seconds", type=float, default=0.5)
    parser.add_argument("--model-glb", type=Path, default=None,
                        help="serve this GLB instead of the generated avatar")
    parser.add_argument("--separate-static-host", action="store_true",
                        help="serve static resources from a second port")
    parser.add_argument("--texture-dir", type=Path, default=None,
                        help="serve the static textures found here (by file name) instead of "
                             "the small generated ones, e.g. made by "
                             "scripts/bench_lib/texture_gen.py at real sizes")
    parser.add_argument("--link-bytes-per-second", type=float, default=None,
                        help="one bandwidth cap shared by all file downloads")
    parser.add_argument("--client-id", default="sandbox")
    parser.add_argument("--client-secret", default="sandbox")
    parser.add_argument("--quiet", action="store_true", help="do not print each request")
    args = parser.parse_args(argv)
    config = SandboxConfig(client_id=args.client_id, client_secret=args.client_secret,
                           compute_seconds=args.compute_seconds,
                           export_seconds=args.export_seconds, model_glb=args.model_glb,
                           separate_static_host=args.separate_static_host,
                           texture_dir=args.texture_dir,
                           link_bytes_per_second=args.link_bytes_per_second)
    try:
        sandbox = Sandbox(config, host=args.host, port=args.port)
        sandbox.start()
    except (ValueError, OSError) as err:
        print(f"sandbox: {err}", file=sys.stderr)
        return 2
    sandbox.verbose = not args.quiet
    print(f"Avatar SDK sandbox at {sandbox.base_url}", flush=True)
    if config.separate_static_host:
        print(f"static resources at {sandbox.static_base_url}", flush=True)
    print(f"client id: {config.client_id}  client secret: {config.client_secret}", flush=True)
    print(f"Avaturn API token: {config.avaturn_token}", flush=True)
    print("press Ctrl+C to stop", flush=True)
    try:
        if wait is not None:
            wait()
        else:
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    return 0
