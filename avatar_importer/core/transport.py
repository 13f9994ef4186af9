"""HTTP transport shared by every service client: timeouts, retry policy, safe auth, downloads.

Retry policy (one place, documented here):

* Every request has a timeout: ``(connect, read)`` seconds, default ``(10, 60)``.
* ``429 Too Many Requests``: wait ``Retry-After`` seconds when the header is present
  (capped at ``RetryPolicy.max_retry_after``), else the backoff below; up to
  ``throttle_attempts`` tries, then :class:`ThrottledError`.
* ``500 502 503 504`` and connection errors (refused, reset, read timeout, a body cut
  short): capped exponential backoff with jitter, ``base * 2**n`` capped at ``cap``, each
  wait scaled by a random factor in ``[1 - jitter, 1]``; up to ``max_attempts`` tries, then
  :class:`ServerError` / :class:`NetworkError`. Non-idempotent requests (POST) are retried
  here only where the server cannot have acted: connection refused (or a connect
  timeout), 429, and 503 with ``Retry-After``. Every other failure of a POST (500, 502,
  503 without ``Retry-After``, 504, a read timeout, a reset or a broken body after the
  request was sent, an unreadable 2xx answer) raises at once with ``in_doubt = True``: the
  service may have acted (a gateway's 504 often comes after the avatar was created), so
  the caller looks for what it asked to create before asking again
  (:func:`~.once.create_once`), never the transport.
* A ``2xx`` answer that is not the JSON it should be (malformed, an HTML page from a proxy
  or a Wi-Fi sign-in page) is asked for again like a ``5xx`` when the request is
  idempotent (:meth:`Transport.json`), then is a :class:`ProtocolError`; an HTML page is
  named as such, with the host that sent it ("an HTML page came instead of the service's
  answer (a proxy or a Wi-Fi sign-in page in the way?)").
* ``401``: the token provider renews the token once and the request is sent again; a
  second 401 is an :class:`AuthenticationError`.
* Anything else ``>= 400``: a typed :class:`ApiError` subclass carrying the server's
  ``detail``.

Secrets: the ``Authorization`` header is attached only to URLs with the same scheme, host
and port as the API base URL, so static files or export files on another host never see
the bearer token. Redirects are not followed blindly: ``requests`` drops the header when a
redirect changes host or port, and a redirect to plain ``http`` anywhere but a loopback
address (or to any other scheme) is refused before it is followed (:class:`ProtocolError`).
Plain ``http://`` base URLs are refused unless they point at a loopback address.

Downloads write to a temporary file beside the target named by
:func:`~.cache.partial_path` (it carries the writer's host and process id, so a later run
can sweep what a killed process left behind) and rename it into place when complete.

Cancellation: every wait and every received piece checks the caller's ``cancel`` event.
A :class:`CancelSwitch` (what the job engine hands out) also interrupts a download blocked
on a silent connection the moment it is set, instead of after the read timeout.

Thread safety: a :class:`Transport` may be shared by worker threads; it holds a
``requests.Session`` per thread. It never touches Blender data.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import ipaddress
import json
import os
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from .cache import partial_path
from .errors import (
    ApiError,
    AuthenticationError,
    AvatarImporterError,
    BadRequestError,
    Cancelled,
    ConfigError,
    NetworkError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    ProtocolError,
    ServerError,
    ThrottledError,
)

USER_AGENT = "avatar_importer (Blender add-on)"
RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
#: the body of an answer broke off while ``requests`` read it (non-streamed requests)
_BODY_ERRORS = (requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError)
#: a POST answered 503 *with* Retry-After was refused before the service acted: retried
SAFE_POST_RETRY_STATUSES = frozenset({503})
CHUNK = 64 * 1024  # largest piece read at once; pieces come as they arrive (_body_pieces)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    throttle_attempts: int = 8
    base: float = 0.5
    cap: float = 30.0
    jitter: float = 0.5
    max_retry_after: float = 120.0

    def backoff(self, attempt: int) -> float:
        delay = min(self.cap, self.base * (2.0**attempt))
        return delay * (1.0 - self.jitter * random.random())


NO_WAIT = RetryPolicy(base=0.0, cap=0.0)


class CancelSwitch(threading.Event):
    """A cancel flag that can also break blocking reads: callbacks registered with
    :meth:`on_set` run (on the setting thread) when it is set. ``Transport.download``
    registers one that shuts the socket of the response being read, so a cancel or an
    engine shutdown never waits for a stalled network's read timeout."""

    def __init__(self) -> None:
        super().__init__()
        self._callbacks: dict[int, Callable[[], None]] = {}
        self._callbacks_lock = threading.Lock()
        self._next_key = 0

    def set(self) -> None:
        super().set()
        with self._callbacks_lock:
            callbacks = list(self._callbacks.values())
            self._callbacks.clear()
        for callback in callbacks:
            with contextlib.suppress(Exception):  # best effort: the flag is set anyway
                callback()

    def on_set(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Run ``callback`` when set (at once if already set); returns its un-registration."""
        with self._callbacks_lock:
            if not self.is_set():
                key = self._next_key
                self._next_key += 1
                self._callbacks[key] = callback

                def forget() -> None:
                    with self._callbacks_lock:
                        self._callbacks.pop(key, None)
                return forget
        with contextlib.suppress(Exception):
            callback()
        return lambda: None


def _interrupt(resp: requests.Response) -> None:
    """Break a blocking read of ``resp`` from another thread (urllib3 >= 2.3)."""
    shutdown = getattr(resp.raw, "shutdown", None)
    if shutdown is not None:
        shutdown()


class TokenSource(Protocol):
    def header(self, *, rejected: str | None = None) -> str:
        """The Authorization header value; a new token when ``rejected`` (the header the
        service just answered 401 to) is still the current one."""
        ...


class CancellableTokenSource(Protocol):
    """A token source whose ``header`` may block (signing in, perhaps throttled): it takes
    the request's ``cancel`` switch and raises ``Cancelled`` when it is set. The transport
    passes it to any source whose ``header`` accepts a ``cancel`` argument."""

    def header(self, *, rejected: str | None = None,
               cancel: threading.Event | None = None) -> str: ...


ProgressFn = Callable[[int, int | None], None]


def is_loopback(host: str) -> bool:
    if host in {"localhost", "localhost."}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(url: str) -> str:
    """Normalise a base URL (trailing slash) and refuse insecure ones."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(f"Base URL {url!r} is not an http(s) URL")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigError(
            f"Base URL {url!r} uses plain http: only https is allowed, except for the "
            "local sandbox on a loopback address"
        )
    return url if url.endswith("/") else url + "/"


def origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def server_detail(resp: requests.Response) -> str:
    """The server's own words: ``detail`` or validation messages, else a short excerpt."""
    try:
        body = resp.json()
    except ValueError:
        text = " ".join((resp.text or "").split())
        if text.lower().startswith(("<!doctype", "<html")):
            if resp.status_code >= 500:
                return f"a gateway's or proxy's HTML error page (HTTP {resp.status_code})"
            return (f"an HTML page came instead of the service's answer (HTTP "
                    f"{resp.status_code}; a proxy or a Wi-Fi sign-in page in the way?)")
        return text[:120] + ("..." if len(text) > 120 else "")
    if isinstance(body, dict):
        if "detail" in body:
            detail = body["detail"]
            if isinstance(detail, list) and detail:  # 422 {"detail": [{"loc","msg","type"}]}
                return validation_detail(detail)[:300]
            return detail if isinstance(detail, str) else json.dumps(detail)[:300]
        msgs = [f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}"
                for k, v in body.items()]
        return "; ".join(msgs)[:300]
    return json.dumps(body)[:200]


def validation_detail(errors: list[Any]) -> str:
    """``[{"loc": ["body", "user_id"], "msg": "field required"}]`` -> ``user_id: field
    required`` (the request part - body, query, path, header - is left out of the place)."""
    msgs = []
    for err in errors:
        if not isinstance(err, dict):
            msgs.append(str(err))
            continue
        loc = [str(p) for p in err.get("loc") or ()]
        if len(loc) > 1 and loc[0] in {"body", "query", "path", "header"}:
            loc = loc[1:]
        msg = str(err.get("msg") or err.get("type") or "invalid")
        msgs.append(f"{'.'.join(loc)}: {msg}" if loc else msg)
    return "; ".join(msgs)


_ERRORS: dict[int, tuple[type[ApiError], str]] = {
    400: (BadRequestError, "The service rejected the request"),
    401: (AuthenticationError, "The service did not accept the credentials"),
    402: (PaymentRequiredError, "The account's plan limit is reached (payment required)"),
    403: (PermissionDeniedError, "Access denied: the plan may lack this feature, or the "
          "avatar belongs to another player"),
    404: (NotFoundError, "Not found on the service (deleted?)"),
    422: (BadRequestError, "The service rejected the request's data"),
    429: (ThrottledError, "The service is throttling requests; try again later"),
}


def is_html(resp: requests.Response) -> bool:
    """An HTML page (a proxy's, a Wi-Fi sign-in page's) rather than the service's answer."""
    if "html" in resp.headers.get("Content-Type", "").lower():
        return True
    head = resp.content[:512].lstrip().lower()
    return head.startswith((b"<!doctype", b"<html"))


def unreadable_answer(resp: requests.Response) -> ProtocolError:
    """The ProtocolError for a 2xx answer that is not the JSON expected: an HTML page is
    named as such, with the host that sent it."""
    host = urlsplit(resp.url).netloc
    if is_html(resp):
        text = (f"{host}: an HTML page came instead of the service's answer (a proxy or "
                "a Wi-Fi sign-in page in the way?)")
    else:
        text = f"The service sent something that is not JSON: {server_detail(resp)}"
    return ProtocolError(text, status=resp.status_code, url=_redact(resp.url))


def _doubt(error: ApiError | NetworkError) -> ApiError | NetworkError:
    """Mark an error of a creating request whose outcome is unknown (see module doc)."""
    error.in_doubt = True
    return error


def error_for(resp: requests.Response) -> ApiError:
    detail = server_detail(resp)
    status = resp.status_code
    cls: type[ApiError]
    if status >= 500:
        cls, text = ServerError, f"The service is failing (HTTP {status})"
    else:
        cls, text = _ERRORS.get(status, (ApiError, f"The service answered HTTP {status}"))
    message = f"{text}: {detail}" if detail else text
    return cls(message, status=status, detail=detail, url=_redact(resp.url))


def _redact(url: str) -> str:
    parts = urlsplit(url)
    return parts._replace(query="").geturl() if "token" in parts.query else url


class Transport:
    def __init__(
        self,
        base_url: str,
        *,
        timeout: tuple[float, float] = (10.0, 60.0),
        retry: RetryPolicy | None = None,
        tokens: TokenSource | None = None,
    ) -> None:
        self.base_url = check_base_url(base_url)
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.tokens = tokens
        self._tokens_cancel = tokens is not None and \
            "cancel" in inspect.signature(tokens.header).parameters
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()
        self.bytes_received = 0

    # -- plumbing ---------------------------------------------------------------------

    def url(self, path_or_url: str) -> str:
        return urljoin(self.base_url, path_or_url)

    def is_api_host(self, url: str) -> bool:
        return origin(url) == origin(self.base_url)

    def session(self) -> requests.Session:
        sess: requests.Session | None = getattr(self._local, "session", None)
        if sess is None:
            sess = requests.Session()
            sess.headers["User-Agent"] = USER_AGENT
            sess.trust_env = True
            self._local.session = sess
            with self._lock:
                self._sessions.append(sess)
        return sess

    def close(self) -> None:
        with self._lock:
            for sess in self._sessions:
                sess.close()
            self._sessions.clear()

    def _wait(self, seconds: float, cancel: threading.Event | None) -> None:
        if seconds <= 0:
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            return
        if cancel is None:
            time.sleep(seconds)
        elif cancel.wait(seconds):
            raise Cancelled()

    @staticmethod
    def _check_redirect(resp: requests.Response, *args: Any, **kwargs: Any) -> None:
        """Response hook: refuse a redirect to plain http (unless loopback) or another
        scheme before ``requests`` follows it."""
        if not resp.is_redirect:
            return
        target = urljoin(resp.url, resp.headers.get("Location", ""))
        parts = urlsplit(target)
        if parts.scheme == "https" or (parts.scheme == "http"
                                       and is_loopback(parts.hostname or "")):
            return
        resp.close()
        raise ProtocolError(
            f"The service redirected {_short(resp.url)} to {_short(target)!s} over "
            f"{parts.scheme or 'no'} scheme; only https redirects are followed",
            status=resp.status_code, url=_redact(resp.url))

    def _headers(self, url: str, extra: Mapping[str, str] | None, rejected: str | None,
                 authorized: bool, cancel: threading.Event | None = None) -> dict[str, str]:
        headers = dict(extra or {})
        if authorized and self.tokens is not None and self.is_api_host(url):
            if self._tokens_cancel:
                source = cast(CancellableTokenSource, self.tokens)
                headers["Authorization"] = source.header(rejected=rejected, cancel=cancel)
            else:
                headers["Authorization"] = self.tokens.header(rejected=rejected)
        return headers

    # -- requests ---------------------------------------------------------------------

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        files: Mapping[str, Any] | None = None,
        json_body: Any = None,  # sent as a JSON body (e.g. Avaturn's API) when not None
        authorized: bool = True,
        stream: bool = False,
        ok: tuple[int, ...] = (),
        cancel: threading.Event | None = None,
        repeatable: bool | None = None,
    ) -> requests.Response:
        """Send one logical request, applying the retry policy. Returns a 2xx response
        (or one whose status is in ``ok``); raises a typed error otherwise.
        ``repeatable``: whether sending it twice is harmless (default: the method is
        idempotent); a POST that creates nothing anyone pays for (a sign-in, a player, a
        poll such as Avaturn's ``exports/new``) passes True to be retried like a GET."""
        url = self.url(path_or_url)
        idempotent = method.upper() in IDEMPOTENT if repeatable is None else repeatable
        attempt = throttled = 0
        renewed = False
        rejected: str | None = None
        while True:
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            try:
                sent = self._headers(url, headers, rejected, authorized, cancel)
            except AvatarImporterError as exc:  # signing in failed: this request never left
                exc.in_doubt = False
                raise
            try:
                rejected = None
                resp = self.session().request(
                    method, url, headers=sent, params=params, data=data, files=files,
                    json=json_body, timeout=self.timeout, stream=stream, allow_redirects=True,
                    hooks={"response": [self._check_redirect]},
                )
            except requests.exceptions.ConnectionError as exc:
                refused = isinstance(exc, requests.exceptions.ConnectTimeout) or _refused(exc)
                attempt += 1
                if not idempotent and not refused:
                    raise _doubt(NetworkError(_network_message(url, exc))) from None
                if attempt >= self.retry.max_attempts:
                    raise NetworkError(_network_message(url, exc)) from None
                self._wait(self.retry.backoff(attempt - 1), cancel)
                continue
            except (requests.exceptions.Timeout, *_BODY_ERRORS) as exc:
                attempt += 1
                if not idempotent:
                    raise _doubt(NetworkError(_network_message(url, exc))) from None
                if attempt >= self.retry.max_attempts:
                    raise NetworkError(_network_message(url, exc)) from None
                self._wait(self.retry.backoff(attempt - 1), cancel)
                continue
            except requests.exceptions.RequestException as exc:
                raise NetworkError(_network_message(url, exc)) from None

            status = resp.status_code
            if status < 400 or status in ok:
                return resp
            if status == 401 and authorized and self.tokens is not None and not renewed \
                    and self.is_api_host(url):
                resp.close()
                renewed = True
                rejected = sent.get("Authorization")
                continue
            if status == 429:
                throttled += 1
                if throttled >= self.retry.throttle_attempts:
                    raise error_for(resp)
                delay = _retry_after(resp, self.retry.max_retry_after)
                resp.close()
                self._wait(delay if delay is not None else self.retry.backoff(throttled - 1),
                           cancel)
                continue
            if idempotent:
                retryable = status in RETRYABLE_STATUSES
            else:  # only a 503 that says when to come back is sure not to have acted
                retryable = status in SAFE_POST_RETRY_STATUSES and \
                    _retry_after(resp, self.retry.max_retry_after) is not None
            if retryable:
                attempt += 1
                if attempt >= self.retry.max_attempts:
                    raise error_for(resp)
                delay = _retry_after(resp, self.retry.max_retry_after)
                resp.close()
                self._wait(delay if delay is not None and not idempotent
                           else self.retry.backoff(attempt - 1), cancel)
                continue
            error = error_for(resp)
            if not idempotent and status >= 500:
                _doubt(error)
            raise error

    def json(self, method: str, path_or_url: str, **kwargs: Any) -> Any:
        """``request`` and decode the JSON answer. An answer that is not JSON is asked for
        again (idempotent methods only, within ``max_attempts``), then ProtocolError."""
        repeatable: bool | None = kwargs.get("repeatable")
        idempotent = method.upper() in IDEMPOTENT if repeatable is None else repeatable
        cancel: threading.Event | None = kwargs.get("cancel")
        attempt = 0
        while True:
            resp = self.request(method, path_or_url, **kwargs)
            if resp.status_code == 204 or not resp.content:
                return None
            try:
                return resp.json()
            except ValueError:
                attempt += 1
                if not idempotent or attempt >= self.retry.max_attempts:
                    error = unreadable_answer(resp)
                    raise (_doubt(error) if not idempotent else error) from None
                self._wait(self.retry.backoff(attempt - 1), cancel)

    # -- downloads --------------------------------------------------------------------

    def download(
        self,
        url: str,
        dest: Path,
        *,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
        max_bytes: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> int:
        """Stream ``url`` to ``dest`` atomically (temporary file beside it, then rename).

        A broken or short body is resumed with ``Range`` from where it stopped (or
        restarted when the server ignores ranges), within the retry policy. Returns the
        number of bytes written. On any failure or cancel no file is left at ``dest``
        and the temporary file is removed.
        """
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = partial_path(dest)
        done = 0
        total: int | None = None
        breaks = 0
        try:
            with open(tmp, "wb") as fh:
                while True:
                    sent = dict(headers or {})
                    if done:
                        sent["Range"] = f"bytes={done}-"
                    resp = self.request("GET", url, headers=sent, stream=True,
                                        cancel=cancel, authorized=True)
                    forget = cancel.on_set(functools.partial(_interrupt, resp)) \
                        if isinstance(cancel, CancelSwitch) else None
                    with resp, _finally(forget):
                        if done and resp.status_code != 206:
                            fh.seek(0)
                            fh.truncate()
                            done = 0
                        if total is None or resp.status_code == 200:
                            total = _content_total(resp)
                        if max_bytes is not None and total is not None and total > max_bytes:
                            raise ProtocolError(
                                f"{_short(url)} is announced as {size_text(total)}, over "
                                f"the {size_text(max_bytes)} limit for one file; nothing "
                                "was kept", url=_short(url))
                        try:
                            for chunk in _body_pieces(resp):
                                if cancel is not None and cancel.is_set():
                                    raise Cancelled()
                                fh.write(chunk)
                                done += len(chunk)
                                self.bytes_received += len(chunk)
                                if max_bytes is not None and done > max_bytes:
                                    raise ProtocolError(
                                        f"{_short(url)} went past the "
                                        f"{size_text(max_bytes)} limit for one file; the "
                                        "download was stopped and nothing was kept",
                                        url=_short(url))
                                if progress is not None:
                                    progress(done, total)
                        except (requests.exceptions.ChunkedEncodingError,
                                requests.exceptions.ConnectionError,
                                requests.exceptions.Timeout) as exc:
                            if cancel is not None and cancel.is_set():
                                raise Cancelled() from None  # the cancel broke the read
                            breaks += 1
                            if breaks >= self.retry.max_attempts:
                                raise NetworkError(_network_message(url, exc)) from None
                            self._wait(self.retry.backoff(breaks - 1), cancel)
                            continue
                    if total is not None and done < total:
                        if cancel is not None and cancel.is_set():
                            raise Cancelled()
                        breaks += 1
                        if breaks >= self.retry.max_attempts:
                            raise NetworkError(
                                f"Download of {_short(url)} kept breaking off "
                                f"({done} of {total} bytes)")
                        self._wait(self.retry.backoff(breaks - 1), cancel)
                        continue
                    break
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, dest)
            return done
        finally:
            if tmp.exists():
                tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def _finally(callback: Callable[[], None] | None) -> Iterator[None]:
    try:
        yield
    finally:
        if callback is not None:
            callback()


def _body_pieces(resp: requests.Response) -> Iterator[bytes]:
    """A streamed body in pieces as they arrive (at most ``CHUNK`` bytes each), so a cancel
    is seen between two packets even on a very slow link (``iter_content`` blocks until a
    whole chunk arrived). urllib3's errors are mapped as ``requests`` maps them."""
    read1 = getattr(resp.raw, "read1", None)
    if read1 is None:  # urllib3 < 2
        yield from resp.iter_content(CHUNK)
        return
    while True:
        try:
            piece = read1(CHUNK, decode_content=True)
        except urllib3.exceptions.ReadTimeoutError as exc:
            raise requests.exceptions.ConnectionError(exc) from exc
        except urllib3.exceptions.ProtocolError as exc:
            raise requests.exceptions.ChunkedEncodingError(exc) from exc
        except urllib3.exceptions.DecodeError as exc:
            raise requests.exceptions.ContentDecodingError(exc) from exc
        if not piece:
            return
        yield piece


def size_text(n: int) -> str:
    """``256 MiB``, ``8 GiB``, ``1.5 GiB``, ``900 bytes``: a size in words for messages."""
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= scale:
            value = n / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} bytes"


def _content_total(resp: requests.Response) -> int | None:
    crange = resp.headers.get("Content-Range", "")
    if crange and "/" in crange:
        tail = crange.rsplit("/", 1)[1]
        if tail.isdigit():
            return int(tail)
    length = resp.headers.get("Content-Length")
    if length and length.isdigit() and resp.status_code == 200:
        return int(length)
    return None


def _retry_after(resp: requests.Response, cap: float) -> float | None:
    value = resp.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, min(cap, float(value)))
    except ValueError:
        return None


def _refused(exc: Exception) -> bool:
    text = repr(exc)
    return "refused" in text.lower() or "NewConnectionError" in text


def _short(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.netloc}{parts.path}"


def _network_message(url: str, exc: Exception) -> str:
    if isinstance(exc, requests.exceptions.Timeout):
        why = "timed out"
    elif _refused(exc):
        why = "connection refused"
    else:
        why = "connection broke"
    return f"Could not reach {urlsplit(url).netloc} ({why}); check the network and the base URL"
