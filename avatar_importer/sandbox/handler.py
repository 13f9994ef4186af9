"""The sandbox's HTTP server and request handler: reading requests, applying the fault
switches, dispatching to the MetaPerson (:mod:`.metaperson`) or Avaturn (:mod:`.avaturn`)
endpoints, and sending JSON, pages and (ranged, throttled, cut) files.

Each listener of a :class:`~.server.Sandbox` gets its own subclass of :class:`Handler` with
``sandbox`` and ``listener`` set (see ``Sandbox.start``).
"""

from __future__ import annotations

import json
import re
import socket
import struct
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from .avaturn import dispatch as avaturn_dispatch
from .errors import ApiError
from .faults import GATEWAY_TIMEOUT_PAGE, HTML_PAGE
from .metaperson import dispatch as metaperson_dispatch

if TYPE_CHECKING:
    from .server import Sandbox

MAX_BODY_BYTES = 32 * 1024 * 1024
AVATURN_PATHS = ("/api/v1/", "/avaturn")  # handled by avaturn.py


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # many clients connect at once (batches, static fetches)
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler],
                 family: socket.AddressFamily) -> None:
        self.address_family = family
        super().__init__(address, handler)


class Handler(BaseHTTPRequestHandler):
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
                raise ApiError(fault.status, fault.detail, fault.headers)
            self._dispatch(method)
        except ApiError as err:
            self._send_json(err.status, {"detail": err.detail}, err.headers)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            if not self._status:  # no response was started
                self._log_request()

    def _log_request(self) -> None:
        # also reached from BaseHTTPRequestHandler.send_error on malformed requests, where
        # the request line or headers may be missing
        from .server import RequestRecord  # server.py imports this module

        split = urlsplit(getattr(self, "path", "") or "")
        headers = getattr(self, "headers", None) or {}
        self.sandbox._record(RequestRecord(
            getattr(self, "command", None) or "", split.path, split.query,
            headers.get("Host", ""), "Authorization" in headers, headers.get("X-PlayerUID"),
            getattr(self, "_status", 0), self.listener, headers.get("Range", "")))

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            raise ApiError(411, "Length Required.")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self.close_connection = True
            raise ApiError(413, "Request body is too large.")
        return self.rfile.read(length) if length else b""

    def _dispatch(self, method: str) -> None:
        if self._path.startswith(AVATURN_PATHS):
            avaturn_dispatch(self, method)
        else:
            metaperson_dispatch(self, method)

    def send_response(self, code: int, message: str | None = None) -> None:
        # logged before any byte goes out, so a client that got its answer finds it in the log
        self._status = int(code)
        self._log_request()
        super().send_response(code, message)

    # --- answers ------------------------------------------------------------------------------

    def _send_json(self, status: int, doc: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(doc, indent=2).encode("utf-8") if status != 204 else b""
        after = self.sandbox.faults.take_after_action(self._method, self._path) \
            if status < 400 else None
        if after == "504":  # the service acted; a gateway gave up waiting for its answer
            self._send_body(504, GATEWAY_TIMEOUT_PAGE, "text/html")
            return
        if after == "reset":
            self._status = 0  # nothing was answered: logged as such
            self.close_connection = True
            self._reset_connection()
            return
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
        endless, announced = self.sandbox.faults.take_endless(self._path)
        if endless:
            self._send_endless(content_type, announced)
            return
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
                raise ApiError(416, "Requested range not satisfiable.",
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
            if self.sandbox.link is not None:  # the shared bandwidth cap (link.py)
                self.sandbox.link.take(len(piece))
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

    def _send_endless(self, content_type: str, announced: int | None) -> None:
        """Zeros until the client goes away (fault ``endless_next_downloads``)."""
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        if announced is not None:
            self.send_header("Content-Length", str(announced))
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if self._method == "HEAD":
            return
        piece = bytes(64 * 1024)
        sent = 0
        try:
            while announced is None or sent < announced:
                self.wfile.write(piece)
                sent += len(piece)
        except OSError:  # the client stopped reading and closed: what it should do
            return

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
