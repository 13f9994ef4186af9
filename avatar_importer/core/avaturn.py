"""Avaturn API client: one method per call of docs/service-apis.md section 2.

Calls: create a user (``users/new``; the id is kept and reused, a new one on request),
open a browser session of one of the three types (``sessions/new``), list the user's
avatars, create an avatar from photos without the browser (``avatars/new`` then the
multipart upload to its ``upload_url``), read and set an avatar's customization
(``avatars/<id>/customization``), ask for an export (``exports/new``, repeated by the
caller until ready; it needs only the avatar id, no user) and download the temporary GLB
URL at once, delete an avatar or a user.

Authentication is a static project API token (``Authorization: Bearer <token>``) with no
renewal: a 401 is an :class:`AuthenticationError` naming the token, at once. The
:class:`~.transport.Transport` sends the header only to the API host, so neither the
photo upload URL nor the temporary export URL sees it when they are on another host.

Avatar records are read tolerantly (field names beyond ``id`` are inferred): ``status``
(``ready``/``completed``/``done`` = ready; ``failed``/``error`` = failed; anything else =
not yet) or a boolean ``ready``; ``progress``; ``created_at``; ``updated_at``; ``gender``
or ``body_type``; a thumbnail under ``thumbnail_url``, ``thumbnail``, ``preview_url`` or
``preview``.

Thread safety: one client may be used from several worker threads; the user id is
created under a lock. Never touches Blender data.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import AuthenticationError, ConfigError, InputError, NotFoundError, ProtocolError
from .photo import read_photo
from .transport import ProgressFn, RetryPolicy, Transport

DEFAULT_BASE_URL = "https://api.avaturn.me/"
API = "api/v1/"
SESSION_TYPES = ("create", "edit_existing", "create_or_edit_existing")
BODY_TYPES = ("male", "female")
READY_STATUSES = frozenset({"ready", "completed", "done", "success"})
FAILED_STATUSES = frozenset({"failed", "error", "timed_out", "timed out", "cancelled"})
TOKEN_HELP = ("check the Avaturn project API token (add-on preferences, --api-token or "
              "AVATURN_API_TOKEN)")


@dataclass(frozen=True)
class Session:
    """A browser session: open ``url`` (short-lived: a new session for each use)."""

    id: str
    url: str
    custom_upload_url: str | None = None


@dataclass(frozen=True)
class AvaturnAvatar:
    id: str
    status: str  # as sent, lower-cased ("" when the record has none)
    ready: bool
    failed: bool
    progress: int | None = None
    created_at: str = ""
    updated_at: str = ""
    gender: str | None = None
    thumbnail: str = ""
    source: str = ""  # "photos" (avatars/new), "editor" (a browser session), "" unknown

    @classmethod
    def from_json(cls, data: Any) -> AvaturnAvatar:
        if not isinstance(data, dict) or not data.get("id"):
            raise ProtocolError("An avatar in Avaturn's list has no id")
        status = str(data.get("status") or "").strip().lower()
        flag = data.get("ready")
        ready = status in READY_STATUSES or (flag is True and status not in FAILED_STATUSES)
        progress = data.get("progress")
        return cls(
            id=str(data["id"]), status=status or ("ready" if ready else ""), ready=ready,
            failed=status in FAILED_STATUSES,
            progress=int(progress) if isinstance(progress, int | float) else None,
            created_at=str(data.get("created_at") or ""),
            updated_at=str(data.get("updated_at") or ""),
            gender=_text_or_none(data.get("gender") or data.get("body_type")),
            thumbnail=next((str(data[k]) for k in ("thumbnail_url", "thumbnail",
                                                   "preview_url", "preview")
                            if isinstance(data.get(k), str) and data[k]), ""),
            source=str(data.get("source") or "").strip().lower(),
        )


@dataclass(frozen=True)
class PhotoAvatar:
    """``avatars/new``: the new avatar's id and where its photos go."""

    avatar_id: str
    upload_url: str


@dataclass(frozen=True)
class ExportState:
    """One ``exports/new`` answer: ``pending`` (call again later) or ``ready`` with a
    temporary URL to download at once and never store."""

    status: str
    url: str | None = None

    @property
    def ready(self) -> bool:
        return self.status in READY_STATUSES and bool(self.url)

    @property
    def failed(self) -> bool:
        return self.status in FAILED_STATUSES


@dataclass(frozen=True)
class Photo:
    """A checked photo ready for the upload: field name, file name, bytes, MIME type."""

    field: str
    name: str
    data: bytes
    mime: str


@dataclass
class AvaturnClient:
    """Stateful client: holds the user id (never the token in logs or reprs)."""

    base_url: str = DEFAULT_BASE_URL
    api_token: str = field(default="", repr=False)
    user_id: str | None = None
    timeout: tuple[float, float] = (10.0, 60.0)
    retry: RetryPolicy | None = None

    def __post_init__(self) -> None:
        if not self.api_token.strip():
            raise ConfigError("The Avaturn API token is missing: set it in the add-on "
                              "preferences, with --api-token, or in AVATURN_API_TOKEN")
        self.transport = Transport(self.base_url, timeout=self.timeout, retry=self.retry,
                                   tokens=self)
        self.base_url = self.transport.base_url
        self._user_lock = threading.RLock()

    # -- authentication (TokenSource) -------------------------------------------------

    def header(self, *, rejected: str | None = None) -> str:
        """The static bearer header. A 401 cannot be cured by asking again (there is no
        renewal), so a rejection is an error at once."""
        if rejected is not None:
            raise AuthenticationError(f"Avaturn did not accept the project API token: "
                                      f"{TOKEN_HELP}", status=401)
        return f"Bearer {self.api_token.strip()}"

    # -- users ------------------------------------------------------------------------

    def create_user(self) -> str:
        """``POST users/new``: a new anonymous user, kept as this client's user."""
        with self._user_lock:
            body = self._object(self.transport.json("POST", f"{API}users/new",
                                                    repeatable=True))  # costs nothing
            if not body.get("id"):
                raise ProtocolError("Avaturn's new-user answer has no id")
            self.user_id = str(body["id"])
            return self.user_id

    def ensure_user(self) -> str:
        """The kept user id, or a new user the first time (once, whatever the threads)."""
        with self._user_lock:
            return self.user_id or self.create_user()

    def delete_user(self, user_id: str) -> None:
        self.transport.request("DELETE", f"{API}users/{_seg(user_id, 'user id')}")
        with self._user_lock:
            if self.user_id == user_id:
                self.user_id = None

    # -- browser sessions -------------------------------------------------------------

    def create_session(self, kind: str = "create_or_edit_existing", *,
                       avatar_id: str | None = None, user_id: str | None = None) -> Session:
        """``POST sessions/new`` of type ``create``, ``edit_existing`` (needs ``avatar_id``)
        or ``create_or_edit_existing``; open ``Session.url`` in a browser at once."""
        if kind not in SESSION_TYPES:
            raise InputError(f"Unknown Avaturn session type {kind!r}; choose one of "
                             f"{', '.join(SESSION_TYPES)}")
        if kind == "edit_existing" and not avatar_id:
            raise InputError("An edit_existing session needs the avatar to edit")
        config: dict[str, Any] = {"type": kind}
        if avatar_id:
            config["avatar_id"] = avatar_id
        body = self._object(self.transport.json(
            "POST", f"{API}sessions/new", repeatable=True,
            json_body={"user_id": user_id or self.ensure_user(), "config": config}))
        if not body.get("url"):
            raise ProtocolError("Avaturn's session answer has no url")
        upload = body.get("custom_upload_url")
        return Session(id=str(body.get("id") or ""), url=str(body["url"]),
                       custom_upload_url=str(upload) if upload else None)

    # -- avatars ----------------------------------------------------------------------

    def list_avatars(self, user_id: str | None = None, *, include_not_ready: bool = True,
                     cancel: threading.Event | None = None) -> list[AvaturnAvatar]:
        """``GET users/<id>/avatars``, unfinished ones included by default."""
        uid = _seg(user_id or self.ensure_user(), "user id")
        params = {"include_not_ready": "true"} if include_not_ready else None
        body = self.transport.json("GET", f"{API}users/{uid}/avatars", params=params,
                                   cancel=cancel)
        items = body.get("avatars", body.get("results")) if isinstance(body, dict) else body
        if not isinstance(items, list):
            raise ProtocolError("Avaturn's avatar list is not a list")
        return [AvaturnAvatar.from_json(a) for a in items]

    def get_avatar(self, avatar_id: str, user_id: str | None = None, *,
                   cancel: threading.Event | None = None) -> AvaturnAvatar:
        """One avatar, found in the user's list (the API has no single-avatar call)."""
        for avatar in self.list_avatars(user_id, cancel=cancel):
            if avatar.id == avatar_id:
                return avatar
        raise NotFoundError(f"Avatar {avatar_id} is not among the Avaturn user's avatars "
                            "(deleted, or created by another user?)", status=404)

    def delete_avatar(self, avatar_id: str, user_id: str | None = None) -> None:
        uid = _seg(user_id or self.ensure_user(), "user id")
        self.transport.request("DELETE",
                               f"{API}users/{uid}/avatars/{_seg(avatar_id, 'avatar id')}")

    # -- creation from photos ---------------------------------------------------------

    def new_photo_avatar(self, user_id: str | None = None, *,
                         cancel: threading.Event | None = None) -> PhotoAvatar:
        """``POST avatars/new``: an avatar waiting for its photos."""
        body = self._object(self.transport.json(
            "POST", f"{API}avatars/new", json_body={"user_id": user_id or self.ensure_user()},
            cancel=cancel))
        if not body.get("avatar_id") or not body.get("upload_url"):
            raise ProtocolError("Avaturn's new-avatar answer lacks avatar_id or upload_url")
        return PhotoAvatar(str(body["avatar_id"]), str(body["upload_url"]))

    @staticmethod
    def check_photos(frontal: Path, side_photos: Sequence[Path]) -> list[Photo]:
        """Read and check the photos before anything is sent (JPEG/PNG, size, present)."""
        if len(side_photos) > 2:
            raise InputError(f"Avaturn takes two side photos at most, not {len(side_photos)}")
        named = [("image-frontal", frontal)] + [
            (f"image-side-{i}", p) for i, p in enumerate(side_photos, start=1)]
        photos = []
        for name, path in named:
            data, mime = read_photo(Path(path))
            photos.append(Photo(name, Path(path).name, data, mime))
        return photos

    def upload_photos(self, upload_url: str, photos: Sequence[Photo], *, body_type: str,
                      telephoto: bool = False,
                      cancel: threading.Event | None = None) -> dict[str, Any]:
        """The multipart upload to ``upload_url`` (no bearer token unless it is the API
        host). Returns the service's answer (it carries a ``status``)."""
        if body_type not in BODY_TYPES:
            raise InputError(f"Avaturn body type must be male or female, not {body_type!r}")
        files = {p.field: (p.name, p.data, p.mime) for p in photos}
        body = self.transport.json(
            "POST", upload_url, files=files, cancel=cancel,
            data={"body-type": body_type, "telephoto": "true" if telephoto else "false"})
        return body if isinstance(body, dict) else {}

    def create_from_photos(self, frontal: Path, side_photos: Sequence[Path] = (), *,
                           body_type: str, telephoto: bool = False,
                           user_id: str | None = None,
                           cancel: threading.Event | None = None) -> PhotoAvatar:
        """Check the photos, ``avatars/new``, upload: the avatar then computes."""
        photos = self.check_photos(frontal, side_photos)
        if body_type not in BODY_TYPES:
            raise InputError(f"Avaturn body type must be male or female, not {body_type!r}")
        created = self.new_photo_avatar(user_id, cancel=cancel)
        self.upload_photos(created.upload_url, photos, body_type=body_type,
                           telephoto=telephoto, cancel=cancel)
        return created

    # -- customization ----------------------------------------------------------------

    def get_customization(self, avatar_id: str, *,
                          cancel: threading.Event | None = None) -> dict[str, Any]:
        """``GET avatars/<id>/customization``: the avatar's assets, body, age..."""
        return self._object(self.transport.json(
            "GET", f"{API}avatars/{_seg(avatar_id, 'avatar id')}/customization",
            cancel=cancel))

    def set_customization(self, avatar_id: str, customization: dict[str, Any], *,
                          cancel: threading.Event | None = None) -> None:
        """``PUT avatars/<id>/customization`` (the service answers 202)."""
        self.transport.request(
            "PUT", f"{API}avatars/{_seg(avatar_id, 'avatar id')}/customization",
            json_body=customization, cancel=cancel)

    def settle_customization(self, avatar_id: str, *,
                             cancel: threading.Event | None = None) -> None:
        """Read the avatar's customization and set it back unchanged: what Avaturn's own
        clients do before exporting an avatar created from photos (the API reference
        calls exporting one without a customization set undefined)."""
        self.set_customization(avatar_id, self.get_customization(avatar_id, cancel=cancel),
                               cancel=cancel)

    # -- exports ----------------------------------------------------------------------

    def request_export(self, avatar_id: str, *,
                       cancel: threading.Event | None = None) -> ExportState:
        """One ``POST exports/new?avatar_id=``; call again until ``ready``."""
        body = self._object(self.transport.json(
            "POST", f"{API}exports/new", params={"avatar_id": avatar_id}, cancel=cancel,
            repeatable=True))  # a poll: asked again and again by design
        url = body.get("url")
        return ExportState(status=str(body.get("status") or "").strip().lower(),
                           url=str(url) if isinstance(url, str) and url else None)

    def download(self, url: str, dest: Path, *, progress: ProgressFn | None = None,
                 cancel: threading.Event | None = None, max_bytes: int | None = None) -> int:
        """A temporary export URL (or a thumbnail) to ``dest``; the bearer token goes only
        to the API host."""
        return self.transport.download(url, dest, progress=progress, cancel=cancel,
                                       max_bytes=max_bytes)

    def close(self) -> None:
        self.transport.close()

    @staticmethod
    def _object(body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ProtocolError("Avaturn answered with something other than an object")
        return body


def _seg(value: str, what: str) -> str:
    """An id used as a path segment: refuse anything that would change the path."""
    if not value or any(c in value for c in "/?#\\%") or value in {".", ".."}:
        raise InputError(f"Refusing Avaturn {what} {value!r}: not a plain id")
    return value


def _text_or_none(value: Any) -> str | None:
    return str(value) if isinstance(value, str) and value else None
