"""The one small interface the job engine and the UI use for every avatar service.

A service turns a job into remote work in three steps, each run on a worker thread with a
:class:`JobContext` (progress, cancel, remembering remote identifiers for resume):

1. ``create(ctx)``: sign in and upload, exactly once (core/once.py: a creation tag saved
   in the record before the POST, a lookup before any second POST); must call
   ``ctx.remember(avatar_code=...)``.
2. ``wait_computed(ctx)``: poll until the avatar is computed (posting progress).
3. ``wait_export(ctx)``: make sure an export is ready; must call
   ``ctx.remember(export_code=...)``; returns an :class:`ExportPlan`.

Then the engine downloads ``ExportPlan.file_url`` with ``download()`` and the static
resources, which is the same for every service.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from .errors import Cancelled, DeadlineExceeded
from .stages import Event, JobSpec, Stage
from .transport import ProgressFn

if TYPE_CHECKING:
    from .cache import Cache


T = TypeVar("T")


@dataclass(frozen=True)
class ExportPlan:
    file_url: str
    static_urls: tuple[str, ...] = ()
    kind: str = "zip"  # "zip" (an archive holding the GLB) or "glb"


@dataclass(frozen=True)
class Deadlines:
    """Per-stage deadlines (seconds). Documented in the README."""

    compute: float = 45 * 60.0
    export: float = 20 * 60.0


class AvatarService(Protocol):
    name: str

    @property
    def base_url(self) -> str: ...


    def record(self) -> dict[str, Any]: ...

    def create(self, ctx: JobContext) -> None: ...

    def wait_computed(self, ctx: JobContext) -> None: ...

    def wait_export(self, ctx: JobContext) -> ExportPlan: ...

    def download(self, url: str, dest: Path, *, progress: ProgressFn | None = None,
                 cancel: threading.Event | None = None,
                 max_bytes: int | None = None, owner: str | None = None) -> int:
        """``owner``: the job's remote user (player) when the service scopes files to it."""
        ...

    def close(self) -> None: ...

    # -- browsing (UI tasks, on worker threads) ------------------------------------

    def discover(self, subtype: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """(computation parameters, export parameters) the service offers."""
        ...

    def list_avatars(self, page: int = 1) -> tuple[list[RemoteAvatar], bool]: ...

    def delete_avatar(self, code: str) -> None: ...

    def reexport(self, code: str, export_parameters: dict[str, Any]) -> str:
        """Start a new export of an existing avatar (no recompute); its code."""
        ...

    def fetch_thumbnail(self, avatar: RemoteAvatar, dest: Path) -> None: ...


class ClientBacked:
    """What every service built on one HTTP client shares: its base URL, the non-secret
    record a job keeps about it, closing. Subclasses have ``client`` and ``name`` and say
    who the remote user is (a player code, a user id)."""

    client: Any
    name: str

    @property
    def base_url(self) -> str:
        return str(self.client.base_url)

    def remote_user(self) -> str | None:
        raise NotImplementedError

    def record(self) -> dict[str, Any]:
        """What a job record keeps about the service (no secrets)."""
        return {"service": self.name, "base_url": self.base_url, "player": self.remote_user()}

    def close(self) -> None:
        self.client.close()


@dataclass(frozen=True)
class RemoteAvatar:
    """One of the user's avatars on the service, as listed."""

    code: str
    name: str
    status: str
    created_on: str = ""
    thumbnail: str = ""
    updated_on: str = ""  # changes when the avatar is edited
    subtype: str = ""  # male/female when the service says (MetaPerson's pipeline_subtype)


@dataclass
class JobContext:
    """The worker thread's handle on its job. Posts events; never touches Blender."""

    job_id: str
    spec: JobSpec
    cancel: threading.Event
    post: Any  # Callable[[Event], None]
    cache: Cache
    record: dict[str, Any]
    poll_interval: float = 5.0
    deadlines: Deadlines = field(default_factory=Deadlines)
    #: transient facts between a service's steps in this run (never saved)
    notes: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        if self.cancel.is_set():
            raise Cancelled()

    def emit(self, kind: str, /, **data: Any) -> None:
        self.post(Event(self.job_id, kind, data))

    def stage(self, stage: Stage) -> None:
        self.check()
        self.record["stage"] = stage.value
        self.emit("stage", stage=stage.value)

    def progress(self, value: int) -> None:
        self.emit("progress", progress=int(value))

    def remember(self, **ids: str) -> None:
        """Store remote identifiers at once, so a crash can resume instead of recompute."""
        self.record.update(ids)
        self.cache.save_job(self.record)
        self.emit("remote", **ids)

    def sleep(self, seconds: float) -> None:
        if self.cancel.wait(max(0.0, seconds)):
            raise Cancelled()

    def deadline(self, what: str, seconds: float) -> _Deadline:
        return _Deadline(what, time.monotonic() + seconds, seconds)

    def poll(self, what: str, seconds: float, step: Callable[[], T | None], *,
             interval: float | None = None, at_once: bool = True) -> T:
        """Call ``step`` until it returns something other than None, sleeping ``interval``
        (default: the poll interval) between calls; ``DeadlineExceeded`` naming ``what``
        after ``seconds``. ``at_once=False`` waits one interval before the first call."""
        deadline = self.deadline(what, seconds)
        pause = self.poll_interval if interval is None else interval
        if not at_once:
            self.sleep(pause)
        while True:
            result = step()
            if result is not None:
                return result
            deadline.check()
            self.sleep(pause)

    def computing(self, waiting: bool, progress: int | None) -> None:
        """Report a remote avatar still queued, or computing with the service's progress."""
        if waiting:
            self.stage(Stage.QUEUED)
        else:
            self.stage(Stage.COMPUTING)
            self.progress(progress or 0)


@dataclass
class _Deadline:
    what: str
    until: float
    seconds: float

    def check(self) -> None:
        if time.monotonic() > self.until:
            raise DeadlineExceeded(
                f"{self.what} did not finish within {duration_text(self.seconds)}; the "
                "job is kept and can be resumed later")


def duration_text(seconds: float) -> str:
    """``45 minutes``, ``90 seconds``, ``1 minute``: deadlines in words (never "0 minutes")."""
    if seconds < 60 or (seconds < 120 and round(seconds) % 60):
        value, unit = max(1, round(seconds)), "second"
    else:
        value, unit = max(1, round(seconds / 60)), "minute"
    return f"{value} {unit}{'' if value == 1 else 's'}"
