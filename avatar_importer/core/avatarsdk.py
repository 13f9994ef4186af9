"""Avatar SDK Web API client (MetaPerson 2.0): one method per call of the curl tutorial.

Calls, in the tutorial's order: token by client credentials (HTTP Basic), player
creation (then ``X-PlayerUID`` on every later call), available parameters, available
export parameters, avatar creation (multipart), avatar status, exports list, export file
download, static resources. Plus what the add-on needs around them: list, delete and
re-export avatars.

Thread safety: one client may be used from several worker threads; the token is renewed
under a lock. Never touches Blender data.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from .errors import AuthenticationError, Cancelled, ConfigError, ProtocolError
from .photo import read_photo
from .transport import ProgressFn, RetryPolicy, Transport, unreadable_answer

DEFAULT_BASE_URL = "https://api.avatarsdk.com/"
PIPELINE = "metaperson_2.0"
FINAL_OK = "Completed"
FINAL_FAILED = frozenset({"Failed", "Timed Out"})


class _RemoteStatus:
    """Avatars and exports share the service's status vocabulary."""

    status: str

    @property
    def done(self) -> bool:
        return self.status == FINAL_OK

    @property
    def failed(self) -> bool:
        return self.status in FINAL_FAILED


@dataclass(frozen=True)
class Avatar(_RemoteStatus):
    code: str
    status: str
    progress: int = 0
    name: str = ""
    description: str = ""
    created_on: str = ""
    pipeline: str | None = None
    pipeline_subtype: str | None = None
    thumbnail: str = ""
    url: str = ""

    @classmethod
    def from_json(cls, data: Any) -> Avatar:
        if not isinstance(data, dict) or "code" not in data:
            raise ProtocolError("The service's avatar record has no code")
        return cls(
            code=str(data["code"]),
            status=str(data.get("status") or ""),
            progress=int(data.get("progress") or 0),
            name=str(data.get("name") or ""),
            description=str(data.get("description") or ""),
            created_on=str(data.get("created_on") or ""),
            pipeline=data.get("pipeline"),
            pipeline_subtype=data.get("pipeline_subtype"),
            thumbnail=str(data.get("thumbnail") or ""),
            url=str(data.get("url") or ""),
        )


@dataclass(frozen=True)
class ExportFile:
    identity: str
    file: str
    category: str | None = None
    static_files: tuple[str, ...] = ()


@dataclass(frozen=True)
class Export(_RemoteStatus):
    code: str
    avatar_code: str
    status: str
    files: tuple[ExportFile, ...] = ()
    created_on: str = ""

    @classmethod
    def from_json(cls, data: Any) -> Export:
        if not isinstance(data, dict) or "code" not in data:
            raise ProtocolError("The service's export record has no code")
        files = tuple(
            ExportFile(
                identity=str(f.get("identity") or ""),
                file=str(f.get("file") or ""),
                category=f.get("category"),
                static_files=tuple(str(u) for u in f.get("static_files") or ()),
            )
            for f in data.get("files") or ()
            if isinstance(f, dict)
        )
        return cls(code=str(data["code"]), avatar_code=str(data.get("avatar_code") or ""),
                   status=str(data.get("status") or ""), files=files,
                   created_on=str(data.get("created_on") or ""))

    def main_file(self) -> ExportFile:
        for f in self.files:
            if f.identity == "avatar":
                return f
        if self.files:
            return self.files[0]
        raise ProtocolError(f"Export {self.code} lists no files")


@dataclass
class _Token:
    value: str = ""
    expires_at: float = 0.0
    issued_at: float = 0.0


@dataclass
class AvatarSdkClient:
    """Stateful client: holds the token and the player code (never the secret in logs)."""

    base_url: str = DEFAULT_BASE_URL
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    player: str | None = None
    timeout: tuple[float, float] = (10.0, 60.0)
    retry: RetryPolicy | None = None

    def __post_init__(self) -> None:
        if not self.client_id or not self.client_secret:
            raise ConfigError(
                "Avatar SDK credentials are missing: set the client ID and secret "
                "(preferences, --client-id/--client-secret, or AVATARSDK_CLIENT_ID/"
                "AVATARSDK_CLIENT_SECRET)")
        self.transport = Transport(self.base_url, timeout=self.timeout, retry=self.retry,
                                   tokens=self)
        self.base_url = self.transport.base_url
        self._token = _Token()
        self._token_lock = threading.Lock()
        self._player_lock = threading.Lock()

    # -- authentication (TokenSource) -------------------------------------------------

    def authenticate(self, cancel: threading.Event | None = None) -> str:
        """``POST /o/token/`` with HTTP Basic client credentials. The answer goes through
        the same checks as every other call (an HTML page from a proxy or a Wi-Fi sign-in
        page is named as such)."""
        resp = self.transport.request(
            "POST", "o/token/", authorized=False, repeatable=True,
            data={"grant_type": "client_credentials"},
            headers=_basic(self.client_id, self.client_secret), cancel=cancel,
        )
        try:
            body = resp.json()
        except ValueError:  # a portal's page is not asked for again: it would answer alike
            raise unreadable_answer(resp) from None
        try:
            value = str(body["access_token"])
            expires_in = float(body.get("expires_in") or 36000)
        except (KeyError, TypeError, ValueError, AttributeError):
            raise ProtocolError("The token answer has no access_token") from None
        now = time.monotonic()
        self._token = _Token(value, now + expires_in * 0.95, now)
        return value

    def header(self, *, rejected: str | None = None,
               cancel: threading.Event | None = None) -> str:
        with _holding(self._token_lock, cancel):
            tok = self._token
            stale = not tok.value or time.monotonic() >= tok.expires_at
            # a 401 renews the token unless another thread already renewed it
            if stale or rejected == f"Bearer {tok.value}":
                try:
                    self.authenticate(cancel)
                except AuthenticationError as exc:
                    raise AuthenticationError(
                        "Avatar SDK did not accept the client ID and secret "
                        f"({exc.detail or 'HTTP 401'})", status=exc.status,
                        detail=exc.detail) from None
            return f"Bearer {self._token.value}"

    # -- players ----------------------------------------------------------------------

    def create_player(self, comment: str = "avatar_importer",
                      cancel: threading.Event | None = None) -> str:
        body = self.transport.json("POST", "players/", data={"comment": comment},
                                   cancel=cancel, repeatable=True)  # a player costs nothing
        if not isinstance(body, dict) or "code" not in body:
            raise ProtocolError("The player answer has no code")
        self.player = str(body["code"])
        return self.player

    def ensure_player(self, cancel: threading.Event | None = None) -> str:
        with _holding(self._player_lock, cancel):
            return self.player or self.create_player(cancel=cancel)

    def _player_headers(self, player: str | None = None) -> dict[str, str]:
        """``X-PlayerUID``: the given player (a resumed job keeps its own), else ours."""
        return {"X-PlayerUID": player or self.ensure_player()}

    # -- discovery --------------------------------------------------------------------

    def available_parameters(self, subtype: str, pipeline: str = PIPELINE) -> dict[str, Any]:
        return self._dict(self.transport.json(
            "GET", f"parameters/available/{pipeline}/",
            params={"pipeline_subtype": subtype}, headers=self._player_headers()))

    def available_export_parameters(self, subtype: str,
                                    pipeline: str = PIPELINE) -> dict[str, Any]:
        return self._dict(self.transport.json(
            "GET", f"export_parameters/available/{pipeline}/",
            params={"pipeline_subtype": subtype}, headers=self._player_headers()))

    # -- avatars ----------------------------------------------------------------------

    def create_avatar(
        self,
        photo: Path,
        *,
        name: str,
        subtype: str,
        parameters: dict[str, Any],
        export_parameters: dict[str, Any] | list[dict[str, Any]],
        pipeline: str = PIPELINE,
        description: str | None = None,
        cancel: threading.Event | None = None,
        player: str | None = None,
    ) -> Avatar:
        """One ``POST /avatars/`` (never repeated when its outcome is unknown: the error
        then has ``in_doubt``; see core/once.py for how a job makes it exactly-once)."""
        data, mime = read_photo(photo)
        fields: dict[str, Any] = {
            "name": name,
            "pipeline": pipeline,
            "pipeline_subtype": subtype,
            "parameters": json.dumps(parameters),
            "export_parameters": json.dumps(export_parameters),
        }
        if description:
            fields["description"] = description
        body = self.transport.json(
            "POST", "avatars/", data=fields,
            files={"photo": (photo.name, data, mime)},
            headers=self._player_headers(player), cancel=cancel)
        return Avatar.from_json(body)

    def get_avatar(self, code: str, cancel: threading.Event | None = None,
                   player: str | None = None) -> Avatar:
        return Avatar.from_json(self.transport.json(
            "GET", f"avatars/{code}/", headers=self._player_headers(player), cancel=cancel))

    def list_avatars(self, page: int = 1, *, player: str | None = None,
                     cancel: threading.Event | None = None) -> tuple[list[Avatar], bool]:
        """One page of the player's avatars and whether a next page exists."""
        resp = self.transport.request("GET", "avatars/", params={"page": page},
                                      headers=self._player_headers(player), cancel=cancel)
        try:
            body = resp.json()
        except ValueError:
            raise unreadable_answer(resp) from None
        items = body.get("results", body) if isinstance(body, dict) else body
        if not isinstance(items, list):
            raise ProtocolError("The avatar list is not a list")
        more = "next" in resp.links or (isinstance(body, dict) and bool(body.get("next")))
        return [Avatar.from_json(a) for a in items], more

    def find_avatar_by_tag(self, tag: str, *, player: str | None = None,
                           cancel: threading.Event | None = None,
                           max_pages: int = 1000) -> Avatar | None:
        """The player's avatar whose ``description`` is ``tag`` (core/once.py), reading
        every page of ``GET /avatars/`` until found; None only when the whole list was
        read. Raises when a page cannot be read (then nobody can tell)."""
        for page in range(1, max_pages + 1):
            avatars, more = self.list_avatars(page, player=player, cancel=cancel)
            for avatar in avatars:
                if avatar.description.strip() == tag:
                    return avatar
            if not more:
                return None
        raise ProtocolError(f"The avatar list has more than {max_pages} pages; the "
                            "lookup gave up")

    def delete_avatar(self, code: str) -> None:
        self.transport.request("DELETE", f"avatars/{code}/", headers=self._player_headers())

    # -- exports ----------------------------------------------------------------------

    def list_exports(self, code: str, cancel: threading.Event | None = None,
                     player: str | None = None) -> list[Export]:
        body = self.transport.json("GET", f"avatars/{code}/exports/",
                                   headers=self._player_headers(player), cancel=cancel)
        items = body.get("results", body) if isinstance(body, dict) else body
        if not isinstance(items, list):
            raise ProtocolError("The export list is not a list")
        return [Export.from_json(e) for e in items]

    def get_export(self, code: str, export_code: str,
                   cancel: threading.Event | None = None, player: str | None = None) -> Export:
        return Export.from_json(self.transport.json(
            "GET", f"avatars/{code}/exports/{export_code}/",
            headers=self._player_headers(player), cancel=cancel))

    def create_export(self, code: str, export_parameters: dict[str, Any]) -> Export:
        """A new export of an existing avatar (no recompute)."""
        return Export.from_json(self.transport.json(
            "POST", f"avatars/{code}/exports/",
            data={"export_parameters": json.dumps(export_parameters)},
            headers=self._player_headers()))

    def download(self, url: str, dest: Path, *, progress: ProgressFn | None = None,
                 cancel: threading.Event | None = None, max_bytes: int | None = None,
                 player: str | None = None) -> int:
        """Export files and static resources. The bearer token goes only to the API host;
        export files (under ``/avatars/``) carry the player header like every avatar call."""
        headers = None
        if self.transport.is_api_host(url) and urlsplit(url).path.startswith(
                urlsplit(self.base_url).path + "avatars/"):
            headers = self._player_headers(player)
        return self.transport.download(url, dest, progress=progress, cancel=cancel,
                                       max_bytes=max_bytes, headers=headers)

    def close(self) -> None:
        self.transport.close()

    @staticmethod
    def _dict(body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ProtocolError("The service answered with something other than an object")
        return body


@contextlib.contextmanager
def _holding(lock: threading.Lock, cancel: threading.Event | None) -> Iterator[None]:
    """Hold ``lock``; while another thread holds it (signing in, perhaps throttled for
    minutes), keep checking ``cancel`` so a cancelled job does not wait for it."""
    while not lock.acquire(timeout=0.1):
        if cancel is not None and cancel.is_set():
            raise Cancelled()
    try:
        yield
    finally:
        lock.release()


def _basic(user: str, password: str) -> dict[str, str]:
    auth = requests.auth._basic_auth_str(user, password)
    return {"Authorization": auth}


def static_names(urls: Sequence[str]) -> dict[str, str]:
    """basename -> URL for an export's static files."""
    return {u.rsplit("/", 1)[-1].split("?", 1)[0]: u for u in urls}
