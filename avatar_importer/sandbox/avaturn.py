"""The sandbox's Avaturn API: endpoints and state, served by the same server as Avatar SDK.

Follows docs/service-apis.md section 2, on the sandbox's own port (base URL = the
sandbox's ``base_url``; paths under ``/api/v1/``), with the same fault switches
(:mod:`.faults`): throttling, errors, stalls, HTML pages, malformed JSON, download cuts,
``fail_next_avatars`` (the avatar ends ``failed``) and ``export_stuck`` (exports stay
``pending``).

API (``Authorization: Bearer <SandboxConfig.avaturn_token>``, default ``sandbox-avaturn``;
missing or wrong: ``401 {"detail": ...}``; validation errors ``422 {"detail": [{"loc",
"msg", "type"}]}``):

* ``POST /api/v1/users/new`` -> ``{"id": <32 hex>}``; ``DELETE /api/v1/users/<uid>`` -> 204;
* ``POST /api/v1/sessions/new`` ``{"user_id", "config": {"type", "avatar_id"}}`` ->
  ``{"url": <base>avaturn/session/<sid>/, "id": <sid>, "custom_upload_url": null}``;
  ``edit_existing`` needs ``avatar_id``; ``create_or_edit_existing`` may carry one;
* ``GET /api/v1/users/<uid>/avatars[?include_not_ready=true]`` -> newest first::

      [{"id", "status": "pending"|"processing"|"ready"|"failed", "progress": 0..100,
        "created_at", "updated_at" (ISO 8601 UTC; bumped by each edit), "gender": "male"|
        "female"|null, "source": "editor"|"photos", "supports_face_animations": bool,
        "thumbnail_url"}]

  (``pending``: created from photos, photos not uploaded yet; without
  ``include_not_ready`` only ``ready`` avatars are listed);
* ``POST /api/v1/avatars/new`` ``{"user_id"}`` -> ``{"avatar_id", "upload_url"}``; the upload
  URL is ``<static base>avaturn-upload/<token>/`` (the second listener when
  ``separate_static_host``), needs no token, takes the multipart fields ``image-frontal``,
  ``image-side-1``, ``image-side-2`` (JPEG/PNG), ``body-type`` (male|female), ``telephoto``
  (true|false), once -> ``{"status": "processing", "avatar_id"}``;
* ``GET /api/v1/avatars/<aid>/customization`` -> ``{"assets": {"clothing": {"id"},
  "hair_and_headwear": {"id", "color"}, "eyewear", "footwear"}, "body", "age",
  "bone_scale", "skin_tone_correction"}`` (the last one set, else a default; ``409``
  before the photos are uploaded); ``PUT`` the same shape -> ``202`` and the avatar
  records it (``_Avatar.customization``); a wrong placement ``409``, an unknown asset id
  ``410`` (known ids: :data:`ASSETS`);
* ``POST /api/v1/exports/new?avatar_id=`` -> ``{"status": "pending", "url": null}`` until
  ``export_seconds`` after the avatar is ready (and after the first request), then
  ``{"status": "ready", "url": <static base>avaturn-exports/<random>/model.glb}``. The URL
  lives ``avaturn_url_seconds`` (then ``410``); asking again after that gives a new one; an
  edit of the avatar starts a new pending export. A failed avatar: ``409``. An avatar
  created from photos whose customization was never set (PUT) is refused with ``409``
  (the API reference calls exporting it undefined; the sandbox makes skipping it visible);
* ``DELETE /api/v1/users/<uid>/avatars/<aid>`` -> 204.

The simulated browser (no token: it is a page for a browser):

* ``GET /avaturn/session/<sid>/``: an HTML page with a "Finish" form;
* ``POST /avaturn/session/<sid>/finish`` (form or JSON, optional ``body_type`` male|female
  and, for ``create_or_edit_existing``, ``avatar_id``): ``create`` makes a new avatar,
  ``edit_existing`` edits the session's avatar, ``create_or_edit_existing`` edits the given
  one or creates. The avatar is ``processing`` for ``compute_seconds``, then ``ready``.
  Answers ``{"avatar_id", "session_id", "type", "status"}`` (an HTML page when the
  request accepts ``text/html``). Unknown session 404, finished 409, older than
  :data:`SESSION_SECONDS` 410.

Layouts (see :mod:`.avaturn_assets`): ``SandboxConfig.avaturn_layout`` ``"auto"`` (default)
serves the classic layout, and the split-head one for avatars whose body type is
``female``; ``"classic"`` or ``"split_head"`` force one layout for every avatar.

Threading rules: handlers run on the server's per-connection threads. All Avaturn state of
one :class:`~.server.Sandbox` lives in its :class:`AvaturnState` and is touched only under
``AvaturnState.lock``; generated GLBs are cached under ``AvaturnState.glb_lock`` (generation
runs under it, once per layout and body type). No lock is held while writing to a socket.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
import time
import uuid
import weakref
from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any

from .assets import build_thumbnail
from .avaturn_assets import LAYOUTS, build_avaturn_glb
from .errors import ApiError
from .forms import Field, image_kind, parse_form
from .routing import find, routes
from .state import now_iso

if TYPE_CHECKING:
    from .handler import Handler
    from .server import Sandbox

SESSION_TYPES = ("create", "edit_existing", "create_or_edit_existing")
BODY_TYPES = ("male", "female")
SESSION_SECONDS = 900.0  # a session URL is short-lived
PHOTO_FIELDS = ("image-frontal", "image-side-1", "image-side-2")

__all__ = ["BODY_TYPES", "SESSION_SECONDS", "SESSION_TYPES", "AvaturnState", "dispatch",
           "state_of"]

_HEX = r"([0-9a-f]{32})"
_TOKEN = r"([A-Za-z0-9_-]{16,64})"


# --- state ------------------------------------------------------------------------------------


@dataclass
class _Session:
    id: str
    user_id: str
    kind: str
    avatar_id: str | None
    created: float  # monotonic
    finished: bool = False


@dataclass
class _Avatar:
    id: str
    user_id: str
    source: str  # "editor" (a browser session) or "photos"
    created_at: str
    updated_at: str
    gender: str | None
    outcome: str  # "ready" or "failed": where the computation ends
    started: float | None  # monotonic start of the computation; None: photos not uploaded
    version: int = 0
    upload_token: str | None = None
    customization: dict[str, Any] | None = None  # as last PUT (None: never set)


@dataclass
class _Export:
    version: int  # the avatar version it exports
    requested: float  # monotonic
    token: str | None = None  # the file's URL token once ready
    expires: float = 0.0  # monotonic


@dataclass(frozen=True)
class _File:
    layout: str
    gender: str
    expires: float  # monotonic


@dataclass
class AvaturnState:
    lock: threading.Lock = field(default_factory=threading.Lock)
    users: set[str] = field(default_factory=set)
    sessions: dict[str, _Session] = field(default_factory=dict)
    avatars: dict[str, _Avatar] = field(default_factory=dict)
    exports: dict[str, _Export] = field(default_factory=dict)  # by avatar id
    files: dict[str, _File] = field(default_factory=dict)  # by URL token
    uploads: dict[str, str] = field(default_factory=dict)  # upload token -> avatar id
    glb_lock: threading.Lock = field(default_factory=threading.Lock)
    glbs: dict[tuple[str, str], bytes] = field(default_factory=dict)


_STATES: weakref.WeakKeyDictionary[Sandbox, AvaturnState] = weakref.WeakKeyDictionary()
_STATES_LOCK = threading.Lock()


def state_of(sandbox: Sandbox) -> AvaturnState:
    """The Avaturn state of ``sandbox`` (made on first use)."""
    with _STATES_LOCK:
        state = _STATES.get(sandbox)
        if state is None:
            state = _STATES[sandbox] = AvaturnState()
        return state


def _status(sb: Sandbox, avatar: _Avatar, now: float) -> tuple[str, int]:
    """(status, progress) of an avatar at ``now`` (caller holds the state lock)."""
    if avatar.started is None:
        return "pending", 0
    total = sb.config.compute_seconds
    t = now - avatar.started
    if t >= total:
        return avatar.outcome, 100
    return "processing", min(99, int(100 * t / total)) if total > 0 else 99


def _layout(sb: Sandbox, gender: str | None) -> str:
    chosen = sb.config.avaturn_layout
    if chosen in LAYOUTS:
        return chosen
    return "split_head" if gender == "female" else "classic"


def _glb(state: AvaturnState, layout: str, gender: str) -> bytes:
    key = (layout, gender)
    with state.glb_lock:
        if key not in state.glbs:
            state.glbs[key] = build_avaturn_glb(layout, body_type=gender)
        return state.glbs[key]


# --- request helpers --------------------------------------------------------------------------


class _Invalid(Exception):
    """A 422 in the API's validation format: ``{"detail": [{"loc", "msg", "type"}]}``."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("validation failed")
        self.errors = errors


def _invalid(*errors: tuple[list[str], str, str]) -> _Invalid:
    """Each error is (loc, msg, type)."""
    return _Invalid([{"loc": loc, "msg": msg, "type": kind} for loc, msg, kind in errors])


def _missing(*loc: str) -> _Invalid:
    return _invalid((list(loc), "field required", "value_error.missing"))


def _json_body(h: Handler) -> dict[str, Any]:
    try:
        doc = json.loads(h._body or b"{}")
    except ValueError:
        raise _invalid((["body"], "Expecting a JSON object", "value_error.jsondecode")) \
            from None
    if not isinstance(doc, dict):
        raise _invalid((["body"], "value is not a valid dict", "type_error.dict"))
    return doc


def _require_token(h: Handler) -> None:
    header = h.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        raise ApiError(401, "Not authenticated", {"WWW-Authenticate": "Bearer"})
    token = header[7:].strip()
    if not hmac.compare_digest(token.encode(), h.sandbox.config.avaturn_token.encode()):
        raise ApiError(401, "Invalid API token", {"WWW-Authenticate": "Bearer"})


def _user(state: AvaturnState, user_id: Any) -> str:
    """A known user id (caller holds the lock); 404 otherwise."""
    if not isinstance(user_id, str) or user_id not in state.users:
        raise ApiError(404, "User not found")
    return user_id


def _avatar(state: AvaturnState, avatar_id: str, user_id: str | None = None) -> _Avatar:
    avatar = state.avatars.get(avatar_id)
    if avatar is None or (user_id is not None and avatar.user_id != user_id):
        raise ApiError(404, "Avatar not found")
    return avatar


# --- API endpoints ----------------------------------------------------------------------------


def _users_new(h: Handler, state: AvaturnState) -> None:
    _require_token(h)
    user_id = uuid.uuid4().hex
    with state.lock:
        state.users.add(user_id)
    h._send_json(200, {"id": user_id})


def _users_delete(h: Handler, state: AvaturnState, user_id: str) -> None:
    _require_token(h)
    with state.lock:
        _user(state, user_id)
        state.users.discard(user_id)
        for aid in [a.id for a in state.avatars.values() if a.user_id == user_id]:
            del state.avatars[aid]
            state.exports.pop(aid, None)
    h._send_json(204, None)


def _sessions_new(h: Handler, state: AvaturnState) -> None:
    _require_token(h)
    doc = _json_body(h)
    if "user_id" not in doc:
        raise _missing("body", "user_id")
    config = doc.get("config") or {}
    if not isinstance(config, dict):
        raise _invalid((["body", "config"], "value is not a valid dict", "type_error.dict"))
    kind = config.get("type", "create_or_edit_existing")
    if kind not in SESSION_TYPES:
        allowed = ", ".join(repr(t) for t in SESSION_TYPES)
        raise _invalid((["body", "config", "type"],
                        f"value is not a valid enumeration member; permitted: {allowed}",
                        "type_error.enum"))
    avatar_id = config.get("avatar_id")
    if kind == "edit_existing" and not avatar_id:
        raise _missing("body", "config", "avatar_id")
    if avatar_id is not None and not isinstance(avatar_id, str):
        raise _invalid((["body", "config", "avatar_id"], "str type expected",
                        "type_error.str"))
    session = _Session(uuid.uuid4().hex, "", str(kind), avatar_id, time.monotonic())
    with state.lock:
        session.user_id = _user(state, doc["user_id"])
        if avatar_id is not None:
            _avatar(state, avatar_id, session.user_id)
        state.sessions[session.id] = session
    h._send_json(200, {"url": f"{h._base()}avaturn/session/{session.id}/", "id": session.id,
                       "custom_upload_url": None})


def _avatar_json(h: Handler, avatar: _Avatar, now: float) -> dict[str, Any]:
    status, progress = _status(h.sandbox, avatar, now)
    return {"id": avatar.id, "status": status, "progress": progress,
            "created_at": avatar.created_at, "updated_at": avatar.updated_at,
            "gender": avatar.gender, "source": avatar.source,
            "supports_face_animations": _layout(h.sandbox, avatar.gender) == "split_head",
            "thumbnail_url": f"{h._static_base()}avaturn-thumbnails/{avatar.id}.png"}


def _avatars_list(h: Handler, state: AvaturnState, user_id: str) -> None:
    _require_token(h)
    flag = (h._query.get("include_not_ready") or ["false"])[-1].lower()
    if flag not in ("true", "false", "1", "0"):
        raise _invalid((["query", "include_not_ready"], "value could not be parsed to a "
                        "boolean", "type_error.bool"))
    include_all = flag in ("true", "1")
    now = time.monotonic()
    with state.lock:
        _user(state, user_id)
        mine = sorted((a for a in state.avatars.values() if a.user_id == user_id),
                      key=lambda a: a.created_at, reverse=True)
        docs = [_avatar_json(h, a, now) for a in mine]
    h._send_json(200, [d for d in docs if include_all or d["status"] == "ready"])


def _avatar_delete(h: Handler, state: AvaturnState, user_id: str, avatar_id: str) -> None:
    _require_token(h)
    with state.lock:
        _user(state, user_id)
        _avatar(state, avatar_id, user_id)
        del state.avatars[avatar_id]
        state.exports.pop(avatar_id, None)
    h._send_json(204, None)


def _avatars_new(h: Handler, state: AvaturnState) -> None:
    _require_token(h)
    doc = _json_body(h)
    if "user_id" not in doc:
        raise _missing("body", "user_id")
    token = secrets.token_urlsafe(18)
    stamp = now_iso()
    avatar = _Avatar(uuid.uuid4().hex, "", "photos", stamp, stamp, None,
                     "failed" if h.sandbox.faults.take_avatar_outcome() != "Completed"
                     else "ready", None, upload_token=token)
    with state.lock:
        avatar.user_id = _user(state, doc["user_id"])
        state.avatars[avatar.id] = avatar
        state.uploads[token] = avatar.id
    h._send_json(200, {"avatar_id": avatar.id,
                       "upload_url": f"{h._static_base()}avaturn-upload/{token}/"})


#: the assets the sandbox knows (PUT of another id: 410, as the API's unknown asset)
ASSETS = {"clothing": {"look_0", "look_1"}, "hair_and_headwear": {"hair_0", "hair_1"},
          "eyewear": {"glasses_0"}, "footwear": {"shoes_0", "shoes_1"}}


def _default_customization(avatar: _Avatar) -> dict[str, Any]:
    return {"assets": {"clothing": {"id": "look_0"},
                       "hair_and_headwear": {"id": "hair_0", "color": "#2b1d14"},
                       "eyewear": None, "footwear": {"id": "shoes_0"}},
            "body": {"type": avatar.gender or "male"}, "age": "adult", "bone_scale": {},
            "skin_tone_correction": 0}


def _customization_get(h: Handler, state: AvaturnState, avatar_id: str) -> None:
    _require_token(h)
    with state.lock:
        avatar = _avatar(state, avatar_id)
        if avatar.started is None:
            raise ApiError(409, "The avatar's photos were not uploaded yet")
        doc = avatar.customization or _default_customization(avatar)
    h._send_json(200, doc)


def _customization_put(h: Handler, state: AvaturnState, avatar_id: str) -> None:
    _require_token(h)
    doc = _json_body(h)
    assets = doc.get("assets")
    if not isinstance(assets, dict):
        raise _missing("body", "assets")
    for place, asset in assets.items():
        if asset is None:
            continue
        if place not in ASSETS or not isinstance(asset, dict) or \
                not isinstance(asset.get("id"), str):
            raise ApiError(409, f"Asset placement {place!r} is wrong")
        if asset["id"] not in ASSETS[place]:
            raise ApiError(410, f"Unknown asset {asset['id']!r}")
    with state.lock:
        avatar = _avatar(state, avatar_id)
        if avatar.started is None:
            raise ApiError(409, "The avatar's photos were not uploaded yet")
        avatar.customization = doc
    h._send_json(202, {"status": "accepted"})


def _exports_new(h: Handler, state: AvaturnState) -> None:
    _require_token(h)
    values = h._query.get("avatar_id")
    if not values or not values[-1]:
        raise _missing("query", "avatar_id")
    sb, now = h.sandbox, time.monotonic()
    with state.lock:
        avatar = _avatar(state, values[-1])
        status, _ = _status(sb, avatar, now)
        if status == "failed":
            raise ApiError(409, "The avatar's computation failed; it cannot be exported")
        if avatar.source == "photos" and avatar.customization is None:
            raise ApiError(409, "The avatar was created from photos and has no "
                           "customization: read it (GET avatars/<id>/customization) and "
                           "set it (PUT) before exporting")
        export = state.exports.get(avatar.id)
        if export is None or export.version != avatar.version:
            export = state.exports[avatar.id] = _Export(avatar.version, now)
        url = None
        if status == "ready":
            assert avatar.started is not None
            since = max(export.requested, avatar.started + sb.config.compute_seconds)
            done = export.token is not None or (now - since >= sb.config.export_seconds
                                                and not sb.faults.export_stuck)
            if done:
                if export.token is None or now >= export.expires:  # a new temporary URL
                    export.token = secrets.token_urlsafe(24)
                    export.expires = now + sb.config.avaturn_url_seconds
                    state.files[export.token] = _File(_layout(sb, avatar.gender),
                                                      avatar.gender or "male", export.expires)
                url = f"{h._static_base()}avaturn-exports/{export.token}/model.glb"
    h._send_json(200, {"status": "ready" if url else "pending", "url": url})


# --- files (no token; on the static listener when it is separate) -----------------------------


def _upload(h: Handler, state: AvaturnState, token: str) -> None:
    fields = parse_form(h.headers.get("Content-Type", ""), h._body)
    errors: list[tuple[list[str], str, str]] = []
    for name in PHOTO_FIELDS:
        part = fields.get(name)
        if part is None or not part.value:
            errors.append((["body", name], "field required", "value_error.missing"))
        elif image_kind(part.value) is None:
            errors.append((["body", name], "upload a JPEG or PNG image",
                           "value_error.image"))
    body_type = _text(fields, "body-type")
    if body_type not in BODY_TYPES:
        errors.append((["body", "body-type"], "value is not a valid enumeration member; "
                       "permitted: 'male', 'female'", "type_error.enum"))
    telephoto = _text(fields, "telephoto", "false").lower()
    if telephoto not in ("true", "false"):
        errors.append((["body", "telephoto"], "value could not be parsed to a boolean",
                       "type_error.bool"))
    with state.lock:
        avatar_id = state.uploads.get(token)
        avatar = state.avatars.get(avatar_id or "")
        if avatar is None:
            raise ApiError(404, "Unknown or expired upload URL")
        if avatar.started is not None:
            raise ApiError(409, "Photos were already uploaded for this avatar")
        if errors:
            raise _invalid(*errors)
        avatar.gender = body_type
        avatar.started = time.monotonic()
        avatar.updated_at = now_iso()
        del state.uploads[token]
    h._send_json(200, {"status": "processing", "avatar_id": avatar.id})


def _text(fields: dict[str, Field], name: str, default: str = "") -> str:
    return fields[name].text().strip() if name in fields else default


def _export_file(h: Handler, state: AvaturnState, token: str) -> None:
    with state.lock:
        entry = state.files.get(token)
    if entry is None:
        raise ApiError(404, "Not found")
    if time.monotonic() >= entry.expires:
        raise ApiError(410, "This export link has expired; request a new export")
    h._send_file(_glb(state, entry.layout, entry.gender), "model/gltf-binary", "model.glb")


def _thumbnail(h: Handler, state: AvaturnState, avatar_id: str) -> None:
    with state.lock:
        _avatar(state, avatar_id)
    h._send_file(build_thumbnail(avatar_id, 64), "image/png", f"{avatar_id}.png")


# --- the simulated browser session ------------------------------------------------------------

_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Avaturn sandbox: {title}</title></head>
<body><h1>Avaturn sandbox</h1>
<p>Session <code>{sid}</code> ({kind}){target}. The real service shows its avatar editor
here; the sandbox only asks for the body type.</p>
<form method="post" action="finish">
<label>Body type <select name="body_type"><option value="male">male</option>
<option value="female">female</option></select></label>
{hidden}<button type="submit">Finish</button></form></body></html>
"""

_DONE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Avaturn sandbox: done</title></head>
<body><h1>Done</h1><p>Avatar <code>{aid}</code> is being prepared. You can close this page
and go back to Blender.</p></body></html>
"""


def _session(state: AvaturnState, sid: str) -> _Session:
    """An open session (caller holds the lock): 404 unknown, 409 finished, 410 too old."""
    session = state.sessions.get(sid)
    if session is None:
        raise ApiError(404, "Session not found")
    if session.finished:
        raise ApiError(409, "This session is finished; create a new session")
    if time.monotonic() - session.created > SESSION_SECONDS:
        raise ApiError(410, "This session link has expired; create a new session")
    return session


def _session_page(h: Handler, state: AvaturnState, sid: str) -> None:
    with state.lock:
        session = _session(state, sid)
    target = f", avatar <code>{escape(session.avatar_id)}</code>" if session.avatar_id else ""
    hidden = (f'<input type="hidden" name="avatar_id" value="{escape(session.avatar_id)}">'
              if session.avatar_id else "")
    page = _PAGE.format(title=escape(session.kind), sid=escape(sid), kind=escape(session.kind),
                        target=target, hidden=hidden)
    h._send_body(200, page.encode("utf-8"), "text/html; charset=utf-8")


def _session_finish(h: Handler, state: AvaturnState, sid: str) -> None:
    fields = parse_form(h.headers.get("Content-Type", ""), h._body)
    body_type = _text(fields, "body_type") or None
    if body_type is not None and body_type not in BODY_TYPES:
        raise _invalid((["body", "body_type"], "value is not a valid enumeration member; "
                        "permitted: 'male', 'female'", "type_error.enum"))
    wanted = _text(fields, "avatar_id") or None
    now, stamp = time.monotonic(), now_iso()
    with state.lock:
        session = _session(state, sid)
        if session.kind == "edit_existing":
            wanted = session.avatar_id
        elif session.kind == "create":
            wanted = None
        else:
            wanted = wanted or session.avatar_id
        if wanted is not None:
            avatar = _avatar(state, wanted, session.user_id)
            avatar.version += 1
            avatar.updated_at = stamp
            avatar.gender = body_type or avatar.gender
            avatar.started = now
            avatar.outcome = "ready"
        else:
            outcome = h.sandbox.faults.take_avatar_outcome()
            avatar = _Avatar(uuid.uuid4().hex, session.user_id, "editor", stamp, stamp,
                             body_type or "male",
                             "ready" if outcome == "Completed" else "failed", now)
            state.avatars[avatar.id] = avatar
        session.finished = True
    if "text/html" in h.headers.get("Accept", ""):
        h._send_body(200, _DONE.format(aid=avatar.id).encode("utf-8"),
                     "text/html; charset=utf-8")
        return
    h._send_json(200, {"avatar_id": avatar.id, "session_id": sid, "type": session.kind,
                       "status": "processing"})


# --- routing ----------------------------------------------------------------------------------

_API_ROUTES = routes([
    ("POST", r"^/api/v1/users/new$", _users_new),
    ("DELETE", rf"^/api/v1/users/{_HEX}$", _users_delete),
    ("POST", r"^/api/v1/sessions/new$", _sessions_new),
    ("GET", rf"^/api/v1/users/{_HEX}/avatars$", _avatars_list),
    ("DELETE", rf"^/api/v1/users/{_HEX}/avatars/{_HEX}$", _avatar_delete),
    ("POST", r"^/api/v1/avatars/new$", _avatars_new),
    ("GET", rf"^/api/v1/avatars/{_HEX}/customization$", _customization_get),
    ("PUT", rf"^/api/v1/avatars/{_HEX}/customization$", _customization_put),
    ("POST", r"^/api/v1/exports/new$", _exports_new),
    ("GET", rf"^/avaturn/session/{_HEX}/$", _session_page),
    ("POST", rf"^/avaturn/session/{_HEX}/finish/?$", _session_finish),
])
#: served by either listener (the static one is "another host" for the client)
_FILE_ROUTES = routes([
    ("POST", rf"^/avaturn-upload/{_TOKEN}/$", _upload),
    ("GET", rf"^/avaturn-exports/{_TOKEN}/model\.glb$", _export_file),
    ("GET", rf"^/avaturn-thumbnails/{_HEX}\.png$", _thumbnail),
])


def dispatch(h: Handler, method: str) -> None:
    """Handle one request whose path starts with ``/api/v1/`` or ``/avaturn``."""
    table = _FILE_ROUTES + (_API_ROUTES if h.listener == "api" else [])
    endpoint, groups = find(table, method, h._path, "Method Not Allowed", "Not Found")
    try:
        endpoint(h, state_of(h.sandbox), *groups)
    except _Invalid as err:
        h._send_json(422, {"detail": err.errors})
