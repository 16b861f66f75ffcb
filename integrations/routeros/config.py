"""The `routeros` integration entry of config.yaml."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import httpx
from pydantic import Field, SecretStr, field_validator

from hub.integration import IntegrationConfig, Seconds

_FINGERPRINT = re.compile(r"^(?:sha256:)?((?:[0-9a-f]{2}:?){31}[0-9a-f]{2})$")


class RouterOSConfig(IntegrationConfig):
    """One MikroTik router. Durations accept `10s`, `5m`, `PT1M` or seconds."""

    url: str
    username: str = "admin"
    password: SecretStr = SecretStr("")
    transport: Literal["auto", "rest", "ssh"] = "auto"
    ssh_port: int = Field(22, ge=1, le=65535)
    verify_ssl: bool | str = True
    fingerprint: str | None = None
    poll_interval: Seconds = 10.0
    consider_home: Seconds = 180.0
    timeout: Seconds = 10.0
    approval_ttl: Seconds = 120.0
    verify_timeout: Seconds = 2.0

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        try:
            url = httpx.URL(v)
        except httpx.InvalidURL as exc:
            raise ValueError(f"not a URL: {exc}") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("must be http(s)://host[:port] (the router's web service)")
        if url.userinfo:
            raise ValueError("put the credentials in username/password, not in the url")
        return v.rstrip("/")

    @field_validator("verify_ssl")
    @classmethod
    def _verify(cls, v: bool | str) -> bool | str:
        if v is False:
            raise ValueError("certificate verification cannot be turned off: give a CA file "
                             "(verify_ssl: /path/ca.pem) or pin the certificate (fingerprint: sha256:...)")
        if isinstance(v, str) and not Path(v).is_file():
            raise ValueError(f"CA file {v!r} does not exist")
        return v

    @field_validator("fingerprint")
    @classmethod
    def _fingerprint(cls, v: str | None) -> str | None:
        if v is None:
            return None
        m = _FINGERPRINT.match(v.strip().lower())
        if m is None:
            raise ValueError("must be the certificate's SHA-256 fingerprint: sha256: and 64 hex digits")
        return m.group(1).replace(":", "")

    @property
    def host(self) -> str:
        return httpx.URL(self.url).host

    @property
    def is_plain_http(self) -> bool:
        return httpx.URL(self.url).scheme == "http"
