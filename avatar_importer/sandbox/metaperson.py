"""The sandbox's Avatar SDK MetaPerson 2.0 API: routes, auth checks and endpoints, plus the
sandbox's own ``/_sandbox/`` control endpoints (see the module docstring of :mod:`.server`
for the emulated behaviour). Endpoints are functions of the request :class:`~.handler.Handler`.
"""

from __future__ import annotations

import base64
import hmac
import json
import math
import secrets
import time
import uuid
from typing import TYPE_CHECKING, Any

from .assets import build_thumbnail
from .catalogue import (
    PIPELINE,
    SUBTYPES,
    available_export_parameters,
    available_parameters,
    export_choice,
)
from .errors import ApiError
from .forms import Field, field_text, image_kind, json_field, parse_form
from .routing import find, routes
from .state import Avatar, Export, now_iso

if TYPE_CHECKING:
    from .handler import Handler

_CODE = r"([0-9a-f-]{36})"


# --- auth and lookups -------------------------------------------------------------------------


def _require_token(h: Handler, allow_query: bool = False) -> None:
    header = h.headers.get("Authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else ""
    if not token and allow_query:
        token = (h._query.get("access_token") or [""])[-1]
    if not token:
        raise ApiError(401, "Authentication credentials were not provided.",
                       {"WWW-Authenticate": 'Bearer realm="api"'})
    epoch = h.sandbox.faults.current_epoch()
    state = h.sandbox._state
    with state.lock:
        entry = state.tokens.get(token)
        valid = entry is not None and entry[0] > time.monotonic() and entry[1] == epoch
    if not valid:
        raise ApiError(401, "Invalid or expired token.",
                       {"WWW-Authenticate": 'Bearer realm="api", error="invalid_token"'})


def _player(h: Handler, required: bool = True) -> str | None:
    player = h.headers.get("X-PlayerUID")
    if player is None and not required:
        return None
    with h.sandbox._state.lock:
        known = player is not None and player in h.sandbox._state.players
    if not known:
        raise ApiError(403, "X-PlayerUID header is missing or names an unknown player.")
    return player


def _avatar(h: Handler, code: str, player: str | None) -> Avatar:
    """The avatar (state lock held by the caller); 404 when gone or another player's."""
    avatar = h.sandbox._state.avatars.get(code)
    if avatar is None or (player is not None and avatar.player != player):
        raise ApiError(404, "Not found.")
    return avatar


def _form(h: Handler) -> dict[str, Field]:
    return parse_form(h.headers.get("Content-Type", ""), h._body)


# --- endpoints --------------------------------------------------------------------------------


def _token(h: Handler) -> None:
    fields = _form(h)
    client_id, secret = field_text(fields, "client_id"), field_text(fields, "client_secret")
    header = h.headers.get("Authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except ValueError:
            decoded = ""
        client_id, _, secret = decoded.partition(":")
    cfg = h.sandbox.config
    ok = hmac.compare_digest(client_id.encode(), cfg.client_id.encode()) and \
        hmac.compare_digest(secret.encode(), cfg.client_secret.encode())
    if not ok:
        detail = "Invalid client credentials."
        h._send_json(401, {"error": "invalid_client", "detail": detail})
        return
    if field_text(fields, "grant_type") != "client_credentials":
        h._send_json(400, {"error": "unsupported_grant_type",
                           "detail": "grant_type must be client_credentials."})
        return
    token = secrets.token_urlsafe(22)
    state = h.sandbox._state
    with state.lock:
        expiry = time.monotonic() + cfg.token_ttl
        state.tokens[token] = (expiry, h.sandbox.faults.current_epoch())
    h._send_json(200, {"access_token": token, "token_type": "Bearer",
                       "expires_in": int(cfg.token_ttl), "scope": "read write"})


def _create_player(h: Handler) -> None:
    _require_token(h)
    fields = _form(h)
    code = str(uuid.uuid4())
    player = {"url": f"{h._base()}players/{code}/", "code": code,
              "created_on": now_iso(), "comment": field_text(fields, "comment")}
    with h.sandbox._state.lock:
        h.sandbox._state.players[code] = player
    h._send_json(201, player)


def _subtype_query(h: Handler, pipeline: str, required: bool) -> str | None:
    if pipeline != PIPELINE:
        raise ApiError(404, f"Unknown pipeline {pipeline!r}; the sandbox serves {PIPELINE}.")
    values = h._query.get("pipeline_subtype")
    subtype = values[-1] if values else None
    if subtype is None and not required:
        return None
    if subtype not in SUBTYPES:
        raise ApiError(400, f"pipeline_subtype must be one of: {', '.join(SUBTYPES)}.")
    return subtype


def _parameters(h: Handler, pipeline: str) -> None:
    _require_token(h)
    subtype = _subtype_query(h, pipeline, required=False)
    doc: dict[str, Any] = {}
    for s in [subtype] if subtype else SUBTYPES:
        doc.update(available_parameters(s))
    h._send_json(200, doc)


def _export_parameters(h: Handler, pipeline: str) -> None:
    _require_token(h)
    subtype = _subtype_query(h, pipeline, required=True)
    h._send_json(200, available_export_parameters(subtype or "female"))


def _create_avatar(h: Handler) -> None:
    _require_token(h)
    player = _player(h)
    fields = _form(h)
    pipeline = field_text(fields, "pipeline")
    if pipeline != PIPELINE:
        raise ApiError(400, f"pipeline must be {PIPELINE!r} (got {pipeline!r}).")
    subtype = field_text(fields, "pipeline_subtype")
    if subtype not in SUBTYPES:
        raise ApiError(400, f"pipeline_subtype must be one of: {', '.join(SUBTYPES)}.")
    params = json_field(fields, "parameters")
    if params is not None and not isinstance(params, dict):
        raise ApiError(400, "'parameters' must be a JSON object.")
    exports = json_field(fields, "export_parameters")
    items = [] if exports is None else exports if isinstance(exports, list) else [exports]
    try:
        choices = [export_choice(subtype, item) for item in items]
    except ValueError as err:
        raise ApiError(400, f"export_parameters: {err}") from None
    photo = fields.get("photo")
    if photo is None or not photo.value:
        raise ApiError(400, "photo: no file was submitted.")
    if image_kind(photo.value) is None:
        raise ApiError(400, "photo: upload a valid image (JPEG or PNG); this file is neither.")
    now, created_on = time.monotonic(), now_iso()
    name = field_text(fields, "name", "")
    description = field_text(fields, "description", "")
    avatar = Avatar(str(uuid.uuid4()), str(player), name, description, subtype, created_on,
                    now, h.sandbox.faults.take_avatar_outcome(),
                    [Export(str(uuid.uuid4()), c, created_on, now) for c in choices])
    with h.sandbox._state.lock:
        h.sandbox._state.avatars[avatar.code] = avatar
    h._send_json(201, {"code": avatar.code, "created_on": created_on,
                       "description": description or name, "progress": 0,
                       "status": "Uploading",
                       "url": f"{h._base()}avatars/{avatar.code}/"})


def _avatar_json(h: Handler, avatar: Avatar, now: float) -> dict[str, Any]:
    status, progress = h.sandbox._avatar_progress(avatar, now)
    url = f"{h._base()}avatars/{avatar.code}/"
    done = status == "Completed"
    return {
        "blendshapes": f"{url}blendshapes/", "code": avatar.code,
        "created_on": avatar.created_on, "ctime": None, "description": avatar.description,
        "exports": f"{url}exports/", "haircuts": f"{url}haircuts/", "mesh": f"{url}mesh/",
        "model_info": f"{url}model_info/", "name": avatar.name,
        "pipeline": PIPELINE if done else None,
        "pipeline_subtype": avatar.subtype if done else None,
        "preview": f"{url}preview/", "progress": progress, "status": status,
        "texture": f"{url}texture/", "thumbnail": f"{url}thumbnail/", "url": url,
    }


def _get_avatar(h: Handler, code: str) -> None:
    _require_token(h)
    player = _player(h)
    with h.sandbox._state.lock:
        doc = _avatar_json(h, _avatar(h, code, player), time.monotonic())
    h._send_json(200, doc)


def _list_avatars(h: Handler) -> None:
    _require_token(h)
    player = _player(h)
    size = max(1, h.sandbox.config.page_size)
    now = time.monotonic()
    with h.sandbox._state.lock:
        mine = [a for a in h.sandbox._state.avatars.values() if a.player == player]
        mine.sort(key=lambda a: a.created_at, reverse=True)
        docs = [_avatar_json(h, a, now) for a in mine]
    pages = max(1, math.ceil(len(docs) / size))
    try:
        page = int((h._query.get("page") or ["1"])[-1])
    except ValueError:
        page = 0
    if not 1 <= page <= pages:
        raise ApiError(404, "Invalid page.")
    links = []
    url = f"{h._base()}avatars/?page="
    if page > 1:
        links += [f'<{url}1>; rel="first"', f'<{url}{page - 1}>; rel="prev"']
    if page < pages:
        links += [f'<{url}{page + 1}>; rel="next"', f'<{url}{pages}>; rel="last"']
    headers = {"Link": ", ".join(links)} if links else {}
    h._send_json(200, docs[(page - 1) * size : page * size], headers)


def _patch_avatar(h: Handler, code: str) -> None:
    _require_token(h)
    player = _player(h)
    fields = _form(h)
    with h.sandbox._state.lock:
        avatar = _avatar(h, code, player)
        avatar.name = field_text(fields, "name", avatar.name)
        avatar.description = field_text(fields, "description", avatar.description)
        doc = _avatar_json(h, avatar, time.monotonic())
    h._send_json(200, doc)


def _delete_avatar(h: Handler, code: str) -> None:
    _require_token(h)
    player = _player(h)
    with h.sandbox._state.lock:
        _avatar(h, code, player)
        del h.sandbox._state.avatars[code]
    h._send_json(204, None)


def _export_json(h: Handler, avatar: Avatar, export: Export, status: str) -> dict[str, Any]:
    """One export's JSON; called without the state lock (listing files may generate them)."""
    url = f"{h._base()}avatars/{avatar.code}/exports/{export.code}/"
    files = []
    if status == "Completed":
        static = h._static_base().rstrip("/")
        statics = [static + p for p in h.sandbox._static_paths(export.choice)]
        files = [{"category": None, "file": f"{url}files/avatar/file/", "identity": "avatar",
                  "static_files": statics}]
    return {"avatar_code": avatar.code, "code": export.code, "created_on": export.created_on,
            "files": files, "status": status, "url": url}


def _exports_snapshot(h: Handler, code: str, export_code: str | None) -> list[dict[str, Any]]:
    player = _player(h)
    now = time.monotonic()
    with h.sandbox._state.lock:
        avatar = _avatar(h, code, player)
        chosen = [e for e in avatar.exports if export_code in (None, e.code)]
        if export_code is not None and not chosen:
            raise ApiError(404, "Not found.")
        statuses = [h.sandbox._export_status(avatar, e, now) for e in chosen]
    return [_export_json(h, avatar, e, st) for e, st in zip(chosen, statuses, strict=True)]


def _list_exports(h: Handler, code: str) -> None:
    _require_token(h)
    h._send_json(200, _exports_snapshot(h, code, None))


def _get_export(h: Handler, code: str, export_code: str) -> None:
    _require_token(h)
    h._send_json(200, _exports_snapshot(h, code, export_code)[0])


def _create_export(h: Handler, code: str) -> None:
    _require_token(h)
    player = _player(h)
    fields = _form(h)
    params = json_field(fields, "export_parameters")
    with h.sandbox._state.lock:
        avatar = _avatar(h, code, player)
        status, _ = h.sandbox._avatar_progress(avatar, time.monotonic())
    if status in ("Failed", "Timed Out"):
        raise ApiError(400, f"The avatar's computation ended {status}; it cannot be exported.")
    if isinstance(params, list) and len(params) == 1:
        params = params[0]
    try:
        choice = export_choice(avatar.subtype, params)
    except ValueError as err:
        raise ApiError(400, f"export_parameters: {err}") from None
    now = time.monotonic()
    export = Export(str(uuid.uuid4()), choice, now_iso(), now)
    with h.sandbox._state.lock:
        avatar.exports.append(export)
        status = h.sandbox._export_status(avatar, export, now)
    h._send_json(201, _export_json(h, avatar, export, status))


def _export_file(h: Handler, code: str, export_code: str, identity: str) -> None:
    _require_token(h, allow_query=True)
    player = _player(h, required=False)
    with h.sandbox._state.lock:
        avatar = _avatar(h, code, player)
        export = next((e for e in avatar.exports if e.code == export_code), None)
        if export is None or identity != "avatar":
            raise ApiError(404, "Not found.")
        status = h.sandbox._export_status(avatar, export, time.monotonic())
    if status != "Completed":
        raise ApiError(404, f"The export is not ready yet (status {status}).")
    h._send_file(h.sandbox._archive(export.choice), "application/zip", "model.zip")


def _thumbnail(h: Handler, code: str, kind: str) -> None:
    _require_token(h, allow_query=True)
    player = _player(h, required=False)
    with h.sandbox._state.lock:
        _avatar(h, code, player)
    size = 64 if kind == "thumbnail" else 128
    h._send_file(build_thumbnail(code, size), "image/png", f"{kind}.png")


def _model_info(h: Handler, code: str) -> None:
    _require_token(h)
    player = _player(h)
    with h.sandbox._state.lock:
        avatar = _avatar(h, code, player)
        status, _ = h.sandbox._avatar_progress(avatar, time.monotonic())
    if status != "Completed":
        raise ApiError(404, f"model_info is not ready yet (status {status}).")
    h._send_json(200, {
        "age": "not_child", "age_confidence": 1, "gender": avatar.subtype,
        "gender_confidence": 1, "hair_color": {"blue": 36, "green": 58, "red": 92},
        "pipeline": PIPELINE, "pipeline_subtype": avatar.subtype, "remove_glasses": False,
        "remove_smile": False, "remove_stubble": False,
        "skin_color": {"blue": 148, "green": 176, "red": 224},
    })


def _static(h: Handler, rest: str) -> None:
    data = h.sandbox.static_file(f"/static_resources/{rest}")
    if data is None:
        raise ApiError(404, "Not found.")
    h._send_file(data, "image/png", rest.rsplit("/", 1)[-1])


# --- the sandbox's own control endpoints ------------------------------------------------------


def _sandbox_state(h: Handler) -> None:
    sb = h.sandbox
    now = time.monotonic()
    with sb._state.lock:
        avatars = [{"code": a.code, "player": a.player,
                    "status": sb._avatar_progress(a, now)[0],
                    "exports": [{"code": e.code, "status": sb._export_status(a, e, now)}
                                for e in a.exports]}
                   for a in sb._state.avatars.values()]
        players, tokens = len(sb._state.players), len(sb._state.tokens)
    h._send_json(200, {"base_url": sb.base_url, "static_base_url": sb.static_base_url,
                       "faults": sb.faults.as_dict(), "players": players,
                       "tokens_issued": tokens, "avatars": avatars,
                       "requests": len(sb.requests_log)})


def _sandbox_faults(h: Handler) -> None:
    try:
        doc = json.loads(h._body or b"{}")
    except ValueError:
        raise ApiError(400, "Body must be a JSON object.") from None
    if not isinstance(doc, dict):
        raise ApiError(400, "Body must be a JSON object.")
    try:
        h.sandbox.faults.update(doc)
    except ValueError as err:
        raise ApiError(400, str(err)) from None
    h._send_json(200, h.sandbox.faults.as_dict())


# --- routing ----------------------------------------------------------------------------------

_ROUTES = routes([
    ("POST", r"^/o/token/$", _token),
    ("POST", r"^/players/$", _create_player),
    ("GET", r"^/parameters/available/([^/]+)/$", _parameters),
    ("GET", r"^/export_parameters/available/([^/]+)/$", _export_parameters),
    ("GET", r"^/avatars/$", _list_avatars),
    ("POST", r"^/avatars/$", _create_avatar),
    ("GET", rf"^/avatars/{_CODE}/$", _get_avatar),
    ("PATCH", rf"^/avatars/{_CODE}/$", _patch_avatar),
    ("DELETE", rf"^/avatars/{_CODE}/$", _delete_avatar),
    ("GET", rf"^/avatars/{_CODE}/exports/$", _list_exports),
    ("POST", rf"^/avatars/{_CODE}/exports/$", _create_export),
    ("GET", rf"^/avatars/{_CODE}/exports/{_CODE}/$", _get_export),
    ("GET", rf"^/avatars/{_CODE}/exports/{_CODE}/files/([^/]+)/file/$", _export_file),
    ("GET", rf"^/avatars/{_CODE}/(thumbnail|preview)/$", _thumbnail),
    ("GET", rf"^/avatars/{_CODE}/model_info/$", _model_info),
    ("GET", r"^/static_resources/(.+)$", _static),
    ("GET", r"^/_sandbox/state/$", _sandbox_state),
    ("POST", r"^/_sandbox/faults/$", _sandbox_faults),
])
#: what the static listener (``separate_static_host``) serves
_STATIC_ROUTES = [r for r in _ROUTES if r[2] in (_static, _sandbox_state, _sandbox_faults)]


def dispatch(h: Handler, method: str) -> None:
    """Handle one request that is not the Avaturn API's."""
    table = _ROUTES if h.listener != "static" else _STATIC_ROUTES
    endpoint, groups = find(table, method, h._path, f'Method "{method}" not allowed.',
                            "Not found.")
    endpoint(h, *groups)
