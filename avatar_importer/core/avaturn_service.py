"""Avaturn as an :class:`~.service.AvatarService` (name ``avaturn``), plus browser sessions.

A job creates an avatar from photos without the browser: the frontal photo is
``JobSpec.photo``; ``JobSpec.extra`` carries ``side_photos`` (two paths), ``body_type``
(``male``/``female``; default ``JobSpec.subtype``) and ``telephoto`` (bool, default
false). The job record's ``player`` is the Avaturn user id. Avatars made in the browser
(:meth:`AvaturnService.open_session`) are imported with ``JobEngine.import_existing``.

* ``wait_computed`` polls the user's avatar list (``include_not_ready``) until the avatar
  is ready (progress posted when the list gives one);
* ``wait_export`` asks ``exports/new`` until it is ready and returns
  ``ExportPlan(kind="glb")`` with the temporary URL, which the engine downloads at once
  (the URL is never stored). The export code that names the cache folder is
  ``v-<hash of the avatar id and its updated_at>`` when the list gives ``updated_at`` (an
  unchanged avatar is not downloaded twice; an edited one is), else ``u-<hash of the URL
  path>`` (a new download each time);
* listed avatars are shown with the shared status words (``Completed``, ``Failed``,
  ``Computing``, ``Pending``) so the browsing UI treats every service alike.

Threading: methods run on job worker threads (and UI task threads for browsing and
sessions); the client they share is thread-safe. Never touches Blender data.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .avaturn import BODY_TYPES, AvaturnAvatar, AvaturnClient
from .errors import AvatarImporterError, InputError, NotFoundError, RemoteJobFailed
from .service import AvatarService, ClientBacked, ExportPlan, JobContext, RemoteAvatar
from .stages import Stage
from .transport import ProgressFn

MAX_THUMBNAIL_BYTES = 20 * 1024 * 1024
_SHARED_STATUS = {"ready": "Completed", "failed": "Failed", "processing": "Computing",
                  "pending": "Pending"}


@dataclass
class AvaturnService(ClientBacked):
    client: AvaturnClient
    name: str = "avaturn"

    @property
    def user_id(self) -> str | None:
        """The Avaturn user the service works for (keep it to reuse the user's avatars)."""
        return self.client.user_id

    def remote_user(self) -> str | None:
        return self.client.user_id

    # -- the job ----------------------------------------------------------------------

    def create(self, ctx: JobContext) -> None:
        spec = ctx.spec
        if spec.photo is None:
            raise InputError("No frontal photo was given for the new Avaturn avatar")
        sides = spec.extra.get("side_photos") or []
        if not isinstance(sides, list | tuple) or len(sides) != 2:
            raise InputError("Avaturn needs two side photos besides the frontal one (head "
                             "turned left and right)")
        body_type = str(spec.extra.get("body_type") or spec.subtype)
        if body_type not in BODY_TYPES:
            raise InputError(f"Avaturn body type must be male or female, not {body_type!r}")
        telephoto = _flag(spec.extra.get("telephoto", False))
        photos = self.client.check_photos(spec.photo, [Path(str(p)) for p in sides])
        ctx.stage(Stage.AUTHENTICATE)
        user = self._user(ctx)
        ctx.remember(player=user)
        ctx.stage(Stage.UPLOAD)
        created = self.client.new_photo_avatar(user, cancel=ctx.cancel)
        try:
            self.client.upload_photos(created.upload_url, photos, body_type=body_type,
                                      telephoto=telephoto, cancel=ctx.cancel)
        except AvatarImporterError:  # Cancelled included
            self._discard(created.avatar_id, user)
            raise
        ctx.remember(avatar_code=created.avatar_id)

    def wait_computed(self, ctx: JobContext) -> None:
        code = ctx.record["avatar_code"]
        user = self._user(ctx)

        def step() -> bool | None:
            avatar = self._find(code, user, ctx.cancel)
            if avatar.ready:
                ctx.record["avatar_version"] = avatar.updated_at
                ctx.progress(100)
                return True
            if avatar.failed:
                raise RemoteJobFailed(
                    f"Avaturn could not make the avatar (status {avatar.status}); try other "
                    "photos: sharp, evenly lit, the face filling the frame")
            ctx.computing(avatar.progress is None or avatar.status == "pending",
                          avatar.progress)
            return None

        ctx.poll("Avatar computation", ctx.deadlines.compute, step)

    def wait_export(self, ctx: JobContext) -> ExportPlan:
        code = ctx.record["avatar_code"]
        ctx.stage(Stage.EXPORTING)

        def step() -> ExportPlan | None:
            try:
                state = self.client.request_export(code, cancel=ctx.cancel)
            except NotFoundError:
                raise NotFoundError(f"Avatar {code} no longer exists on Avaturn (deleted?)",
                                    status=404) from None
            if state.ready and state.url:
                ctx.remember(export_code=export_code(
                    code, str(ctx.record.get("avatar_version") or ""), state.url))
                return ExportPlan(file_url=state.url, kind="glb")
            if state.failed:
                raise RemoteJobFailed(f"Avaturn could not export the avatar (status "
                                      f"{state.status})")
            return None

        return ctx.poll("The export", ctx.deadlines.export, step)

    def download(self, url: str, dest: Path, *, progress: ProgressFn | None = None,
                 cancel: threading.Event | None = None, max_bytes: int | None = None,
                 owner: str | None = None) -> int:
        return self.client.download(url, dest, progress=progress, cancel=cancel,
                                    max_bytes=max_bytes)

    # -- browsing and sessions ----------------------------------------------------------

    def discover(self, subtype: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Avaturn has no parameters to discover: everything is chosen in its editor."""
        return {}, {}

    def list_avatars(self, page: int = 1) -> tuple[list[RemoteAvatar], bool]:
        """All the user's avatars (one page: the API does not paginate)."""
        if page > 1:
            return [], False
        return [_remote(a) for a in self.client.list_avatars()], False

    def delete_avatar(self, code: str) -> None:
        self.client.delete_avatar(code)

    def reexport(self, code: str, export_parameters: dict[str, Any]) -> str:
        raise InputError("Avaturn avatars have no export parameters: each import asks for "
                         "a fresh export, so import the avatar again (edit it in the "
                         "browser to change it)")

    def fetch_thumbnail(self, avatar: RemoteAvatar, dest: Path) -> None:
        if avatar.thumbnail:
            self.client.download(avatar.thumbnail, dest, max_bytes=MAX_THUMBNAIL_BYTES)

    def open_session(self, kind: str = "create_or_edit_existing",
                     avatar_id: str | None = None) -> str:
        """A new browser session's URL (short-lived: open it at once). ``kind``:
        ``create``, ``edit_existing`` (needs ``avatar_id``) or ``create_or_edit_existing``."""
        return self.client.create_session(kind, avatar_id=avatar_id).url

    def new_user(self) -> str:
        """Start from scratch: a new Avaturn user (no avatars) replaces the kept one."""
        return self.client.create_user()

    # -- helpers ------------------------------------------------------------------------

    def _user(self, ctx: JobContext) -> str:
        user = ctx.record.get("player")
        return str(user) if user else self.client.ensure_user()

    def _find(self, code: str, user: str, cancel: threading.Event) -> AvaturnAvatar:
        try:
            return self.client.get_avatar(code, user, cancel=cancel)
        except NotFoundError:
            raise NotFoundError(f"Avatar {code} is not among Avaturn user {user}'s avatars "
                                "(deleted, or made by another user?)", status=404) from None

    def _discard(self, avatar_id: str, user: str) -> None:
        """Best effort: remove an avatar whose photos never arrived."""
        with contextlib.suppress(AvatarImporterError):
            self.client.delete_avatar(avatar_id, user)


def export_code(avatar_id: str, version: str, url: str) -> str:
    """The cache folder name of one export (a plain name; see the module docstring)."""
    if version:
        return "v-" + hashlib.sha256(f"{avatar_id}|{version}".encode()).hexdigest()[:16]
    return "u-" + hashlib.sha256(urlsplit(url).path.encode()).hexdigest()[:16]


def _remote(a: AvaturnAvatar) -> RemoteAvatar:
    when = a.created_at[:16].replace("T", " ")
    name = " ".join(p for p in ("Avaturn", a.gender or "", when) if p)
    return RemoteAvatar(a.id, name, _SHARED_STATUS.get(a.status, a.status or "Pending"),
                        a.created_at, a.thumbnail, a.updated_at)


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


def _conforms(service: AvaturnService) -> AvatarService:
    return service  # mypy checks that AvaturnService implements the protocol
