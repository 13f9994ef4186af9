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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .avaturn import BODY_TYPES, AvaturnAvatar, AvaturnClient, Photo, PhotoAvatar
from .errors import (
    AvatarImporterError,
    Cancelled,
    InputError,
    NotFoundError,
    RemoteJobFailed,
)
from .once import create_once
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
    #: avatars this process made with avatars/new whose photos are on their way
    _claims: set[str] = field(default_factory=set, repr=False)
    _claims_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def user_id(self) -> str | None:
        """The Avaturn user the service works for (keep it to reuse the user's avatars)."""
        return self.client.user_id

    def remote_user(self) -> str | None:
        return self.client.user_id

    # -- the job ----------------------------------------------------------------------

    def create(self, ctx: JobContext) -> None:
        """Exactly once (core/once.py): Avaturn's ``avatars/new`` takes no tag, so the
        avatar id it answers is the job's mark. It is saved in the record
        (``pending_avatar``) before the photos are uploaded; an upload whose outcome is
        unknown is settled by the user's list (the avatar left ``pending``: not uploaded,
        so sent again; otherwise adopted). An ``avatars/new`` whose outcome is unknown is
        settled by comparing the user's list with the one read before the POST: new
        ``pending`` photo avatars that no job of this process owns are deleted (nobody
        can upload to them: their upload URL was lost), then the POST is sent again. A
        resumed record with a ``pending_avatar`` adopts it when its photos arrived, else
        deletes it (the upload URL is never stored) and starts over."""
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
        if self._adopt_pending(ctx, user):
            return
        created = self._new_avatar(ctx, user)
        ctx.remember(pending_avatar=created.avatar_id, avatar_source="photos")
        try:
            self._upload_once(ctx, created, user, photos, body_type, telephoto)
        finally:
            self._release(created.avatar_id)
        ctx.remember(avatar_code=created.avatar_id)

    def _upload_once(self, ctx: JobContext, created: PhotoAvatar, user: str,
                     photos: list[Photo], body_type: str, telephoto: bool) -> None:
        """The photo upload; an outcome in doubt is settled by the user's list (see
        :meth:`create`). A refused upload or a cancel removes the empty avatar."""
        retry = self.client.transport.retry
        attempt = 0
        while True:
            try:
                self.client.upload_photos(created.upload_url, photos, body_type=body_type,
                                          telephoto=telephoto, cancel=ctx.cancel)
                return
            except Cancelled:
                self._discard(created.avatar_id, user)
                raise
            except AvatarImporterError as exc:
                attempt += 1
                if not exc.in_doubt:
                    self._discard(created.avatar_id, user)
                    raise
                if attempt >= retry.max_attempts:
                    raise
                ctx.sleep(retry.backoff(attempt - 1))
                listed = self._listed(created.avatar_id, user, ctx.cancel)
                if listed is not None and listed.status != "pending":
                    return  # the photos arrived: the avatar computes

    def _adopt_pending(self, ctx: JobContext, user: str) -> bool:
        """A resumed record's ``pending_avatar``: adopted when its photos arrived (True);
        else deleted when it still waits for photos, and forgotten."""
        pending = str(ctx.record.get("pending_avatar") or "")
        if not pending:
            return False
        listed = self._listed(pending, user, ctx.cancel)
        if listed is not None and listed.status != "pending":
            ctx.remember(avatar_code=pending)
            return True
        if listed is not None:
            self._discard(pending, user)
        ctx.record.pop("pending_avatar", None)
        return False

    def _new_avatar(self, ctx: JobContext, user: str) -> PhotoAvatar:
        """``avatars/new`` exactly once (see :meth:`create`)."""
        before = {a.id for a in self.client.list_avatars(user, cancel=ctx.cancel)}

        def post() -> PhotoAvatar:
            made = self.client.new_photo_avatar(user, cancel=ctx.cancel)
            with self._claims_lock:
                self._claims.add(made.avatar_id)
            return made

        def find() -> PhotoAvatar | None:
            with self._claims_lock:
                claimed = set(self._claims)
            for avatar in self.client.list_avatars(user, cancel=ctx.cancel):
                if avatar.id not in before and avatar.id not in claimed and \
                        avatar.status == "pending" and avatar.source in ("photos", ""):
                    self._discard(avatar.id, user)  # an orphan of the doubtful POST
            return None  # never adoptable: its upload URL is unknown

        return create_once(post, find, retry=self.client.transport.retry, wait=ctx.sleep,
                           what="the Avaturn avatar")

    def _release(self, avatar_id: str) -> None:
        with self._claims_lock:
            self._claims.discard(avatar_id)

    def wait_computed(self, ctx: JobContext) -> None:
        """Poll the user's list until the avatar is ready. Without a user (an avatar
        imported by id alone), or for an avatar this job did not make that is not in the
        user's list, there is nothing to list: the export call, which needs only the
        avatar id, waits for it instead."""
        code = ctx.record["avatar_code"]
        user = str(ctx.record.get("player") or "")
        made_here = bool(ctx.record.get("pending_avatar"))
        if not user:
            return

        def step() -> bool | None:
            listed = self._listed(code, user, ctx.cancel)
            if listed is None:
                if made_here:
                    raise NotFoundError(f"Avatar {code} is not among Avaturn user {user}'s "
                                        "avatars (deleted while it was computing?)",
                                        status=404)
                return True  # not this user's: exported by id
            avatar = listed
            ctx.record["avatar_source"] = avatar.source or ctx.record.get("avatar_source")
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
        settled = [False]

        def step() -> ExportPlan | None:
            try:
                if not settled[0] and ctx.record.get("avatar_source") != "editor":
                    # photo avatars need their customization set before an export (the
                    # source is unknown for an avatar imported by id: set it anyway, the
                    # customization read is written back unchanged)
                    self.client.settle_customization(code, cancel=ctx.cancel)
                    settled[0] = True
                state = self.client.request_export(code, cancel=ctx.cancel)
            except NotFoundError:
                raise NotFoundError(f"Avatar {code} was not found on Avaturn (a wrong id, "
                                    "or deleted?)", status=404) from None
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

    def _listed(self, code: str, user: str,
                cancel: threading.Event) -> AvaturnAvatar | None:
        """The avatar as the user's list shows it, or None when it is not there."""
        for avatar in self.client.list_avatars(user, cancel=cancel):
            if avatar.id == code:
                return avatar
        return None

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
                        a.created_at, a.thumbnail, a.updated_at,
                        subtype=a.gender if a.gender in ("male", "female") else "")


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


def _conforms(service: AvaturnService) -> AvatarService:
    return service  # mypy checks that AvaturnService implements the protocol
