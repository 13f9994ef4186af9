"""Job stages, the events that carry them, and the main-thread view of a job."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any


class Stage(StrEnum):
    WAITING = "waiting"  # queued locally for a worker slot
    AUTHENTICATE = "authenticate"
    UPLOAD = "upload"
    QUEUED = "queued"
    COMPUTING = "computing"
    EXPORTING = "exporting"
    DOWNLOADING = "downloading"
    STATIC = "static"
    READY = "ready"
    IMPORTING = "importing"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in FINAL_STAGES

    @property
    def text(self) -> str:
        return STAGE_TEXT[self]


FINAL_STAGES = frozenset({Stage.DONE, Stage.FAILED, Stage.CANCELLED})

STAGE_TEXT = {
    Stage.WAITING: "Waiting for a free slot",
    Stage.AUTHENTICATE: "Signing in",
    Stage.UPLOAD: "Uploading the photo",
    Stage.QUEUED: "Queued on the service",
    Stage.COMPUTING: "Computing the avatar",
    Stage.EXPORTING: "Preparing the export",
    Stage.DOWNLOADING: "Downloading",
    Stage.STATIC: "Fetching shared textures",
    Stage.READY: "Ready to import",
    Stage.IMPORTING: "Importing into Blender",
    Stage.DONE: "Done",
    Stage.FAILED: "Failed",
    Stage.CANCELLED: "Cancelled",
}


@dataclass(frozen=True)
class Event:
    """What a worker tells the main thread. ``kind`` is one of: stage, progress, bytes,
    remote, ready, failed, cancelled."""

    job_id: str
    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)


@dataclass
class JobSpec:
    """What the user asked for: one photo = one avatar."""

    photo: Path | None
    name: str
    subtype: str = "female"
    pipeline: str = "metaperson_2.0"
    parameters: dict[str, Any] = field(default_factory=dict)
    export_parameters: dict[str, Any] = field(default_factory=dict)
    #: service-specific inputs that are not secrets (e.g. Avaturn's side photos, body type)
    extra: dict[str, Any] = field(default_factory=dict)

    def key(self) -> str:
        """What makes two requests the same job: a hash of the resolved photo path, the
        subtype, pipeline, parameters, export parameters and the service extras (the name
        is a label, not part of it). The engine resumes an unfinished job with the same key
        instead of creating (and paying for) a second avatar."""
        photo = str(Path(self.photo).expanduser().resolve()) if self.photo else None
        doc = {"photo": photo, "subtype": self.subtype, "pipeline": self.pipeline,
               "parameters": self.parameters, "export_parameters": self.export_parameters,
               "extra": self.extra}
        text = json.dumps(doc, sort_keys=True, default=str, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def to_record(self) -> dict[str, Any]:
        return {
            "photo": str(self.photo) if self.photo else None,
            "name": self.name,
            "subtype": self.subtype,
            "pipeline": self.pipeline,
            "parameters": self.parameters,
            "export_parameters": self.export_parameters,
            "extra": self.extra,
        }

    @classmethod
    def from_record(cls, data: dict[str, Any]) -> JobSpec:
        photo = data.get("photo")
        return cls(
            photo=Path(photo) if photo else None,
            name=str(data.get("name") or "Avatar"),
            subtype=str(data.get("subtype") or "female"),
            pipeline=str(data.get("pipeline") or "metaperson_2.0"),
            parameters=dict(data.get("parameters") or {}),
            export_parameters=dict(data.get("export_parameters") or {}),
            extra=dict(data.get("extra") or {}),
        )


@dataclass
class JobState:
    """The main thread's view of a job; only the pump changes it."""

    id: str
    spec: JobSpec
    service: str
    stage: Stage = Stage.WAITING
    progress: int = 0
    bytes_done: int = 0
    bytes_total: int | None = None
    error: str = ""
    error_kind: str = ""
    avatar_code: str = ""
    export_code: str = ""
    glb_path: Path | None = None
    search: dict[str, Path] = field(default_factory=dict)
    static_fetched: int = 0
    static_reused: int = 0
    bytes_downloaded: int = 0
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    stage_seconds: dict[str, float] = field(default_factory=dict)
    stage_started: float = field(default_factory=time.monotonic)
    result: Any = None
    #: True when this continues a job record left unfinished (a crash, a cut network, or
    #: the same photo asked for again) instead of starting a new creation
    resumed: bool = False

    @property
    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    def enter(self, stage: Stage, at: float) -> None:
        if stage == self.stage:
            return
        spent = max(0.0, at - self.stage_started)
        self.stage_seconds[self.stage.value] = self.stage_seconds.get(self.stage.value, 0.0) + spent
        self.stage = stage
        self.stage_started = at
        if stage.final:
            self.finished = at

    def resumed_text(self) -> str:
        """What to say when a submitted photo resumed its unfinished job (``resumed``)
        instead of paying for a second avatar."""
        avatar = f"avatar {self.avatar_code}" if self.avatar_code else \
            "avatar not known yet: looked up by its creation tag before any new upload"
        return (f"resuming unfinished job for {self.spec.photo} ({avatar}) instead of "
                "creating a new one")

    def status_line(self) -> str:
        text = self.stage.text
        if self.stage == Stage.COMPUTING:
            text += f" {self.progress}%"
        elif self.stage == Stage.DOWNLOADING and self.bytes_done:
            text += f" {_mb(self.bytes_done)}"
            if self.bytes_total:
                text += f" of {_mb(self.bytes_total)}"
        elif self.stage == Stage.FAILED and self.error:
            text += f": {self.error}"
        return text

    @property
    def fraction(self) -> float:
        """0..1 overall, for progress bars."""
        order = [Stage.WAITING, Stage.AUTHENTICATE, Stage.UPLOAD, Stage.QUEUED,
                 Stage.COMPUTING, Stage.EXPORTING, Stage.DOWNLOADING, Stage.STATIC,
                 Stage.READY, Stage.IMPORTING, Stage.DONE]
        if self.stage not in order:
            return 1.0
        base = order.index(self.stage) / (len(order) - 1)
        step = 1.0 / (len(order) - 1)
        if self.stage == Stage.COMPUTING:
            base += step * self.progress / 100.0
        elif self.stage == Stage.DOWNLOADING and self.bytes_total:
            base += step * min(1.0, self.bytes_done / self.bytes_total)
        return min(1.0, base)


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"
