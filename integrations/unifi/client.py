"""The controller's HTTP API over httpx: detection, login, CSRF, re-login on 401, bounded reads.

UniFi OS consoles answer `GET /` with 200, log in at `/api/auth/login`, serve the
Network application under `/proxy/network` and want the `X-CSRF-Token` they hand
out on every write. Classic controllers redirect `GET /` to `/manage`, log in at
`/api/login` and keep the CSRF token in a `csrf_token` cookie. An API key (UniFi
OS only) replaces the login with an `X-API-KEY` header on every request.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from typing import Any

import httpx

from hub.errors import AuthFailed, IntegrationError

from .config import UnifiConfig
from .errors import BadResponse, ControllerError, RateLimited, translated
from .tls import ssl_context

log = logging.getLogger(__name__)



class UnifiClient:
    """One session with one controller; use as `async with UnifiClient(cfg) as c: await c.connect()`."""

    def __init__(self, cfg: UnifiConfig, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.cfg = cfg
        self.host = cfg.host
        self.unifi_os: bool | None = None
        self.ssl: ssl.SSLContext | None = None
        self.logins = 0
        self._transport = transport
        self._http: httpx.AsyncClient | None = None
        self._csrf: str | None = None
        self._session = 0
        self._login_lock = asyncio.Lock()

    async def __aenter__(self) -> UnifiClient:
        transport = self._transport
        if transport is None:
            self.ssl = await ssl_context(self.cfg)
            transport = httpx.AsyncHTTPTransport(verify=self.ssl or True, retries=0)
        self._http = httpx.AsyncClient(base_url=self.cfg.url, transport=transport, follow_redirects=False,
                                       timeout=httpx.Timeout(self.cfg.timeout),
                                       headers={"Accept": "application/json"})
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            raise RuntimeError("UnifiClient used outside `async with`")
        return self._http

    @property
    def kind(self) -> str:
        return "UniFi OS" if self.unifi_os else "classic controller"

    # --- session -----------------------------------------------------------

    async def connect(self) -> None:
        """Detect the kind of controller and log in."""
        await self.detect()
        await self.login()

    async def detect(self) -> None:
        with translated("GET /", self.host, self.cfg.timeout):
            response = await self.http.get("/")
        if response.status_code == 429:
            raise RateLimited(f"unifi: {self.host} rate-limits us (HTTP 429)", _retry_after(response))
        self.unifi_os = response.status_code == 200
        if self.cfg.api_key is not None and not self.unifi_os:
            raise AuthFailed(f"unifi: {self.host} is a classic controller (GET / answered HTTP "
                             f"{response.status_code}); API keys need a UniFi OS console, use username/password")
        log.debug("%s: %s is a %s", self.cfg.id, self.host, self.kind)

    async def login(self) -> None:
        """Log in (no-op with an API key); raises AuthFailed when refused."""
        if self.cfg.api_key is not None:
            return
        assert self.cfg.username is not None and self.cfg.password is not None
        if self.unifi_os is None:
            await self.detect()
        path = "/api/auth/login" if self.unifi_os else "/api/login"
        body = {"username": self.cfg.username, "password": self.cfg.password.get_secret_value(),
                "rememberMe" if self.unifi_os else "remember": True}
        self.http.cookies.clear()
        self._csrf = None
        with translated(f"login at {path}", self.host, self.cfg.timeout):
            response = await self.http.post(path, json=body)
        status = response.status_code
        if status == 429:
            raise RateLimited(f"unifi: login to {self.host} rate-limited (HTTP 429)", _retry_after(response))
        if status in (400, 401, 403):
            raise AuthFailed(f"unifi: login to {self.host} as {self.cfg.username!r} refused (HTTP {status})")
        if not 200 <= status < 300:
            raise IntegrationError(f"unifi: login to {self.host} failed (HTTP {status})")
        self._csrf = response.headers.get("x-csrf-token") or self.http.cookies.get("csrf_token")
        self._session += 1
        self.logins += 1
        log.debug("%s: logged in to %s (%s)", self.cfg.id, self.host, self.kind)

    async def _relogin(self, session: int) -> None:
        async with self._login_lock:
            if self._session == session:  # nobody else logged in again meanwhile
                log.info("%s: session on %s expired; logging in again", self.cfg.id, self.host)
                await self.login()

    def auth_headers(self) -> dict[str, str]:
        """Headers that authenticate a websocket handshake (cookies or API key). Secret."""
        headers: dict[str, str] = {}
        if self.cfg.api_key is not None:
            headers["X-API-KEY"] = self.cfg.api_key.get_secret_value()
        cookies = "; ".join(f"{name}={value}" for name, value in self.http.cookies.items())
        if cookies:
            headers["Cookie"] = cookies
        return headers

    # --- the Network API ---------------------------------------------------

    def site_path(self, path: str) -> str:
        prefix = "/proxy/network" if self.unifi_os else ""
        return f"{prefix}/api/s/{self.cfg.site}/{path}"

    def events_url(self) -> str:
        scheme = "wss" if self.cfg.url.startswith("https") else "ws"
        prefix = "/proxy/network" if self.unifi_os else ""
        return f"{scheme}://{self.host}{prefix}/wss/s/{self.cfg.site}/events"

    async def get(self, path: str) -> list[Any]:
        """GET `api/s/<site>/<path>` and return its `data` list."""
        return await self.request("GET", path)

    async def command(self, manager: str, cmd: str, **fields: Any) -> list[Any]:
        """POST `cmd/<manager>` with `{"cmd": cmd, ...}`."""
        return await self.request("POST", f"cmd/{manager}", {"cmd": cmd, **fields})

    async def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> list[Any]:
        url = self.site_path(path)
        what = f"{method} {url}"
        session = self._session
        status, content_type, raw, response = await self._send(method, url, body, what)
        if status == 401 and self.cfg.api_key is None:
            await self._relogin(session)
            status, content_type, raw, response = await self._send(method, url, body, what)
        if status in (401, 403):
            raise AuthFailed(f"unifi: {what} on {self.host} refused (HTTP {status})"
                             + (": check the API key" if self.cfg.api_key is not None else ""))
        if status == 429:
            raise RateLimited(f"unifi: {what} on {self.host} rate-limited (HTTP 429)", _retry_after(response))
        updated = response.headers.get("x-updated-csrf-token")
        if updated:
            self._csrf = updated
        return self._payload(what, status, content_type, raw)

    async def _send(self, method: str, url: str, body: dict[str, Any] | None,
                    what: str) -> tuple[int, str, bytes, httpx.Response]:
        headers: dict[str, str] = {}
        if self.cfg.api_key is not None:
            headers["X-API-KEY"] = self.cfg.api_key.get_secret_value()
        if method != "GET" and self._csrf:
            headers["X-CSRF-Token"] = self._csrf
        limit = self.cfg.max_response_bytes
        with translated(what, self.host, self.cfg.timeout):
            async with self.http.stream(method, url, json=body, headers=headers) as response:
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise BadResponse(f"unifi: {what} on {self.host} answered more than {limit} bytes "
                                          "(raise max_response_bytes if this site is really that large)",
                                          b"".join(chunks)[:1024])
                    chunks.append(chunk)
        return response.status_code, response.headers.get("content-type", ""), b"".join(chunks), response

    def _payload(self, what: str, status: int, content_type: str, raw: bytes) -> list[Any]:
        try:
            payload = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            kind = content_type.split(";")[0] or "no content type"
            raise BadResponse(f"unifi: {what} on {self.host} answered HTTP {status} with {kind} "
                              "where JSON was expected", raw) from None
        meta = payload.get("meta") if isinstance(payload, dict) else None
        if not isinstance(meta, dict) or "data" not in payload:
            raise BadResponse(f"unifi: {what} on {self.host} answered JSON without `meta` and `data` "
                              f"(HTTP {status})", raw)
        if meta.get("rc") != "ok":
            msg = str(meta.get("msg") or "no message")
            if status >= 500:
                raise IntegrationError(f"unifi: {what} on {self.host} failed (HTTP {status}: {msg})")
            raise ControllerError(f"unifi: {self.host} refused {what} ({msg})", msg)
        if status >= 400:
            raise IntegrationError(f"unifi: {what} on {self.host} failed (HTTP {status})")
        data = payload["data"]
        if not isinstance(data, list):
            raise BadResponse(f"unifi: {what} on {self.host}: `data` is {type(data).__name__}, not a list", raw)
        return data


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
