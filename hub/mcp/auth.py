"""HTTP for the MCP server: bearer-token authentication (constant time) and Host/Origin protection.

Without a token the endpoint answers only clients on loopback (the daemon must
then listen on loopback only as well). A missing or wrong token gets a bare 401.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import TYPE_CHECKING, Any

from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from hub.http import is_loopback

if TYPE_CHECKING:
    from fastmcp import FastMCP
    from starlette.applications import Starlette

log = logging.getLogger(__name__)

MCP_PATH = "/mcp"

__all__ = ["MCP_PATH", "http_app", "is_loopback"]


async def _plain(send: Send, status: int, text: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = text.encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


class BearerAuth:
    """ASGI middleware: requests need `Authorization: Bearer <token>`; without a token, loopback only."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self._token = token.encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._token is None:
            client = scope.get("client")
            if not is_loopback(client[0] if client else None):
                await _plain(send, 403, "Forbidden")
                return
            await self.app(scope, receive, send)
            return
        offered = b""
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                scheme, _, credential = value.partition(b" ")
                if scheme.lower() == b"bearer":
                    offered = credential.strip()
                break
        # compare_digest on equal-length digests: the time does not depend on where they differ.
        if not hmac.compare_digest(_digest(offered), _digest(self._token)):
            await _plain(send, 401, "Unauthorized", [(b"www-authenticate", b"Bearer")])
            return
        await self.app(scope, receive, send)


def _digest(value: bytes) -> bytes:
    return hashlib.sha256(value).digest()


def http_app(server: FastMCP[Any], token: str | None, allowed_hosts: list[str] | None = None,
             allowed_origins: list[str] | None = None) -> Starlette:
    """The streamable-HTTP MCP endpoint at /mcp, behind bearer-token auth and Host/Origin checks.

    Mount it last in the daemon's app (`Mount("/", app=...)`) and run its `lifespan`.
    """
    hosts = list(allowed_hosts or [])
    origins = list(allowed_origins or [])
    protection: bool | str = True if hosts else "auto"
    if token is None:
        protection = True  # loopback only: Host must be a loopback name, which stops DNS rebinding
    return server.http_app(
        path=MCP_PATH,
        middleware=[Middleware(BearerAuth, token=token)],
        host_origin_protection=protection,  # type: ignore[arg-type]
        allowed_hosts=hosts or None,
        allowed_origins=origins or None,
        stateless_http=False,
        json_response=True,
    )
