"""Resolving the user's settings (options, environment, preferences) into a service."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from .avatarsdk import DEFAULT_BASE_URL, AvatarSdkClient
from .errors import ConfigError
from .metaperson import MetaPersonService
from .transport import RetryPolicy

ENV_CLIENT_ID = "AVATARSDK_CLIENT_ID"
ENV_CLIENT_SECRET = "AVATARSDK_CLIENT_SECRET"
SERVICES = ("avatarsdk", "sandbox")


@dataclass
class ServiceSettings:
    service: str = "avatarsdk"
    base_url: str = ""
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    player: str | None = None
    timeout: float = 60.0
    retry: RetryPolicy | None = None

    def with_env(self, env: Mapping[str, str] | None = None) -> ServiceSettings:
        """Fill credentials left empty from the environment (headless use)."""
        env = os.environ if env is None else env
        if not self.client_id:
            self.client_id = env.get(ENV_CLIENT_ID, "")
        if not self.client_secret:
            self.client_secret = env.get(ENV_CLIENT_SECRET, "")
        return self


def make_service(settings: ServiceSettings) -> MetaPersonService:
    if settings.service not in SERVICES:
        raise ConfigError(f"Unknown service {settings.service!r}; choose one of "
                          f"{', '.join(SERVICES)}")
    if settings.service == "sandbox" and not settings.base_url:
        raise ConfigError("The sandbox service needs the sandbox's base URL")
    client = AvatarSdkClient(
        base_url=settings.base_url or DEFAULT_BASE_URL,
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        player=settings.player or None,
        timeout=(min(10.0, settings.timeout), settings.timeout),
        retry=settings.retry,
    )
    return MetaPersonService(client, name=settings.service)
