"""The error a sandbox endpoint raises to answer with a status and ``{"detail": ...}``."""

from __future__ import annotations


class ApiError(Exception):
    """Answered by the handler as JSON ``{"detail": detail}`` with ``status`` and ``headers``."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers or {}
