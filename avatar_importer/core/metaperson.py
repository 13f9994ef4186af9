"""Avatar SDK MetaPerson 2.0 as an :class:`AvatarService` (also used for the sandbox).

Threading: methods run on job worker threads; the client they share is thread-safe.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .avatarsdk import Avatar, AvatarSdkClient, Export
from .errors import InputError, NotFoundError, RemoteJobFailed
from .once import create_once, creation_tag
from .photo import check_photo
from .service import ClientBacked, ExportPlan, JobContext, RemoteAvatar
from .stages import Stage
from .transport import ProgressFn

_WAITING = {"Pending", "Uploading", "Queued"}


@dataclass
class MetaPersonService(ClientBacked):
    client: AvatarSdkClient
    name: str = "avatarsdk"

    def remote_user(self) -> str | None:
        return self.client.player

    def create(self, ctx: JobContext) -> None:
        spec = ctx.spec
        if spec.photo is None:
            raise InputError("No photo was given for the new avatar")
        check_photo(spec.photo)  # a bad photo costs no sign-in and no request
        ctx.stage(Stage.AUTHENTICATE)
        self.client.header(cancel=ctx.cancel)  # a throttled sign-in stays cancellable
        player = str(ctx.record.get("player") or "") or \
            self.client.ensure_player(cancel=ctx.cancel)
        tag, look_first = creation_tag(ctx.record)
        ctx.remember(player=player, creation_tag=tag)  # saved before the POST
        ctx.stage(Stage.UPLOAD)

        def post() -> Avatar:
            assert spec.photo is not None
            return self.client.create_avatar(
                spec.photo, name=spec.name, subtype=spec.subtype, pipeline=spec.pipeline,
                parameters=spec.parameters, export_parameters=spec.export_parameters,
                description=tag, cancel=ctx.cancel, player=player)

        def find() -> Avatar | None:
            return self.client.find_avatar_by_tag(tag, player=player, cancel=ctx.cancel)

        avatar = create_once(post, find, retry=self.client.transport.retry,
                             wait=ctx.sleep, look_first=look_first)
        ctx.remember(avatar_code=avatar.code)
        ctx.notes["fresh_upload"] = avatar.status == "Uploading"  # the answer said so

    def wait_computed(self, ctx: JobContext) -> None:
        code = ctx.record["avatar_code"]

        def step() -> bool | None:
            try:
                avatar = self.client.get_avatar(code, cancel=ctx.cancel,
                                                player=ctx.record.get("player"))
            except NotFoundError:
                raise NotFoundError(f"Avatar {code} no longer exists on the service "
                                    "(deleted while it was computing?)", status=404) from None
            if avatar.done:
                ctx.progress(100)
                return True
            if avatar.failed:
                raise RemoteJobFailed(
                    f"The service could not compute the avatar (status {avatar.status}); "
                    "try another photo: a clear, front-facing face, evenly lit")
            ctx.computing(avatar.status in _WAITING, avatar.progress)
            return None

        # right after the upload its answer already said "Uploading"; a resumed job asks
        ctx.poll("Avatar computation", ctx.deadlines.compute, step,
                 at_once=not ctx.notes.pop("fresh_upload", False))

    def wait_export(self, ctx: JobContext) -> ExportPlan:
        code = ctx.record["avatar_code"]
        ctx.stage(Stage.EXPORTING)

        def step() -> ExportPlan | None:
            wanted = ctx.record.get("export_code")
            export = self._pick_export(code, wanted, ctx.cancel, ctx.record.get("player"))
            if export is None:
                return None
            if export.code != wanted:
                ctx.remember(export_code=export.code)
            if export.done:
                main = export.main_file()
                return ExportPlan(file_url=main.file, static_urls=main.static_files)
            if export.failed:
                raise RemoteJobFailed(
                    f"The service could not export the avatar (status {export.status})")
            return None

        # exports usually follow the avatar within seconds: ask sooner than for it
        return ctx.poll("The export", ctx.deadlines.export, step,
                        interval=min(ctx.poll_interval, 2.0))

    def _pick_export(self, code: str, wanted: str | None, cancel: threading.Event,
                     player: str | None) -> Export | None:
        if wanted:
            return self.client.get_export(code, wanted, cancel=cancel, player=player)
        exports = self.client.list_exports(code, cancel=cancel, player=player)
        done = [e for e in exports if e.done]
        candidates = done or exports
        return candidates[0] if candidates else None

    def download(self, url: str, dest: Path, *, progress: ProgressFn | None = None,
                 cancel: threading.Event | None = None, max_bytes: int | None = None,
                 owner: str | None = None) -> int:
        return self.client.download(url, dest, progress=progress, cancel=cancel,
                                    max_bytes=max_bytes, player=owner)

    # -- browsing ---------------------------------------------------------------------

    def discover(self, subtype: str) -> tuple[dict[str, Any], dict[str, Any]]:
        return (self.client.available_parameters(subtype),
                self.client.available_export_parameters(subtype))

    def list_avatars(self, page: int = 1) -> tuple[list[RemoteAvatar], bool]:
        avatars, more = self.client.list_avatars(page)
        return [RemoteAvatar(a.code, a.name, a.status, a.created_on, a.thumbnail,
                             subtype=a.pipeline_subtype or "") for a in avatars], more

    def delete_avatar(self, code: str) -> None:
        self.client.delete_avatar(code)

    def reexport(self, code: str, export_parameters: dict[str, Any]) -> str:
        return self.client.create_export(code, export_parameters).code

    def fetch_thumbnail(self, avatar: RemoteAvatar, dest: Path) -> None:
        if avatar.thumbnail:
            self.client.download(avatar.thumbnail, dest, max_bytes=20 * 1024 * 1024)
