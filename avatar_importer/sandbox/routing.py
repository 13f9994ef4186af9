"""Route tables of the emulated APIs: (method, path pattern, endpoint) and their lookup."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .errors import ApiError

Endpoint = Callable[..., None]
Route = tuple[str, re.Pattern[str], Endpoint]


def routes(table: list[tuple[str, str, Endpoint]]) -> list[Route]:
    return [(method, re.compile(pattern), endpoint) for method, pattern, endpoint in table]


def find(table: list[Route], method: str, path: str, not_allowed: str, not_found: str
         ) -> tuple[Endpoint, tuple[Any, ...]]:
    """The endpoint for ``method`` on ``path`` (HEAD is served by GET routes) and the path's
    groups. ApiError 405 ``not_allowed`` (with ``Allow``: the methods of the routes whose
    pattern matched) when only other methods match, else 404 ``not_found``."""
    allowed = []
    for route_method, pattern, endpoint in table:
        match = pattern.match(path)
        if not match:
            continue
        allowed.append(route_method)
        if route_method == method or (method == "HEAD" and route_method == "GET"):
            return endpoint, match.groups()
    if allowed:
        raise ApiError(405, not_allowed, {"Allow": ", ".join(allowed)})
    raise ApiError(404, not_found)
