"""Resolving the user's settings (options, environment, preferences) into a service."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from .avatarsdk import DEFAULT_BASE_URL, AvatarSdkClient
from .avaturn import DEFAULT_BASE_URL as AVATURN_BASE_URL
from .avaturn import AvaturnClient
from .avaturn_service import AvaturnService
from .errors import ConfigError
from .metaperson import MetaPersonService
from .transport import RetryPolicy

ENV_CLIENT_ID = "AVATARSDK_CLIENT_ID"
ENV_CLIENT_SECRET = "AVATARSDK_CLIENT_SECRET"
ENV_AVATURN_TOKEN = "AVATURN_API_TOKEN"
SERVICES = ("avatarsdk", "sandbox", "avaturn")


@dataclass
class ServiceSettings:
    service: str = "avatarsdk"
    base_url: str = ""
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    #: the remote user to reuse: the Avatar SDK player code, or the Avaturn user id
    player: str | None = None
    timeout: float = 60.0
    retry: RetryPolicy | None = None
    #: Avaturn's project API token (static; no renewal)
    api_token: str = field(default="", repr=False)

    def with_env(self, env: Mapping[str, str] | None = None) -> ServiceSettings:
        """Fill credentials left empty from the environment (headless use)."""
        env = os.environ if env is None else env
        if not self.client_id:
            self.client_id = env.get(ENV_CLIENT_ID, "")
        if not self.client_secret:
            self.client_secret = env.get(ENV_CLIENT_SECRET, "")
        if not self.api_token:
            self.api_token = env.get(ENV_AVATURN_TOKEN, "")
        return self

    def account(self) -> str:
        """Who the remote user belongs to, without secrets: the client ID, or for Avaturn
        a fingerprint of the API token (for ``Cache.player_key``)."""
        if self.service == "avaturn":
            return "token-" + hashlib.sha256(self.api_token.encode()).hexdigest()[:16]
        return self.client_id


def make_service(settings: ServiceSettings) -> MetaPersonService | AvaturnService:
    if settings.service not in SERVICES:
        raise ConfigError(f"Unknown service {settings.service!r}; choose one of "
                          f"{', '.join(SERVICES)}")
    if settings.service == "sandbox" and not settings.base_url:
        raise ConfigError("The sandbox service needs the sandbox's base URL")
    timeout = (min(10.0, settings.timeout), settings.timeout)
    if settings.service == "avaturn":
        return AvaturnService(AvaturnClient(
            base_url=settings.base_url or AVATURN_BASE_URL, api_token=settings.api_token,
            user_id=settings.player or None, timeout=timeout, retry=settings.retry))
    client = AvatarSdkClient(
        base_url=settings.base_url or DEFAULT_BASE_URL,
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        player=settings.player or None,
        timeout=timeout,
        retry=settings.retry,
    )
    return MetaPersonService(client, name=settings.service)
