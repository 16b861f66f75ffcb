"""A fake UniFi controller: a small Starlette app that speaks the recorded API.

UniFi OS mode: `GET /` is 200, login at `/api/auth/login` sets a `TOKEN` cookie and
answers an `X-CSRF-Token` header, the Network API lives under `/proxy/network`.
Classic mode: `GET /` redirects to `/manage`, login at `/api/login` sets `unifises`
and `csrf_token` cookies. Writes without the right CSRF token get 403. Sessions
can be expired (401, then the client must log in again), the API can be made to
answer 429 or an HTML error page, and the events websocket can push frames.
"""

from __future__ import annotations

import asyncio
import copy
import json
import secrets
import time
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

FIXTURES = Path(__file__).parent / "fixtures"
HTML_ERROR = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1>" \
             b"<hr><center>nginx</center></body></html>"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def ok(data: list[Any], status: int = 200) -> JSONResponse:
    return JSONResponse({"meta": {"rc": "ok"}, "data": data}, status_code=status)


def error(msg: str, status: int) -> JSONResponse:
    return JSONResponse({"meta": {"rc": "error", "msg": msg}, "data": []}, status_code=status)


class FakeController:
    """State and behaviour of one fake controller; `app` serves it."""

    def __init__(self, *, unifi_os: bool = True, username: str = "hubuser", password: str = "pw-Secret-4711",
                 api_key: str | None = None, site: str = "default") -> None:
        self.unifi_os = unifi_os
        self.username, self.password, self.api_key, self.site = username, password, api_key, site
        self.active: list[dict[str, Any]] = fixture("stat_sta.json")["data"]
        self.known: list[dict[str, Any]] = fixture("rest_user.json")["data"]
        self.devices: list[dict[str, Any]] = fixture("stat_device.json")["data"]
        self.health_data: list[dict[str, Any]] = fixture("stat_health.json")["data"]
        self.sysinfo: list[dict[str, Any]] = fixture("stat_sysinfo.json")["data"]
        self.speedtest: dict[str, Any] = copy.deepcopy(fixture("speedtest_status.json")["data"][0])
        self.speedtest.update(rundate=1699990000, status_summary=0)
        self.speedtest_polls_left = 0
        self.sessions: dict[str, str] = {}       # session token -> csrf token
        self.issued: list[str] = []               # every token and csrf handed out (secrets)
        self.logins = 0
        self.refused_logins = 0
        self.requests: list[tuple[str, str]] = []
        self.commands: list[dict[str, Any]] = []
        self.unauthorized = 0
        self.csrf_refused = 0
        self.answer_429 = 0
        self.retry_after = "0.05"
        self.answer_html = 0
        self.websockets: set[WebSocket] = set()
        self.ws_refuse = False
        self.ws_opened = 0
        self.app = Starlette(routes=[
            Route("/", self.root),
            Route("/{path:path}", self.http, methods=["GET", "POST"]),
            WebSocketRoute("/{path:path}", self.websocket),
        ])

    # --- knobs used by tests ------------------------------------------------

    def expire_sessions(self) -> None:
        self.sessions.clear()

    def api_requests(self, suffix: str) -> int:
        return sum(1 for _, path in self.requests if path.endswith(suffix))

    async def push(self, message: dict[str, Any] | str) -> None:
        text = message if isinstance(message, str) else json.dumps(message)
        for ws in list(self.websockets):
            await ws.send_text(text)

    async def close_websockets(self) -> None:
        for ws in list(self.websockets):
            await ws.close(1012)
        self.websockets.clear()

    # --- HTTP ---------------------------------------------------------------

    async def root(self, request: Request) -> Response:
        if self.unifi_os:
            return HTMLResponse("<!DOCTYPE html><html><head><title>UniFi OS</title></head><body></body></html>",
                                headers={"X-CSRF-Token": "anonymous-" + secrets.token_hex(8)})
        return RedirectResponse("/manage", status_code=302)

    async def http(self, request: Request) -> Response:
        path = "/" + request.path_params["path"]
        self.requests.append((request.method, path))
        if request.method == "POST" and path == ("/api/auth/login" if self.unifi_os else "/api/login"):
            return await self.login(request)
        prefix = "/proxy/network" if self.unifi_os else ""
        site_prefix = f"{prefix}/api/s/{self.site}/"
        if not path.startswith(site_prefix):
            return error("api.err.NotFound", 404)
        if self.answer_html > 0:
            self.answer_html -= 1
            return HTMLResponse(HTML_ERROR, status_code=502)
        session = self.session_of(request)
        if session is None:
            self.unauthorized += 1
            return error("api.err.LoginRequired", 401)
        if self.answer_429 > 0:
            self.answer_429 -= 1
            return JSONResponse({"meta": {"rc": "error", "msg": "api.err.RateLimit"}, "data": []},
                                status_code=429, headers={"Retry-After": self.retry_after})
        if request.method == "POST" and not self.csrf_ok(request, session):
            self.csrf_refused += 1
            return error("api.err.InvalidCSRFToken", 403)
        return await self.api(request, path[len(site_prefix):])

    async def login(self, request: Request) -> Response:
        body = await request.json()
        if body.get("username") != self.username or body.get("password") != self.password:
            self.refused_logins += 1
            return error("api.err.Invalid", 401 if self.unifi_os else 400)
        self.logins += 1
        token, csrf = secrets.token_hex(24), secrets.token_hex(16)
        self.sessions[token] = csrf
        self.issued += [token, csrf]
        response = ok([]) if not self.unifi_os else JSONResponse({"unique_id": "u1", "username": self.username})
        if self.unifi_os:
            response.set_cookie("TOKEN", token, httponly=True)
            response.headers["X-CSRF-Token"] = csrf
        else:
            response.set_cookie("unifises", token, httponly=True)
            response.set_cookie("csrf_token", csrf)
        return response

    def session_of(self, request: Request | WebSocket) -> str | None:
        if self.api_key is not None and request.headers.get("x-api-key") == self.api_key:
            return "api-key"
        token = request.cookies.get("TOKEN" if self.unifi_os else "unifises")
        return token if token in self.sessions else None

    def csrf_ok(self, request: Request, session: str) -> bool:
        if session == "api-key":
            return True
        return request.headers.get("x-csrf-token") == self.sessions.get(session)

    async def api(self, request: Request, path: str) -> Response:
        now = int(time.time())
        if request.method == "GET":
            if path == "stat/sta":
                for client in self.active:
                    if isinstance(client, dict):
                        client["last_seen"] = now
                return ok(self.active)
            if path == "rest/user":
                return ok(self.known)
            if path == "stat/device":
                return ok(self.devices)
            if path == "stat/health":
                return ok(self.health_data)
            if path == "stat/sysinfo":
                return ok(self.sysinfo)
            return error("api.err.NotFound", 404)
        body = await request.json()
        self.commands.append({"path": path, **body})
        cmd, mac = body.get("cmd"), body.get("mac")
        if path == "cmd/stamgr" and cmd in ("block-sta", "unblock-sta", "kick-sta"):
            entry = next((c for c in self.known if c["mac"] == mac), None)
            if entry is None:
                return error("api.err.UnknownStation", 400)
            if cmd != "kick-sta":
                entry["blocked"] = cmd == "block-sta"
            return ok([{"mac": mac, "blocked": entry.get("blocked", False)}])
        if path == "cmd/devmgr" and cmd == "restart":
            if not any(d["mac"] == mac for d in self.devices):
                return error("api.err.UnknownDevice", 400)
            return ok([])
        if path == "cmd/devmgr" and cmd == "speedtest":
            self.speedtest_polls_left = 2
            self.speedtest["status_summary"] = 1
            return ok([])
        if path == "cmd/devmgr" and cmd == "speedtest-status":
            if self.speedtest["status_summary"] == 1:
                self.speedtest_polls_left -= 1
                if self.speedtest_polls_left <= 0:
                    self.speedtest.update(status_summary=2, rundate=now, xput_download=245.3,
                                          xput_upload=41.2, latency=11)
            return ok([self.speedtest])
        return error("api.err.InvalidCommand", 400)

    # --- websocket ----------------------------------------------------------

    async def websocket(self, ws: WebSocket) -> None:
        prefix = "/proxy/network" if self.unifi_os else ""
        if ws.url.path != f"{prefix}/wss/s/{self.site}/events" or self.ws_refuse or self.session_of(ws) is None:
            await ws.close(1008)
            return
        await ws.accept()
        self.ws_opened += 1
        self.websockets.add(ws)
        try:
            while True:
                await ws.receive_text()
        except WebSocketDisconnect:
            pass
        finally:
            self.websockets.discard(ws)


class SilentServer:
    """Accepts TCP connections and never answers (the hung controller)."""

    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []
        self.accepted = 0

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self.writers.append(writer)
        await reader.read()  # until the client gives up

    async def stop(self) -> None:
        for writer in self.writers:
            writer.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
