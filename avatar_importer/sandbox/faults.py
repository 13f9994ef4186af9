"""Fault switches of the sandbox: make the emulated service misbehave on purpose.

Set them from Python (``sandbox.faults.throttle_next = 2`` or ``sandbox.faults.update({...})``)
or from another process with ``POST /_sandbox/faults/`` and a JSON object whose keys are the
names below (``{"expire_tokens": true}`` runs :meth:`Faults.expire_tokens`; ``{"reset": true}``
first puts every switch back to its default). Counters count down as they fire. Requests to
``/_sandbox/`` itself are never affected.

Request faults (every other request, static resources included):

``latency_seconds`` (float, 0)
    added to every request before it is handled.
``throttle_next`` (int, 0) and ``retry_after`` (float or null, null)
    the next N requests get ``429 {"detail": ...}``; a ``Retry-After`` header (whole seconds,
    rounded up) is sent when ``retry_after`` is not null.
``error_next`` (int, 0) and ``error_status`` (int, 500)
    the next N requests get ``error_status`` with ``{"detail": ...}`` (throttling fires first);
    a ``503`` carries ``Retry-After`` when ``retry_after`` is not null.
``error_path_prefix`` (str, "")
    every request fault and JSON-body fault in this section and the next only hits paths
    starting with this, e.g. ``"/avatars/"``. With ``error_next`` set high it makes a
    permanent error (``error_status`` 401, 402 or 403 get the service's own wording).
``stall_next`` (int, 0) and ``stall_seconds`` (float, 2.0)
    the next N requests wait ``stall_seconds`` before they are handled: a client whose read
    timeout is shorter sees a read timeout (fires before every other fault).
``redirect_next`` (int, 0) and ``redirect_to`` (str, "")
    the next N requests get ``302`` with ``Location: <redirect_to><path>[?query]``.
``html_next`` (int, 0) and ``html_status`` (int, 200)
    the next N requests get an HTML page with that status, as a proxy or a Wi-Fi sign-in
    page would send (fires after throttling and errors).

JSON-body faults (successful JSON answers; ``/_sandbox/`` excepted):

``malformed_json_next`` (int, 0)
    the next N JSON answers carry half of their body (Content-Length matching): not JSON.
``truncate_next_json`` (int, 0) / ``reset_next_json`` (int, 0)
    the next N JSON answers declare the full Content-Length but stop after half of the body
    and close the connection cleanly / reset it (TCP RST).

Faults after the service acted (successful answers to ``POST``; ``error_path_prefix``
applies; ``/_sandbox/`` excepted):

``act_then_504_next`` (int, 0)
    the next N successful POSTs are carried out (the avatar exists, the player is made...)
    and then answered ``504`` with a gateway's HTML page instead of their JSON, as a proxy
    that gave up waiting would.
``act_then_reset_next`` (int, 0)
    the next N successful POSTs are carried out and then the connection is reset (TCP RST)
    before any byte of the answer is sent.

Token fault:

``expire_tokens()`` / ``"expire_tokens": true``
    every token issued so far becomes invalid now (next call 401); new tokens work.

Computation faults:

``fail_next_avatars`` (int, 0) and ``fail_status`` ("Failed" or "Timed Out", "Failed")
    the next N avatars created walk to ``fail_status`` instead of ``Completed``; their exports
    end ``Failed`` too.
``export_stuck`` (bool, false)
    exports not yet completed never complete (they stay ``Computing``) while this is on.

Download faults (file downloads: export archives, static resources, thumbnails):

``download_path_prefix`` (str, "")
    the download faults below only hit paths starting with this.
``download_bytes_per_second`` (float or null, null)
    bodies are streamed in chunks at about this rate.
``truncate_next_downloads`` (int, 0) and ``truncate_at_bytes`` (int, 1024)
    the next N downloads send the full ``Content-Length`` but close the connection cleanly
    after ``truncate_at_bytes`` bytes of the body.
``reset_next_downloads`` (int, 0)
    the next N downloads send ``truncate_at_bytes`` bytes of the body, then reset the
    connection (TCP RST) abruptly.
``stall_next_downloads`` (int, 0)
    the next N downloads send ``truncate_at_bytes`` bytes of the body, then go silent for
    ``stall_seconds`` and close: a read timeout in the middle of the body.

``endless_next_downloads`` (int, 0) and ``endless_announce_bytes`` (int or null, 8 GiB)
    the next N downloads announce ``Content-Length: endless_announce_bytes`` (none when null:
    the body ends when the connection closes) and send zeros until the client goes away.

Test helpers on :class:`~.server.Sandbox` (Python only): ``delete_avatar(code)`` removes an
avatar as if its owner deleted it (later calls about it answer 404).

Thread safety: every read-modify-write happens under the object's own lock; plain attribute
assignment from another thread is also fine (one value at a time).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

FAIL_STATUSES = ("Failed", "Timed Out")

_CONTROL_PREFIX = "/_sandbox/"


_STATUS_DETAIL = {
    401: "Invalid or expired token.",
    402: "Payment required: the plan's limit of avatars is reached.",
    403: "You do not have permission to perform this action.",
    404: "Not found.",
}

HTML_PAGE = (b"<!DOCTYPE html>\n<html><head><title>Sign in to the Wi-Fi</title></head>"
             b"<body><h1>Welcome</h1><p>Accept the terms to continue browsing.</p>"
             b"</body></html>\n")


GATEWAY_TIMEOUT_PAGE = (b"<!DOCTYPE html>\n<html><head><title>504 Gateway Time-out</title>"
                        b"</head><body><center><h1>504 Gateway Time-out</h1></center><hr>"
                        b"<center>gateway</center></body></html>\n")


@dataclass(frozen=True)
class RequestFault:
    """A response to send instead of handling the request."""

    status: int
    detail: str
    headers: dict[str, str]
    html: bool = False  # send HTML_PAGE instead of a JSON error


@dataclass(frozen=True)
class DownloadPlan:
    """How to send one file body."""

    bytes_per_second: float | None = None
    cut_at: int | None = None  # stop after this many body bytes
    reset: bool = False  # after cut_at: reset the connection instead of closing it cleanly
    stall: float = 0.0  # after cut_at: stay silent this long before closing


@dataclass
class Faults:
    latency_seconds: float = 0.0
    throttle_next: int = 0
    retry_after: float | None = None
    error_next: int = 0
    error_status: int = 500
    error_path_prefix: str = ""
    stall_next: int = 0
    stall_seconds: float = 2.0
    redirect_next: int = 0
    redirect_to: str = ""
    html_next: int = 0
    html_status: int = 200
    malformed_json_next: int = 0
    truncate_next_json: int = 0
    reset_next_json: int = 0
    fail_next_avatars: int = 0
    fail_status: str = "Failed"
    export_stuck: bool = False
    download_path_prefix: str = ""
    download_bytes_per_second: float | None = None
    truncate_next_downloads: int = 0
    truncate_at_bytes: int = 1024
    reset_next_downloads: int = 0
    stall_next_downloads: int = 0
    act_then_504_next: int = 0
    act_then_reset_next: int = 0
    endless_next_downloads: int = 0
    endless_announce_bytes: int | None = 8 * 1024**3
    #: bumped by expire_tokens(); tokens issued under an older epoch are invalid
    token_epoch: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    # --- settings ---------------------------------------------------------------------------

    def names(self) -> list[str]:
        return [f.name for f in fields(self) if f.name not in ("_lock", "token_epoch")]

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            data = {name: getattr(self, name) for name in self.names()}
            data["token_epoch"] = self.token_epoch
            return data

    def update(self, values: Mapping[str, Any]) -> None:
        """Merge settings by name; ValueError (nothing changed) on an unknown name or bad value."""
        checked: dict[str, Any] = {}
        expire = reset = False
        for name, value in values.items():
            if name in ("expire_tokens", "reset"):
                if not isinstance(value, bool):
                    raise ValueError(f"{name} must be true or false")
                expire, reset = (value, reset) if name == "expire_tokens" else (expire, value)
                continue
            if name not in self.names():
                raise ValueError(f"unknown fault switch {name!r}")
            checked[name] = self._check(name, value)
        if reset:
            self.reset()
        with self._lock:
            for name, value in checked.items():
                setattr(self, name, value)
            if expire:
                self.token_epoch += 1

    def reset(self) -> None:
        """Every switch back to its default (tokens stay as they are)."""
        defaults = Faults()
        with self._lock:
            for name in self.names():
                setattr(self, name, getattr(defaults, name))

    def _check(self, name: str, value: Any) -> Any:
        default = getattr(Faults(), name)
        optional = name in ("retry_after", "download_bytes_per_second",
                            "endless_announce_bytes")
        if value is None and optional:
            return None
        if isinstance(default, bool) or name == "export_stuck":
            if not isinstance(value, bool):
                raise ValueError(f"{name} must be true or false")
            return value
        if isinstance(default, str):
            if not isinstance(value, str):
                raise ValueError(f"{name} must be a string")
            if name == "fail_status" and value not in FAIL_STATUSES:
                raise ValueError(f"fail_status must be one of {', '.join(FAIL_STATUSES)}")
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{name} must be a number")
        if value < 0 or (isinstance(value, float) and not math.isfinite(value)):
            raise ValueError(f"{name} must be a finite number >= 0")
        if isinstance(default, int) and not optional:
            if int(value) != value:
                raise ValueError(f"{name} must be a whole number")
            return int(value)
        return float(value)

    # --- firing (called by the server) -------------------------------------------------------

    def expire_tokens(self) -> None:
        with self._lock:
            self.token_epoch += 1

    def current_epoch(self) -> int:
        with self._lock:
            return self.token_epoch

    def _hits(self, path: str) -> bool:
        return not path.startswith(_CONTROL_PREFIX) and path.startswith(self.error_path_prefix)

    def take_stall(self, path: str) -> float:
        """Seconds to wait before handling this request (the server sleeps, unlocked)."""
        with self._lock:
            if self.stall_next > 0 and self._hits(path):
                self.stall_next -= 1
                return self.stall_seconds
        return 0.0

    def take_json_fault(self, path: str) -> str | None:
        """``"malformed"``, ``"truncate"``, ``"reset"`` or None for a successful JSON answer."""
        with self._lock:
            if not self._hits(path):
                return None
            for name in ("malformed_json_next", "truncate_next_json", "reset_next_json"):
                if getattr(self, name) > 0:
                    setattr(self, name, getattr(self, name) - 1)
                    return name.split("_", 1)[0]
        return None

    def take_request_fault(self, path: str, query: str = "") -> RequestFault | None:
        with self._lock:
            if not self._hits(path):
                return None
            if self.redirect_next > 0:
                self.redirect_next -= 1
                target = self.redirect_to.rstrip("/") + path + (f"?{query}" if query else "")
                return RequestFault(302, "Found.", {"Location": target})
            if self.throttle_next > 0:
                self.throttle_next -= 1
                headers = {}
                if self.retry_after is not None:
                    headers["Retry-After"] = str(max(0, math.ceil(self.retry_after)))
                wait = self.retry_after if self.retry_after is not None else 1
                detail = f"Request was throttled. Expected available in {wait:g} seconds."
                return RequestFault(429, detail, headers)
            if self.error_next > 0:
                self.error_next -= 1
                detail = _STATUS_DETAIL.get(self.error_status, "Sandbox: injected server error.")
                headers = {}
                if self.error_status == 503 and self.retry_after is not None:
                    headers["Retry-After"] = str(max(0, math.ceil(self.retry_after)))
                return RequestFault(self.error_status, detail, headers)
            if self.html_next > 0:
                self.html_next -= 1
                return RequestFault(self.html_status, "", {}, html=True)
        return None

    def take_after_action(self, method: str, path: str) -> str | None:
        """``"504"`` or ``"reset"``: what replaces the answer of a POST that was carried out."""
        if method != "POST":
            return None
        with self._lock:
            if not self._hits(path):
                return None
            if self.act_then_504_next > 0:
                self.act_then_504_next -= 1
                return "504"
            if self.act_then_reset_next > 0:
                self.act_then_reset_next -= 1
                return "reset"
        return None

    def take_endless(self, path: str) -> tuple[bool, int | None]:
        """(endless?, announced length or None): a download that never ends."""
        with self._lock:
            if self.endless_next_downloads > 0 and path.startswith(self.download_path_prefix) \
                    and not path.startswith(_CONTROL_PREFIX):
                self.endless_next_downloads -= 1
                return True, self.endless_announce_bytes
        return False, None

    def take_avatar_outcome(self) -> str:
        """The final status of an avatar being created now: ``Completed`` or a failure."""
        with self._lock:
            if self.fail_next_avatars > 0:
                self.fail_next_avatars -= 1
                return self.fail_status
        return "Completed"

    def take_download_plan(self, path: str) -> DownloadPlan:
        with self._lock:
            if not path.startswith(self.download_path_prefix):
                return DownloadPlan()
            rate = self.download_bytes_per_second or None
            if self.stall_next_downloads > 0:
                self.stall_next_downloads -= 1
                return DownloadPlan(rate, self.truncate_at_bytes, stall=self.stall_seconds)
            if self.reset_next_downloads > 0:
                self.reset_next_downloads -= 1
                return DownloadPlan(rate, self.truncate_at_bytes, reset=True)
            if self.truncate_next_downloads > 0:
                self.truncate_next_downloads -= 1
                return DownloadPlan(rate, self.truncate_at_bytes)
            return DownloadPlan(rate)
