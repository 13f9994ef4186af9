"""The per-user cache directory and its layout.

Layout under the root::

    static/<URL path>                          static resources, one copy for every avatar
                                               (e.g. static/static_resources/metaperson_2.0/...)
    exports/<service>/<avatar>/<export>/       export archive (export.zip) and extracted/
    jobs/<job id>.json                         remote identifiers and options of each job,
                                               so an interrupted job can be resumed; its
                                               ``key`` (same photo and options = same
                                               job), ``creation_tag`` (core/once.py) and,
                                               while a process runs it, ``owner``
    jobs/by-key/                               job ids by key and base URL, so a submit
                                               finds its unfinished job without reading
                                               every record (core/job_index.py)
    players.json                               player codes per service + base URL

Root: ``AVATAR_IMPORTER_CACHE`` when set; else the add-on passes Blender's
``extension_path_user(..., "cache")`` when installed as an extension; else
:func:`default_cache_root` (``$XDG_CACHE_HOME/avatar_importer`` or
``~/.cache/avatar_importer`` on Linux, ``~/Library/Caches/avatar_importer`` on macOS,
``%LOCALAPPDATA%\\avatar_importer\\cache`` on Windows).

Every file is written atomically (temporary file in the same folder + ``os.replace``), so
a crash never leaves a half-written entry under its final name, and two processes sharing
the cache at once each replace whole files only. No secret is ever written here.

Temporary files and folders are named by :func:`partial_path`:
``.<name>.<host>-<pid>-<random>.part`` (host: a short hash of the machine's name). A
process killed mid-write leaves one behind; :meth:`Cache.sweep_partials` (run when a job
engine starts) removes those whose writer is gone: same host and no such process, or
older than a day (another host, or no writer recorded).

Thread safety: methods may be called from worker threads; job-record writes are
serialised by a lock per process (and are atomic across processes).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import socket
import sys
import threading
import time
import uuid
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from .errors import ConfigError, UnsafeUriError
from .job_index import JobKeyIndex, avatar_slot_key
from .stages import JobSpec

ENV_CACHE = "AVATAR_IMPORTER_CACHE"


def default_cache_root(env: dict[str, str] | None = None) -> Path:
    env = dict(os.environ) if env is None else env
    if env.get(ENV_CACHE):
        return Path(env[ENV_CACHE]).expanduser()
    home = Path(env.get("HOME") or Path.home())
    if sys.platform == "win32":
        base = Path(env.get("LOCALAPPDATA") or home / "AppData" / "Local")
        return base / "avatar_importer" / "cache"
    if sys.platform == "darwin":
        return home / "Library" / "Caches" / "avatar_importer"
    return Path(env.get("XDG_CACHE_HOME") or home / ".cache") / "avatar_importer"


_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]
_PARTIAL = re.compile(r"^\..*\.(?P<host>[0-9a-f]{6})-(?P<pid>\d+)-[a-z0-9_]{8}\.part$")
STALE_PARTIAL_SECONDS = 24 * 3600.0


def partial_prefix(path: Path) -> str:
    """``.<name>.<host>-<pid>-``: what a temporary sibling of ``path`` starts with."""
    return f".{path.name}.{_HOST}-{os.getpid()}-"


def partial_path(path: Path) -> Path:
    """A fresh temporary sibling of ``path`` (see the module docstring)."""
    return path.with_name(f"{partial_prefix(path)}{uuid.uuid4().hex[:8]}.part")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if sys.platform == "win32":  # os.kill(pid, 0) would signal it there: assume alive
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, owned by someone else
        return True
    return True


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = partial_path(path)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


OWNER_KEY = "owner"


def owner_mark() -> str:
    """``<host>-<pid>``: written in a job record while this process runs the job."""
    return f"{_HOST}-{os.getpid()}"


def run_elsewhere(record: dict[str, Any]) -> bool:
    """Whether another live process on this machine runs the job now (its ``owner``), so
    resuming it here would drive one avatar twice. A dead owner, another host or no
    owner: False (a record from another machine cannot be checked; it is resumable)."""
    owner = record.get(OWNER_KEY)
    if not isinstance(owner, str) or "-" not in owner:
        return False
    host, _, pid = owner.rpartition("-")
    if host != _HOST or not pid.isdigit() or int(pid) == os.getpid():
        return False
    return _pid_alive(int(pid))


def job_key(record: dict[str, Any]) -> str:
    """A job record's ``key`` (see :meth:`~.stages.JobSpec.key`), computed from its spec
    when the record has none."""
    key = record.get("key")
    if isinstance(key, str) and key:
        return key
    spec = record.get("spec") or {}
    if not isinstance(spec, dict) or not spec.get("photo"):
        return ""  # an existing avatar's import: not a creation, nothing to resume by key
    return JobSpec.from_record(spec).key()


def index_entry(record: dict[str, Any]) -> tuple[str, str] | None:
    """(key, base URL) under which a job record is indexed (see core/job_index.py), or
    None for a record that no submit can resume (no spec, key or base URL)."""
    base_url = record.get("base_url")
    if not isinstance(base_url, str) or not record.get("spec"):
        return None
    try:
        key = job_key(record)
    except (TypeError, ValueError, AttributeError, OSError):  # a malformed old spec
        return None
    return (key, base_url) if key else None


def index_entries(record: dict[str, Any]) -> list[tuple[str, str]]:
    """Every (key, base URL) a job record is filed under: its ``index_entry``, and its
    avatar once known (``job_index.avatar_slot_key``)."""
    entries = [entry] if (entry := index_entry(record)) is not None else []
    code, base_url = record.get("avatar_code"), record.get("base_url")
    if isinstance(code, str) and code and isinstance(base_url, str):
        entries.append((avatar_slot_key(code), base_url))
    return entries


def read_record(path: Path) -> dict[str, Any] | None:
    """One job record from disk (None when missing or unreadable): every record read
    goes through here."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _safe_segment(value: str, what: str) -> str:
    if not value or value in {".", ".."} or "/" in value or "\\" in value or "\0" in value:
        raise UnsafeUriError(f"Refusing {what} {value!r}: not a plain name")
    return value


class Cache:
    def __init__(self, root: Path) -> None:
        self.root = Path(root).expanduser()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"Cache directory {self.root} cannot be created: "
                              f"{exc.strerror or exc}") from None
        self._lock = threading.Lock()
        self._index = JobKeyIndex(self.jobs_dir)

    # -- static resources -------------------------------------------------------------

    def static_path(self, url: str) -> Path:
        """Where the static resource at ``url`` lives: keyed by its URL path."""
        path = unquote(urlsplit(url).path)
        parts = [p for p in PurePosixPath(path).parts if p != "/"]
        if not parts:
            raise UnsafeUriError(f"Static resource URL {url!r} has no path")
        for part in parts:
            _safe_segment(part, "static resource path segment")
        return self.root.joinpath("static", *parts)

    def has_static(self, url: str) -> bool:
        return self.static_path(url).is_file()

    # -- exports ----------------------------------------------------------------------

    def export_dir(self, service: str, avatar: str, export: str) -> Path:
        return self.root.joinpath("exports", _safe_segment(service, "service"),
                                  _safe_segment(avatar, "avatar code"),
                                  _safe_segment(export, "export code"))

    # -- job records ------------------------------------------------------------------

    @property
    def jobs_dir(self) -> Path:
        return self.root / "jobs"

    def _job_path(self, job_id: str) -> Path:
        return self.jobs_dir / f"{_safe_segment(job_id, 'job id')}.json"

    def save_job(self, record: dict[str, Any]) -> None:
        path = self._job_path(str(record["id"]))
        data = json.dumps(record, indent=1, sort_keys=True).encode()
        entries = index_entries(record)
        with self._lock:
            for entry in entries:  # the markers first: a record is never unindexed
                self._index.add(str(record["id"]), *entry)
            write_atomic(path, data)

    def load_job(self, job_id: str) -> dict[str, Any] | None:
        return read_record(self._job_path(job_id))

    def jobs(self) -> list[dict[str, Any]]:
        out = []
        for path in sorted(self.jobs_dir.glob("*.json")):
            record = self.load_job(path.stem)
            if record is not None:
                out.append(record)
        return out

    def unfinished_jobs(self) -> list[dict[str, Any]]:
        """Active job records that no other live process is running right now (see
        :func:`run_elsewhere`): what may be resumed here."""
        return [r for r in self.jobs() if r.get("state") == "active" and not run_elsewhere(r)]

    def unfinished_job_for(self, key: str, base_url: str) -> dict[str, Any] | None:
        """The newest unfinished job record asking for the same thing (``JobSpec.key``)
        of the same service base URL, or None. Records written before keys existed are
        keyed from their ``spec``.

        Reads only the records indexed under ``key`` and ``base_url`` (core/job_index.py),
        fresh from disk, whoever wrote them; a cache never indexed is indexed first (one
        read of every record, once per cache)."""
        if not key:
            return None
        found: dict[str, Any] | None = None
        for record in self._indexed(key, base_url):
            if record.get("state") != "active" or run_elsewhere(record):
                continue
            if index_entry(record) != (key, base_url):
                continue
            if found is None or float(record.get("created") or 0) > \
                    float(found.get("created") or 0):
                found = record
        return found

    def jobs_for_avatar(self, avatar_code: str, base_url: str) -> list[dict[str, Any]]:
        """The job records of the remote avatar ``avatar_code`` at ``base_url`` (the job
        that created it, imports of it), read through the index like
        :meth:`unfinished_job_for`."""
        key = avatar_slot_key(avatar_code)
        return [r for r in self._indexed(key, base_url)
                if r.get("avatar_code") == avatar_code and r.get("base_url") == base_url]

    def _indexed(self, key: str, base_url: str) -> list[dict[str, Any]]:
        """The records filed under (``key``, ``base_url``), read fresh (a marker whose
        record is gone is pruned once old); the index is built first if it never was."""
        if not self._index.complete():
            self._index.build(self.jobs(), index_entries, write_atomic)
        out = []
        for job_id in self._index.candidates(key, base_url):
            try:
                path = self._job_path(job_id)
            except UnsafeUriError:
                continue  # not a marker this index wrote
            record = read_record(path)
            if record is None:
                if not path.exists():  # deleted (or about to be written: see prune)
                    self._index.prune(job_id, key, base_url)
                continue
            if str(record.get("id")) == job_id:
                out.append(record)
        return out

    def forget_job(self, job_id: str) -> None:
        path = self._job_path(job_id)
        record = read_record(path)
        path.unlink(missing_ok=True)
        for entry in index_entries(record) if record is not None else []:
            self._index.remove(job_id, *entry)

    # -- players ----------------------------------------------------------------------

    def _players_file(self) -> Path:
        return self.root / "players.json"

    @staticmethod
    def player_key(service: str, base_url: str, account: str) -> str:
        digest = hashlib.sha256(f"{service}|{base_url}|{account}".encode()).hexdigest()
        return digest[:24]

    def get_player(self, key: str) -> str | None:
        try:
            players = json.loads(self._players_file().read_text())
        except (OSError, ValueError):
            return None
        value = players.get(key) if isinstance(players, dict) else None
        return str(value) if value else None

    def set_player(self, key: str, player: str | None) -> None:
        with self._lock:
            try:
                players = json.loads(self._players_file().read_text())
                if not isinstance(players, dict):
                    players = {}
            except (OSError, ValueError):
                players = {}
            if player:
                players[key] = player
            else:
                players.pop(key, None)
            write_atomic(self._players_file(), json.dumps(players, indent=1).encode())

    # -- housekeeping -----------------------------------------------------------------

    def size_bytes(self) -> int:
        total = 0
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                with contextlib.suppress(OSError):
                    total += os.path.getsize(os.path.join(dirpath, name))
        return total

    def sweep_partials(self, now: float | None = None) -> int:
        """Remove temporary files and folders left by killed writers; returns how many."""
        now = time.time() if now is None else now
        removed = 0
        for path in sorted(self.root.rglob(".*.part"), key=lambda p: len(p.parts)):
            match = _PARTIAL.match(path.name)
            try:
                age = now - path.lstat().st_mtime
            except OSError:
                continue  # gone meanwhile (its writer finished, or a parent was removed)
            if match and match["host"] == _HOST:
                stale = not _pid_alive(int(match["pid"]))
            else:
                stale = age > STALE_PARTIAL_SECONDS
            if not stale:
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    path.unlink()
            removed += 1
        return removed

    def clear(self) -> None:
        """Remove cached downloads (static resources and exports); job records stay."""
        for sub in ("static", "exports"):
            shutil.rmtree(self.root / sub, ignore_errors=True)
