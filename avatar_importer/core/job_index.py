"""An on-disk index of the job records by what they ask for, so that finding "the unfinished
job for this photo and these options" opens a few files, however many records the cache
holds (see :meth:`~.cache.Cache.unfinished_job_for`, run by every ``JobEngine.submit``).

Layout under the cache's ``jobs/`` folder::

    by-key/<bucket>/<slot>-<job id>
                                an empty marker file per job record that has a key
                                (``JobSpec.key``) and a service base URL; <slot> is a
                                hash of both (:func:`slot_name`), <bucket> its first two
                                hex digits (at most 256 folders: the cache stays cheap to
                                walk, and an empty file takes no disk block)
    by-key/complete.json        written once every record then in ``jobs/`` had its
                                markers (records written before this index existed,
                                or before its current ``VERSION``)

Version 2 also files each record that knows its avatar under ``avatar:<code>``
(:func:`avatar_slot_key`), so the job that made a listed avatar (My Avatars' Import,
Back Up All: ``Cache.jobs_for_avatar``) is found the same way.

The index says only *which* records may match; the records themselves stay the truth: a
lookup reads each candidate record (its state, owner, key and base URL) fresh from disk,
so a job finished, taken over or deleted by another process is seen as it is now.

Rules that keep it exact when several processes share the cache:

* A marker is created *before* its record is first written (:meth:`JobKeyIndex.add`,
  from ``Cache.save_job``), so a process killed between the two leaves a marker without
  a record (harmless), never a record without a marker (which no lookup would find).
* Markers are only ever added, except that a marker whose record is missing is removed
  once it is older than :data:`PRUNE_AFTER_SECONDS` (a live writer writes the record
  microseconds after the marker), and ``Cache.forget_job`` removes its own.
* Creating a marker is idempotent and atomic (an empty file created or already there);
  nothing is read-modified-written, so concurrent writers cannot lose each other's
  entries.

Cost: one marker check per ``save_job`` (a ``stat``); for a lookup, one listing of a
bucket (about 1/256 of the records' names: 40 names at 10,000 records) and one record read
per job ever made with the same key. A cache written by a version
without this index is scanned once (the first lookup; every record read once), then
``complete.json`` records that it was. Limit: records written afterwards by such an
older version (sharing the same cache) get no marker and are not found by key.

Thread safety: no state in memory; safe from any thread and any process.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

INDEX_DIR = "by-key"
COMPLETE = "complete.json"
VERSION = 2
PRUNE_AFTER_SECONDS = 60.0


def avatar_slot_key(avatar_code: str) -> str:
    """The key the jobs of one remote avatar are filed under."""
    return f"avatar:{avatar_code}"


def slot_name(key: str, base_url: str) -> str:
    """The marker folder of the jobs asking for ``key`` of the service at ``base_url``."""
    return hashlib.sha256(f"{base_url}\n{key}".encode()).hexdigest()[:32]


class JobKeyIndex:
    def __init__(self, jobs_dir: Path) -> None:
        self.jobs_dir = jobs_dir
        self.root = jobs_dir / INDEX_DIR

    def _marker(self, job_id: str, key: str, base_url: str) -> Path:
        slot = slot_name(key, base_url)
        return self.root / slot[:2] / f"{slot}-{job_id}"

    def add(self, job_id: str, key: str, base_url: str) -> None:
        """Make sure the marker of ``job_id`` under (``key``, ``base_url``) exists."""
        marker = self._marker(job_id, key, base_url)
        if marker.exists():
            return
        marker.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.close(os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))

    def remove(self, job_id: str, key: str, base_url: str) -> None:
        self._marker(job_id, key, base_url).unlink(missing_ok=True)

    def candidates(self, key: str, base_url: str) -> list[str]:
        """Job ids whose marker is under (``key``, ``base_url``): a superset of the
        matching records (possibly with ids whose record is gone)."""
        slot = slot_name(key, base_url)
        prefix = f"{slot}-"
        try:
            names = os.listdir(self.root / slot[:2])
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(n[len(prefix):] for n in names if n.startswith(prefix))

    def prune(self, job_id: str, key: str, base_url: str, now: float | None = None) -> None:
        """Remove the marker of a job whose record is missing, unless it is new (its writer
        may be about to write the record)."""
        marker = self._marker(job_id, key, base_url)
        now = time.time() if now is None else now
        with contextlib.suppress(OSError):
            if now - marker.stat().st_mtime > PRUNE_AFTER_SECONDS:
                marker.unlink()

    # -- records written before the index existed --------------------------------------

    def complete(self) -> bool:
        try:
            doc = json.loads((self.root / COMPLETE).read_text())
        except (OSError, ValueError):
            return False
        return isinstance(doc, dict) and doc.get("version") == VERSION

    def build(self, records: Iterable[dict[str, Any]],
              keyed: Callable[[dict[str, Any]], list[tuple[str, str]]],
              write: Callable[[Path, bytes], None]) -> int:
        """Add the markers of every record in ``records`` (``keyed`` gives the (key, base
        URL) pairs it is filed under), then mark the index complete with ``write`` (an
        atomic file write). Returns how many records have a marker."""
        count = 0
        for record in records:
            entries = keyed(record)
            for entry in entries:
                self.add(str(record["id"]), *entry)
            count += bool(entries)
        doc = {"version": VERSION, "built": time.time(), "records": count}
        write(self.root / COMPLETE, json.dumps(doc, indent=1).encode())
        return count
