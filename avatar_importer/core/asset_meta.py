"""What an avatar asset of the library says about itself, made one way for every path
into the library (a manifest row, My Avatars' Back Up All, the panel's Save to Library).

* :class:`AvatarSource`: where an avatar came from (service, avatar and export codes,
  subtype, export parameters, photo; never a secret). Made from the job that imported it
  (:meth:`AvatarSource.from_job`), from the record kept on its collection
  (:meth:`AvatarSource.from_record`), or from this machine's job records
  (:func:`sources_by_code`: an avatar listed by the service, e.g. Back Up All, is described
  by the job that created or imported it here; :func:`spec_for_existing` puts that into
  the import's job spec).
* :class:`AssetMeta`: the asset's catalog, tags and description, made by
  :meth:`AssetMeta.for_avatar` from a source and what the user added (a manifest row's
  catalog, tags and description). The same source gives the same catalog, tags and
  description whichever way the asset was saved.

No bpy here.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .stages import JobSpec, JobState

DEFAULT_SUBTYPE = "female"
#: export-parameter categories named in the description, and the name each is shown by
_LISTED = (("haircuts", "haircut"), ("outfits", "outfit"), ("outfits_top", "outfit_top"),
           ("outfits_bottom", "outfit_bottom"), ("outfits_shoes", "outfit_shoes"),
           ("glasses", "glasses"), ("blendshapes", "blendshapes"))


@dataclass(frozen=True)
class AvatarSource:
    """Where an imported avatar came from (no secrets). ``service`` is ``file`` for an
    avatar imported from a file."""

    service: str = "file"
    avatar_code: str = ""
    export_code: str = ""
    subtype: str = DEFAULT_SUBTYPE
    export_parameters: dict[str, Any] = field(default_factory=dict)
    photo: str = ""

    @classmethod
    def from_job(cls, state: JobState) -> AvatarSource:
        spec = state.spec
        return cls(service=state.service, avatar_code=state.avatar_code,
                   export_code=state.export_code, subtype=spec.subtype or DEFAULT_SUBTYPE,
                   export_parameters=dict(spec.export_parameters or {}),
                   photo=str(spec.photo) if spec.photo else "")

    @classmethod
    def from_record(cls, body: dict[str, Any] | None) -> AvatarSource:
        """From :meth:`to_record`'s dict (also the previous version's, whose export
        parameters were called ``export_options``); missing or odd values are defaults."""
        body = body if isinstance(body, dict) else {}
        params = body.get("export_parameters", body.get("export_options"))
        return cls(service=_text(body.get("service")) or "file",
                   avatar_code=_text(body.get("avatar_code")),
                   export_code=_text(body.get("export_code")),
                   subtype=_text(body.get("subtype")) or DEFAULT_SUBTYPE,
                   export_parameters=dict(params) if isinstance(params, dict) else {},
                   photo=_text(body.get("photo")))

    def to_record(self) -> dict[str, Any]:
        return {"service": self.service, "avatar_code": self.avatar_code,
                "export_code": self.export_code, "subtype": self.subtype,
                "export_parameters": self.export_parameters, "photo": self.photo}


def sources_by_code(job_records: Iterable[dict[str, Any]],
                    base_url: str) -> dict[str, AvatarSource]:
    """The source of every avatar this machine's job records (``Cache.jobs``) of the
    service at ``base_url`` asked for with export parameters (the job that created it, or
    imported it with the user's choices); the newest record wins."""
    found: dict[str, tuple[float, AvatarSource]] = {}
    for record in job_records:
        spec = record.get("spec")
        code = _text(record.get("avatar_code"))
        if not code or record.get("base_url") != base_url or not isinstance(spec, dict) \
                or not spec.get("export_parameters"):
            continue
        created = float(record.get("created") or 0)
        if code in found and found[code][0] > created:
            continue
        found[code] = (created, AvatarSource.from_record({**spec, **{
            k: record.get(k) for k in ("service", "avatar_code", "export_code")}}))
    return {code: source for code, (_t, source) in found.items()}


def spec_for_existing(name: str, known: AvatarSource | None,
                      listed_subtype: str = "") -> JobSpec:
    """The job spec importing an avatar the service has already (My Avatars' Import, Back
    Up All): its subtype as the service lists it, else as ``known`` (:func:`sources_by_code`)
    says; the export parameters ``known`` asked for. Nothing is created from them: they
    describe the asset as the job that made the avatar would."""
    known = known or AvatarSource()
    return JobSpec(photo=None, name=name, subtype=listed_subtype or known.subtype,
                   export_parameters=dict(known.export_parameters))


def export_summary(params: dict[str, Any]) -> dict[str, str]:
    """The export parameters a person reads: level of detail, texture profile, and the
    haircut, outfit(s), glasses and blendshape sets asked for (``;`` between several)."""
    out: dict[str, str] = {}
    if not isinstance(params, dict):
        return out
    if params.get("lod"):
        out["lod"] = str(params["lod"])
    textures = params.get("textures")
    if isinstance(textures, dict) and textures.get("profile"):
        out["profile"] = str(textures["profile"])
    for key, label in _LISTED:
        entry = params.get(key)
        names = entry.get("list") if isinstance(entry, dict) else None
        if isinstance(names, list) and names:
            out[label] = ";".join(str(n) for n in names)
    return out


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


@dataclass
class AssetMeta:
    """What an avatar asset says about itself (no secrets). Make it with
    :meth:`for_avatar`."""

    name: str
    service: str
    subtype: str = DEFAULT_SUBTYPE
    avatar_code: str = ""
    export_code: str = ""
    catalog: str = ""  # empty: Avatars/<service>/<subtype>
    tags: list[str] = field(default_factory=list)  # the user's own
    description: str = ""  # the user's own text, put first
    export_options: dict[str, str] = field(default_factory=dict)  # export_summary
    preview: Path | None = None  # an image file (thumbnail, photo)
    date: str = field(default_factory=_now)

    @classmethod
    def for_avatar(cls, name: str, source: AvatarSource, *, catalog: str = "",
                   tags: Iterable[str] = (), description: str = "",
                   preview: Path | None = None) -> AssetMeta:
        """The asset ``name`` of the avatar ``source`` describes; ``catalog``, ``tags``
        and ``description`` are the user's own (a manifest row's), empty otherwise."""
        return cls(name=name, service=source.service, subtype=source.subtype,
                   avatar_code=source.avatar_code, export_code=source.export_code,
                   catalog=catalog, tags=list(tags), description=description,
                   export_options=export_summary(source.export_parameters), preview=preview)

    @property
    def catalog_path(self) -> str:
        return self.catalog or f"Avatars/{self.service}/{self.subtype}"

    @property
    def all_tags(self) -> list[str]:
        """The asset's tags: the user's, then the service and ``avatar``."""
        return list(dict.fromkeys([*self.tags, self.service, "avatar"]))

    def description_text(self) -> str:
        lines = [self.description] if self.description else []
        lines.append(f"Service: {self.service}")
        if self.avatar_code:
            lines.append(f"Avatar code: {self.avatar_code}")
        options = ", ".join(f"{k}={v}" for k, v in sorted(self.export_options.items()) if v)
        if options:
            lines.append(f"Export options: {options}")
        lines.append(f"Date: {self.date}")
        return "\n".join(lines)

    def row_fields(self) -> dict[str, Any]:
        """What the library's row state (``core.library_rows``) records of the asset."""
        return {"service": self.service, "catalog": self.catalog_path, "tags": self.tags,
                "description": self.description_text(),
                "avatar_code": self.avatar_code or None,
                "export_code": self.export_code or None}


def _text(value: Any) -> str:
    return str(value).strip() if value is not None else ""
