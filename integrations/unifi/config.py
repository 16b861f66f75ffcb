"""The `type: unifi` configuration entry."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from hub.integration import IntegrationConfig, Seconds

_FINGERPRINT = re.compile(r"^(?:sha256:)?([0-9a-f]{2}(?::?[0-9a-f]{2}){31})$")


class UnifiConfig(IntegrationConfig):
    """A UniFi OS console or classic Network controller (detected on connect)."""

    type: Literal["unifi"] = "unifi"
    url: str
    username: str | None = None
    password: SecretStr | None = None
    api_key: SecretStr | None = None
    site: str = Field("default", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    # True (system trust store) or the path of a CA file; there is deliberately no `false`.
    verify_ssl: bool | str = True
    fingerprint: str | None = None
    poll_interval: Seconds = 30.0
    consider_home: Seconds = 300.0
    timeout: Seconds = 10.0
    websocket: bool = True
    max_tracked_clients: int = Field(1000, ge=0, le=100_000)
    max_response_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    speedtest_timeout: Seconds = 180.0
    speedtest_poll: Seconds = 5.0

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not re.match(r"^https?://[^/\s]+$", value):
            raise ValueError("must be http(s)://host[:port] with no path, like https://192.168.1.1")
        return value

    @field_validator("verify_ssl")
    @classmethod
    def _verify(cls, value: bool | str) -> bool | str:
        if value is False:
            raise ValueError("cannot turn certificate verification off; pin the controller's certificate "
                             "with `fingerprint: sha256:...` or give the path of its CA file")
        return value

    @field_validator("fingerprint")
    @classmethod
    def _fingerprint(cls, value: str | None) -> str | None:
        if value is None:
            return None
        match = _FINGERPRINT.match(value.strip().lower())
        if match is None:
            raise ValueError("must be the certificate's SHA-256 as `sha256:` and 64 hex digits (colons allowed)")
        return match.group(1).replace(":", "")

    @model_validator(mode="after")
    def _credentials(self) -> UnifiConfig:
        if self.api_key is None and (self.username is None or self.password is None):
            raise ValueError("needs `username` and `password`, or `api_key`")
        if self.api_key is not None and self.password is not None:
            raise ValueError("give either `api_key` or `username`/`password`, not both")
        return self

    @property
    def host(self) -> str:
        return self.url.split("://", 1)[1]
