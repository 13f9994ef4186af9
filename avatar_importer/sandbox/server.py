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

Threading rules: ``Sandbox.start`` runs each listener's ``serve_forever`` in its own daemon
thread, and ``ThreadingHTTPServer`` handles every connection in a further daemon thread. All
mutable service state (tokens, players, avatars, exports) lives in ``_State`` and is touched
only under ``_State.lock``; generated archives and textures are cached under
``Sandbox._cache_lock`` (generation runs under it, so it happens once per parameter set);
``requests_log`` is appended under ``Sandbox._log_lock``; fault switches have their own lock
(see faults.py). No lock is held while sleeping or writing to a socket. ``stop`` shuts the
listeners down and joins their threads; handler threads still streaming are left to finish.
"""

from __future__ import annotations

import argparse
import base64
import email.parser
import hmac
import io
import ipaddress
import json
import math
import re
import secrets
import socket
import struct
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .assets import (
    STATIC_TEXTURES_PREFIX,
    build_sample_avatar,
    build_thumbnail,
    parse_profile,
    textures_for_glb,
)
from .faults import HTML_PAGE, Faults

PIPELINE = "metaperson_2.0"
SUBTYPES = ("female", "male")
MAX_BODY_BYTES = 32 * 1024 * 1024
CUSTOM_STATIC_PREFIX = f"{STATIC_TEXTURES_PREFIX}/custom"
_CODE = r"([0-9a-f-]{36})"
AVATURN_PATHS = ("/api/v1/", "/avaturn")  # handled by avaturn.py (it imports this module)


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


# --- the service's catalogue ------------------------------------------------------------------

_MODEL_INFO = ["gender", "race", "age", "hair_color", "skin_color", "eye_sclera_color",
               "eye_iris_color"]
_T_BASE = ["Color", "GltfMetallicRoughness", "Normal", "Roughness", "UnityMetallicSmoothness"]
_T_OUTFIT = ["BodyVisibilityMask", "Color", "GltfMetallicRoughness", "HeadVisibilityMask",
             "Normal", "Roughness", "UnityMetallicSmoothness"]
_T_BOTTOM = ["BodyVisibilityMask", "Color", "GltfMetallicRoughness", "Metallic", "Normal",
             "Roughness", "UnityMetallicSmoothness"]
_T_SHOES = ["BodyVisibilityMask", "Color", "GltfMetallicRoughness", "Normal", "Roughness",
            "UnityMetallicSmoothness"]
_T_HAIR = ["AO", "Alpha", "Color", "Depth", "GltfMetallicRoughness", "Normal", "Root",
           "Roughness", "Scalp", "Shade", "UniqueID", "UnityMetallicSmoothness"]
_T_GLASSES = ["Color", "GltfMetallicRoughness", "Metallic", "Roughness", "UnityMetallicSmoothness"]
_PARTS = ["AvatarBody", "AvatarEyelashes", "AvatarHead", "AvatarLeftCornea", "AvatarLeftEyeball",
          "AvatarRightCornea", "AvatarRightEyeball", "AvatarTeethLower", "AvatarTeethUpper"]
_LISTS: dict[str, dict[str, list[str]]] = {
    "female": {
        "outfits_shoes": ["sneakers_ARPI", "sneakers_AZAT"],
        "outfits": ["ARPI", "CHATIN", "LORI", "dress_Shaki"],
        "outfits_bottom": ["jeans_AYGER", "jeans_SWAN", "jeans_VEDI", "shorts_Vedi"],
        "haircuts": [*sorted(f"Haircut{i}" for i in range(14)), "HaircutGenerated"],
        "outfits_top": ["hoodie_ARAS", "polo_Jil", "t-shirt_ARPI"],
    },
    "male": {  # same shape; the sandbox's own plausible lists
        "outfits_shoes": ["sneakers_ARPI", "sneakers_AZAT"],
        "outfits": ["ARPI", "CHATIN", "SWAN"],
        "outfits_bottom": ["jeans_AYGER", "jeans_SWAN", "jeans_VEDI", "shorts_Vedi"],
        "haircuts": [*sorted(f"Haircut{i}" for i in range(10)), "HaircutGenerated"],
        "outfits_top": ["hoodie_ARAS", "t-shirt_ARPI"],
    },
}


def available_parameters(subtype: str) -> dict[str, Any]:
    return {subtype: {"avatar_modifications": ["remove_smile", "remove_glasses", "remove_stubble"],
                      "model_info": list(_MODEL_INFO)}}


def available_export_parameters(subtype: str) -> dict[str, Any]:
    lists = _LISTS[subtype]
    return {
        "blendshapes": {"list": ["body_shape", "face_modifications", "mobile_51", "visemes_14",
                                 "visemes_15"]},
        "outfits_shoes": {"textures": _T_SHOES, "list": lists["outfits_shoes"]},
        "outfits": {"textures": _T_OUTFIT, "list": lists["outfits"]},
        "outfits_bottom": {"textures": _T_BOTTOM, "list": lists["outfits_bottom"]},
        "haircuts": {"textures": _T_HAIR, "list": lists["haircuts"]},
        "avatar": {"textures": _T_BASE, "list": _PARTS},
        "glasses": {"textures": _T_GLASSES, "list": [f"glasses_{i:02d}" for i in range(16)]},
        "outfits_top": {"textures": _T_OUTFIT, "list": lists["outfits_top"]},
    }


# --- export parameters ------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportChoice:
    """What one export's GLB is generated from (the cache key of generated files)."""

    subtype: str
    profile: str
    haircut: str | None
    outfit: str | None
    blendshapes: tuple[str, ...]


def _first_listed(params: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        group = params.get(key)
        if group is None:
            continue
        if not isinstance(group, dict) or not isinstance(group.get("list", []), list):
            raise ValueError(f"'{key}' must be an object with a 'list' array")
        names = group.get("list") or []
        if names:
            if not all(isinstance(n, str) for n in names):
                raise ValueError(f"'{key}.list' must hold strings")
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}", names[0]):
                raise ValueError(f"'{key}.list' holds an unusable name {names[0]!r}")
            return str(names[0])
    return None


def export_choice(subtype: str, params: Any) -> ExportChoice:
    """Validate one export-parameters object; ValueError with a plain message when unusable."""
    if not isinstance(params, dict):
        raise ValueError("each export parameters item must be a JSON object")
    fmt = params.get("format", "glb")
    if fmt != "glb":
        raise ValueError(f"the sandbox only produces format 'glb' (got {fmt!r})")
    textures = params.get("textures") or {}
    if not isinstance(textures, dict):
        raise ValueError("'textures' must be an object")
    profile = textures.get("profile", "1K.png")
    parse_profile(str(profile))
    blend = params.get("blendshapes") or {}
    names = blend.get("list", []) if isinstance(blend, dict) else None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError("'blendshapes.list' must be an array of strings")
    return ExportChoice(subtype, str(profile), _first_listed(params, "haircuts"),
                        _first_listed(params, "outfits", "outfits_top"), tuple(names))


# --- service state ----------------------------------------------------------------------------


def _now_iso() -> str:
    # timezone.utc, not datetime.UTC: Blender 3.x bundles Python 3.10
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # noqa: UP017


@dataclass
class _Export:
    code: str
    choice: ExportChoice
    created_on: str
    created_at: float  # monotonic
    completed: bool = False  # latched once Completed


@dataclass
class _Avatar:
    code: str
    player: str
    name: str
    description: str
    subtype: str
    created_on: str
    created_at: float  # monotonic
    outcome: str  # final status: Completed, Failed or Timed Out
    exports: list[_Export] = field(default_factory=list)


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    tokens: dict[str, tuple[float, int]] = field(default_factory=dict)  # -> (expiry, epoch)
    players: dict[str, dict[str, Any]] = field(default_factory=dict)
    avatars: dict[str, _Avatar] = field(default_factory=dict)


class _ApiError(Exception):
    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers or {}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # many clients connect at once (batches, static fetches)
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler],
                 family: socket.AddressFamily) -> None:
        self.address_family = family
        super().__init__(address, handler)


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
        self.requests_log: list[RequestRecord] = []
        self.verbose = False
        self._log_lock = threading.Lock()
        self._state = _State()
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

    def _avatar_progress(self, avatar: _Avatar, now: float) -> tuple[str, int]:
        total = self.config.compute_seconds
        t = now - avatar.created_at
        if t >= total:
            return avatar.outcome, 100 if avatar.outcome == "Completed" else 99
        if t < 0.1 * total:
            return "Uploading", 0
        if t < 0.25 * total:
            return "Queued", 0
        return "Computing", min(99, int(99 * (t - 0.25 * total) / (0.75 * total)))

    def _export_status(self, avatar: _Avatar, export: _Export, now: float) -> str:
        status, _ = self._avatar_progress(avatar, now)
        if status in ("Failed", "Timed Out"):
            return "Failed"
        if export.completed:
            return "Completed"
        if status != "Completed":
            return "Pending"
        start = max(export.created_at, avatar.created_at + self.config.compute_seconds)
        t = now - start
        if t < 0.3 * self.config.export_seconds:
            return "Queued"
        if t < self.config.export_seconds or self.faults.export_stuck:
            return "Computing"
        export.completed = True
        return "Completed"

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
        self._static_files.update(sample.static_files)
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


# --- request parsing --------------------------------------------------------------------------


@dataclass
class _Field:
    value: bytes
    filename: str | None = None

    def text(self) -> str:
        return self.value.decode("utf-8", errors="replace")


def _parse_form(content_type: str, body: bytes) -> dict[str, _Field]:
    """Fields of a multipart/form-data, urlencoded or JSON-object body."""
    header = email.parser.HeaderParser().parsestr(f"Content-Type: {content_type}\n\n")
    kind = header.get_content_type()
    if kind == "multipart/form-data":
        boundary = header.get_param("boundary")
        if not isinstance(boundary, str) or not boundary:
            raise _ApiError(400, "Multipart form parse error - Invalid boundary in multipart.")
        fields: dict[str, _Field] = {}
        chunks = (b"\r\n" + body).split(b"\r\n--" + boundary.encode("latin-1"))
        for chunk in chunks[1:]:
            if chunk.startswith(b"--"):
                break
            head, sep, data = chunk.partition(b"\r\n\r\n")
            if not sep:
                raise _ApiError(400, "Multipart form parse error - a part has no headers.")
            part = email.parser.BytesHeaderParser().parsebytes(head.lstrip(b"\r\n") + b"\r\n\r\n")
            name = part.get_param("name", header="content-disposition")
            if isinstance(name, str):
                fields[name] = _Field(data, part.get_filename())
        return fields
    if kind == "application/x-www-form-urlencoded":
        pairs = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
        return {k: _Field(v[-1].encode("utf-8")) for k, v in pairs.items()}
    if kind == "application/json":
        try:
            doc = json.loads(body or b"{}")
        except ValueError:
            raise _ApiError(400, "JSON parse error.") from None
        if not isinstance(doc, dict):
            raise _ApiError(400, "Expected a JSON object.")
        return {k: _Field((v if isinstance(v, str) else json.dumps(v)).encode("utf-8"))
                for k, v in doc.items()}
    if not body:
        return {}
    raise _ApiError(415, f'Unsupported media type "{kind}" in request.')


def _image_kind(data: bytes) -> str | None:
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    return None


def _json_field(fields: dict[str, _Field], name: str) -> Any:
    if name not in fields:
        return None
    try:
        return json.loads(fields[name].value or b"null")
    except ValueError:
        raise _ApiError(400, f"'{name}' is not valid JSON.") from None


# --- the handler ------------------------------------------------------------------------------

Route = tuple[str, re.Pattern[str], str]
_ROUTES: list[Route] = [
    (m, re.compile(p), h)
    for m, p, h in [
        ("POST", r"^/o/token/$", "token"),
        ("POST", r"^/players/$", "create_player"),
        ("GET", r"^/parameters/available/([^/]+)/$", "parameters"),
        ("GET", r"^/export_parameters/available/([^/]+)/$", "export_parameters"),
        ("GET", r"^/avatars/$", "list_avatars"),
        ("POST", r"^/avatars/$", "create_avatar"),
        ("GET", rf"^/avatars/{_CODE}/$", "get_avatar"),
        ("PATCH", rf"^/avatars/{_CODE}/$", "patch_avatar"),
        ("DELETE", rf"^/avatars/{_CODE}/$", "delete_avatar"),
        ("GET", rf"^/avatars/{_CODE}/exports/$", "list_exports"),
        ("POST", rf"^/avatars/{_CODE}/exports/$", "create_export"),
        ("GET", rf"^/avatars/{_CODE}/exports/{_CODE}/$", "get_export"),
        ("GET", rf"^/avatars/{_CODE}/exports/{_CODE}/files/([^/]+)/file/$", "export_file"),
        ("GET", rf"^/avatars/{_CODE}/(thumbnail|preview)/$", "thumbnail"),
        ("GET", rf"^/avatars/{_CODE}/model_info/$", "model_info"),
        ("GET", r"^/static_resources/(.+)$", "static"),
        ("GET", r"^/_sandbox/state/$", "sandbox_state"),
        ("POST", r"^/_sandbox/faults/$", "sandbox_faults"),
    ]
]
_STATIC_LISTENER_ROUTES = {"static", "sandbox_state", "sandbox_faults"}


class _Handler(BaseHTTPRequestHandler):
    sandbox: Sandbox
    listener: str
    protocol_version = "HTTP/1.1"
    server_version = "AvatarSandbox/1.0"
    timeout = 120  # seconds a kept-alive connection may stay idle
    disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls on kept-alive connections

    # quiet: the sandbox keeps its own log
    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        self._handle("GET")

    def do_HEAD(self) -> None:
        self._handle("HEAD")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # --- plumbing -----------------------------------------------------------------------------

    def _handle(self, method: str) -> None:
        self._status = 0
        self._method = method
        split = urlsplit(self.path)
        self._path, self._query = split.path, parse_qs(split.query)
        try:
            self._body = self._read_body()
            if self.sandbox.faults.latency_seconds > 0:
                time.sleep(self.sandbox.faults.latency_seconds)
            stall = self.sandbox.faults.take_stall(self._path)
            if stall > 0:
                time.sleep(stall)
            fault = self.sandbox.faults.take_request_fault(self._path, split.query)
            if fault is not None and fault.html:
                self._send_body(fault.status, HTML_PAGE, "text/html; charset=utf-8")
                return
            if fault is not None:
                raise _ApiError(fault.status, fault.detail, fault.headers)
            self._dispatch(method)
        except _ApiError as err:
            self._send_json(err.status, {"detail": err.detail}, err.headers)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            if not self._status:  # no response was started
                self._log_request()

    def _log_request(self) -> None:
        # also reached from BaseHTTPRequestHandler.send_error on malformed requests, where
        # the request line or headers may be missing
        split = urlsplit(getattr(self, "path", "") or "")
        headers = getattr(self, "headers", None) or {}
        self.sandbox._record(RequestRecord(
            getattr(self, "command", None) or "", split.path, split.query,
            headers.get("Host", ""), "Authorization" in headers, headers.get("X-PlayerUID"),
            getattr(self, "_status", 0), self.listener, headers.get("Range", "")))

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            raise _ApiError(411, "Length Required.")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self.close_connection = True
            raise _ApiError(413, "Request body is too large.")
        return self.rfile.read(length) if length else b""

    def _dispatch(self, method: str) -> None:
        if self._path.startswith(AVATURN_PATHS):  # the Avaturn API: see avaturn.py
            from .avaturn import dispatch as avaturn_dispatch
            avaturn_dispatch(self, method)
            return
        allowed = []
        for route_method, pattern, name in _ROUTES:
            match = pattern.match(self._path)
            if not match:
                continue
            if self.listener == "static" and name not in _STATIC_LISTENER_ROUTES:
                continue
            allowed.append(route_method)
            if route_method == method or (method == "HEAD" and route_method == "GET"):
                getattr(self, f"_h_{name}")(*match.groups())
                return
        if allowed:
            raise _ApiError(405, f'Method "{method}" not allowed.', {"Allow": ", ".join(allowed)})
        raise _ApiError(404, "Not found.")

    def send_response(self, code: int, message: str | None = None) -> None:
        # logged before any byte goes out, so a client that got its answer finds it in the log
        self._status = int(code)
        self._log_request()
        super().send_response(code, message)

    def _send_json(self, status: int, doc: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(doc, indent=2).encode("utf-8") if status != 204 else b""
        fault = self.sandbox.faults.take_json_fault(self._path) \
            if status < 400 and body else None
        if fault == "malformed":
            body = body[: len(body) // 2]
        self.send_response(status)
        if status != 204:
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self._method == "HEAD":
            return
        if fault in ("truncate", "reset"):
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            if fault == "reset":
                self._reset_connection()
            return
        self.wfile.write(body)

    def _send_body(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self._method != "HEAD":
            self.wfile.write(body)

    def _send_file(self, data: bytes, content_type: str, filename: str) -> None:
        total = len(data)
        start, end, status = 0, total - 1, 200
        extra: dict[str, str] = {}
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", "").strip())
        if match and (match.group(1) or match.group(2)):
            if match.group(1):
                start = int(match.group(1))
                end = min(int(match.group(2)), total - 1) if match.group(2) else total - 1
            else:
                start = max(0, total - int(match.group(2)))
            if start >= total or start > end:
                raise _ApiError(416, "Requested range not satisfiable.",
                                {"Content-Range": f"bytes */{total}"})
            status = 206
            extra["Content-Range"] = f"bytes {start}-{end}/{total}"
        body = memoryview(data)[start : end + 1]
        plan = self.sandbox.faults.take_download_plan(self._path)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Disposition", f'attachment; filename="{filename}"')
        for key, value in extra.items():
            self.send_header(key, value)
        self.end_headers()
        if self._method == "HEAD":
            return
        limit = len(body) if plan.cut_at is None else min(plan.cut_at, len(body))
        rate = plan.bytes_per_second
        step = 64 * 1024 if rate is None else max(1, min(64 * 1024, int(rate / 20) or 1))
        sent = 0
        while sent < limit:
            piece = body[sent : min(limit, sent + step)]
            self.wfile.write(piece)
            sent += len(piece)
            if rate:
                time.sleep(len(piece) / rate)
        if plan.cut_at is not None and limit < len(body):
            self.close_connection = True
            if plan.stall > 0:
                self.wfile.flush()
                time.sleep(plan.stall)
            if plan.reset:
                self._reset_connection()

    def _reset_connection(self) -> None:
        """Drop the connection with a TCP RST (no FIN): an abrupt reset seen by the client."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()  # the last file object holding the socket: close() really closes it
        self.connection.close()

    def _base(self) -> str:
        host = self.headers.get("Host", "")
        if re.fullmatch(r"[A-Za-z0-9.\-]+(:\d+)?|\[[0-9A-Fa-f:.]+\](:\d+)?", host):
            return f"http://{host}/"
        return self.sandbox.base_url

    def _static_base(self) -> str:
        cfg = self.sandbox.config
        return self.sandbox.static_base_url if cfg.separate_static_host else self._base()

    def _field(self, fields: dict[str, _Field], name: str, default: str = "") -> str:
        return fields[name].text() if name in fields else default

    # --- auth ---------------------------------------------------------------------------------

    def _require_token(self, allow_query: bool = False) -> None:
        header = self.headers.get("Authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if not token and allow_query:
            token = (self._query.get("access_token") or [""])[-1]
        if not token:
            raise _ApiError(401, "Authentication credentials were not provided.",
                            {"WWW-Authenticate": 'Bearer realm="api"'})
        epoch = self.sandbox.faults.current_epoch()
        state = self.sandbox._state
        with state.lock:
            entry = state.tokens.get(token)
            valid = entry is not None and entry[0] > time.monotonic() and entry[1] == epoch
        if not valid:
            raise _ApiError(401, "Invalid or expired token.",
                            {"WWW-Authenticate": 'Bearer realm="api", error="invalid_token"'})

    def _player(self, required: bool = True) -> str | None:
        player = self.headers.get("X-PlayerUID")
        if player is None and not required:
            return None
        with self.sandbox._state.lock:
            known = player is not None and player in self.sandbox._state.players
        if not known:
            raise _ApiError(403, "X-PlayerUID header is missing or names an unknown player.")
        return player

    def _avatar(self, code: str, player: str | None) -> _Avatar:
        """The avatar (state lock held by the caller); 404 when gone or another player's."""
        avatar = self.sandbox._state.avatars.get(code)
        if avatar is None or (player is not None and avatar.player != player):
            raise _ApiError(404, "Not found.")
        return avatar

    # --- endpoints ----------------------------------------------------------------------------

    def _h_token(self) -> None:
        fields = _parse_form(self.headers.get("Content-Type", ""), self._body)
        client_id, secret = self._field(fields, "client_id"), self._field(fields, "client_secret")
        header = self.headers.get("Authorization", "")
        if header.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
            except ValueError:
                decoded = ""
            client_id, _, secret = decoded.partition(":")
        cfg = self.sandbox.config
        ok = hmac.compare_digest(client_id.encode(), cfg.client_id.encode()) and \
            hmac.compare_digest(secret.encode(), cfg.client_secret.encode())
        if not ok:
            detail = "Invalid client credentials."
            self._send_json(401, {"error": "invalid_client", "detail": detail})
            return
        if self._field(fields, "grant_type") != "client_credentials":
            self._send_json(400, {"error": "unsupported_grant_type",
                                  "detail": "grant_type must be client_credentials."})
            return
        token = secrets.token_urlsafe(22)
        state = self.sandbox._state
        with state.lock:
            expiry = time.monotonic() + cfg.token_ttl
            state.tokens[token] = (expiry, self.sandbox.faults.current_epoch())
        self._send_json(200, {"access_token": token, "token_type": "Bearer",
                              "expires_in": int(cfg.token_ttl), "scope": "read write"})

    def _h_create_player(self) -> None:
        self._require_token()
        fields = _parse_form(self.headers.get("Content-Type", ""), self._body)
        code = str(uuid.uuid4())
        player = {"url": f"{self._base()}players/{code}/", "code": code,
                  "created_on": _now_iso(), "comment": self._field(fields, "comment")}
        with self.sandbox._state.lock:
            self.sandbox._state.players[code] = player
        self._send_json(201, player)

    def _subtype_query(self, pipeline: str, required: bool) -> str | None:
        if pipeline != PIPELINE:
            raise _ApiError(404, f"Unknown pipeline {pipeline!r}; the sandbox serves {PIPELINE}.")
        values = self._query.get("pipeline_subtype")
        subtype = values[-1] if values else None
        if subtype is None and not required:
            return None
        if subtype not in SUBTYPES:
            raise _ApiError(400, f"pipeline_subtype must be one of: {', '.join(SUBTYPES)}.")
        return subtype

    def _h_parameters(self, pipeline: str) -> None:
        self._require_token()
        subtype = self._subtype_query(pipeline, required=False)
        doc: dict[str, Any] = {}
        for s in [subtype] if subtype else SUBTYPES:
            doc.update(available_parameters(s))
        self._send_json(200, doc)

    def _h_export_parameters(self, pipeline: str) -> None:
        self._require_token()
        subtype = self._subtype_query(pipeline, required=True)
        self._send_json(200, available_export_parameters(subtype or "female"))

    def _h_create_avatar(self) -> None:
        self._require_token()
        player = self._player()
        fields = _parse_form(self.headers.get("Content-Type", ""), self._body)
        pipeline = self._field(fields, "pipeline")
        if pipeline != PIPELINE:
            raise _ApiError(400, f"pipeline must be {PIPELINE!r} (got {pipeline!r}).")
        subtype = self._field(fields, "pipeline_subtype")
        if subtype not in SUBTYPES:
            raise _ApiError(400, f"pipeline_subtype must be one of: {', '.join(SUBTYPES)}.")
        params = _json_field(fields, "parameters")
        if params is not None and not isinstance(params, dict):
            raise _ApiError(400, "'parameters' must be a JSON object.")
        exports = _json_field(fields, "export_parameters")
        items = [] if exports is None else exports if isinstance(exports, list) else [exports]
        try:
            choices = [export_choice(subtype, item) for item in items]
        except ValueError as err:
            raise _ApiError(400, f"export_parameters: {err}") from None
        photo = fields.get("photo")
        if photo is None or not photo.value:
            raise _ApiError(400, "photo: no file was submitted.")
        if _image_kind(photo.value) is None:
            raise _ApiError(400, "photo: upload a valid image (JPEG or PNG); this file is neither.")
        now, created_on = time.monotonic(), _now_iso()
        name = self._field(fields, "name", "")
        description = self._field(fields, "description", "")
        avatar = _Avatar(str(uuid.uuid4()), str(player), name, description, subtype, created_on,
                         now, self.sandbox.faults.take_avatar_outcome(),
                         [_Export(str(uuid.uuid4()), c, created_on, now) for c in choices])
        with self.sandbox._state.lock:
            self.sandbox._state.avatars[avatar.code] = avatar
        self._send_json(201, {"code": avatar.code, "created_on": created_on,
                              "description": description or name, "progress": 0,
                              "status": "Uploading",
                              "url": f"{self._base()}avatars/{avatar.code}/"})

    def _avatar_json(self, avatar: _Avatar, now: float) -> dict[str, Any]:
        status, progress = self.sandbox._avatar_progress(avatar, now)
        url = f"{self._base()}avatars/{avatar.code}/"
        done = status == "Completed"
        return {
            "blendshapes": f"{url}blendshapes/", "code": avatar.code,
            "created_on": avatar.created_on, "ctime": None, "description": avatar.description,
            "exports": f"{url}exports/", "haircuts": f"{url}haircuts/", "mesh": f"{url}mesh/",
            "model_info": f"{url}model_info/", "name": avatar.name,
            "pipeline": PIPELINE if done else None,
            "pipeline_subtype": avatar.subtype if done else None,
            "preview": f"{url}preview/", "progress": progress, "status": status,
            "texture": f"{url}texture/", "thumbnail": f"{url}thumbnail/", "url": url,
        }

    def _h_get_avatar(self, code: str) -> None:
        self._require_token()
        player = self._player()
        with self.sandbox._state.lock:
            doc = self._avatar_json(self._avatar(code, player), time.monotonic())
        self._send_json(200, doc)

    def _h_list_avatars(self) -> None:
        self._require_token()
        player = self._player()
        size = max(1, self.sandbox.config.page_size)
        now = time.monotonic()
        with self.sandbox._state.lock:
            mine = [a for a in self.sandbox._state.avatars.values() if a.player == player]
            mine.sort(key=lambda a: a.created_at, reverse=True)
            docs = [self._avatar_json(a, now) for a in mine]
        pages = max(1, math.ceil(len(docs) / size))
        try:
            page = int((self._query.get("page") or ["1"])[-1])
        except ValueError:
            page = 0
        if not 1 <= page <= pages:
            raise _ApiError(404, "Invalid page.")
        links = []
        url = f"{self._base()}avatars/?page="
        if page > 1:
            links += [f'<{url}1>; rel="first"', f'<{url}{page - 1}>; rel="prev"']
        if page < pages:
            links += [f'<{url}{page + 1}>; rel="next"', f'<{url}{pages}>; rel="last"']
        headers = {"Link": ", ".join(links)} if links else {}
        self._send_json(200, docs[(page - 1) * size : page * size], headers)

    def _h_patch_avatar(self, code: str) -> None:
        self._require_token()
        player = self._player()
        fields = _parse_form(self.headers.get("Content-Type", ""), self._body)
        with self.sandbox._state.lock:
            avatar = self._avatar(code, player)
            avatar.name = self._field(fields, "name", avatar.name)
            avatar.description = self._field(fields, "description", avatar.description)
            doc = self._avatar_json(avatar, time.monotonic())
        self._send_json(200, doc)

    def _h_delete_avatar(self, code: str) -> None:
        self._require_token()
        player = self._player()
        with self.sandbox._state.lock:
            self._avatar(code, player)
            del self.sandbox._state.avatars[code]
        self._send_json(204, None)

    def _export_json(self, avatar: _Avatar, export: _Export, status: str) -> dict[str, Any]:
        """One export's JSON; called without the state lock (listing files may generate them)."""
        url = f"{self._base()}avatars/{avatar.code}/exports/{export.code}/"
        files = []
        if status == "Completed":
            static = self._static_base().rstrip("/")
            statics = [static + p for p in self.sandbox._static_paths(export.choice)]
            files = [{"category": None, "file": f"{url}files/avatar/file/", "identity": "avatar",
                      "static_files": statics}]
        return {"avatar_code": avatar.code, "code": export.code, "created_on": export.created_on,
                "files": files, "status": status, "url": url}

    def _exports_snapshot(self, code: str, export_code: str | None) -> list[dict[str, Any]]:
        player = self._player()
        now = time.monotonic()
        with self.sandbox._state.lock:
            avatar = self._avatar(code, player)
            chosen = [e for e in avatar.exports if export_code in (None, e.code)]
            if export_code is not None and not chosen:
                raise _ApiError(404, "Not found.")
            statuses = [self.sandbox._export_status(avatar, e, now) for e in chosen]
        return [self._export_json(avatar, e, st) for e, st in zip(chosen, statuses, strict=True)]

    def _h_list_exports(self, code: str) -> None:
        self._require_token()
        self._send_json(200, self._exports_snapshot(code, None))

    def _h_get_export(self, code: str, export_code: str) -> None:
        self._require_token()
        self._send_json(200, self._exports_snapshot(code, export_code)[0])

    def _h_create_export(self, code: str) -> None:
        self._require_token()
        player = self._player()
        fields = _parse_form(self.headers.get("Content-Type", ""), self._body)
        params = _json_field(fields, "export_parameters")
        with self.sandbox._state.lock:
            avatar = self._avatar(code, player)
            status, _ = self.sandbox._avatar_progress(avatar, time.monotonic())
        if status in ("Failed", "Timed Out"):
            raise _ApiError(400, f"The avatar's computation ended {status}; it cannot be exported.")
        if isinstance(params, list) and len(params) == 1:
            params = params[0]
        try:
            choice = export_choice(avatar.subtype, params)
        except ValueError as err:
            raise _ApiError(400, f"export_parameters: {err}") from None
        now = time.monotonic()
        export = _Export(str(uuid.uuid4()), choice, _now_iso(), now)
        with self.sandbox._state.lock:
            avatar.exports.append(export)
            status = self.sandbox._export_status(avatar, export, now)
        self._send_json(201, self._export_json(avatar, export, status))

    def _h_export_file(self, code: str, export_code: str, identity: str) -> None:
        self._require_token(allow_query=True)
        player = self._player(required=False)
        with self.sandbox._state.lock:
            avatar = self._avatar(code, player)
            export = next((e for e in avatar.exports if e.code == export_code), None)
            if export is None or identity != "avatar":
                raise _ApiError(404, "Not found.")
            status = self.sandbox._export_status(avatar, export, time.monotonic())
        if status != "Completed":
            raise _ApiError(404, f"The export is not ready yet (status {status}).")
        self._send_file(self.sandbox._archive(export.choice), "application/zip", "model.zip")

    def _h_thumbnail(self, code: str, kind: str) -> None:
        self._require_token(allow_query=True)
        player = self._player(required=False)
        with self.sandbox._state.lock:
            self._avatar(code, player)
        size = 64 if kind == "thumbnail" else 128
        self._send_file(build_thumbnail(code, size), "image/png", f"{kind}.png")

    def _h_model_info(self, code: str) -> None:
        self._require_token()
        player = self._player()
        with self.sandbox._state.lock:
            avatar = self._avatar(code, player)
            status, _ = self.sandbox._avatar_progress(avatar, time.monotonic())
        if status != "Completed":
            raise _ApiError(404, f"model_info is not ready yet (status {status}).")
        self._send_json(200, {
            "age": "not_child", "age_confidence": 1, "gender": avatar.subtype,
            "gender_confidence": 1, "hair_color": {"blue": 36, "green": 58, "red": 92},
            "pipeline": PIPELINE, "pipeline_subtype": avatar.subtype, "remove_glasses": False,
            "remove_smile": False, "remove_stubble": False,
            "skin_color": {"blue": 148, "green": 176, "red": 224},
        })

    def _h_static(self, rest: str) -> None:
        data = self.sandbox.static_file(f"/static_resources/{rest}")
        if data is None:
            raise _ApiError(404, "Not found.")
        self._send_file(data, "image/png", rest.rsplit("/", 1)[-1])

    def _h_sandbox_state(self) -> None:
        sb = self.sandbox
        now = time.monotonic()
        with sb._state.lock:
            avatars = [{"code": a.code, "player": a.player,
                        "status": sb._avatar_progress(a, now)[0],
                        "exports": [{"code": e.code, "status": sb._export_status(a, e, now)}
                                    for e in a.exports]}
                       for a in sb._state.avatars.values()]
            players, tokens = len(sb._state.players), len(sb._state.tokens)
        self._send_json(200, {"base_url": sb.base_url, "static_base_url": sb.static_base_url,
                              "faults": sb.faults.as_dict(), "players": players,
                              "tokens_issued": tokens, "avatars": avatars,
                              "requests": len(sb.requests_log)})

    def _h_sandbox_faults(self) -> None:
        try:
            doc = json.loads(self._body or b"{}")
        except ValueError:
            raise _ApiError(400, "Body must be a JSON object.") from None
        if not isinstance(doc, dict):
            raise _ApiError(400, "Body must be a JSON object.")
        try:
            self.sandbox.faults.update(doc)
        except ValueError as err:
            raise _ApiError(400, str(err)) from None
        self._send_json(200, self.sandbox.faults.as_dict())


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
    parser.add_argument("--client-id", default="sandbox")
    parser.add_argument("--client-secret", default="sandbox")
    parser.add_argument("--quiet", action="store_true", help="do not print each request")
    args = parser.parse_args(argv)
    config = SandboxConfig(client_id=args.client_id, client_secret=args.client_secret,
                           compute_seconds=args.compute_seconds,
                           export_seconds=args.export_seconds, model_glb=args.model_glb,
                           separate_static_host=args.separate_static_host)
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
