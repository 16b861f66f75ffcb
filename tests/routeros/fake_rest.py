"""A fake RouterOS REST server on loopback: HTTP/1.1 with keep-alive, basic auth, optional TLS.

It speaks the real verbs over FakeRouter: GET prints, PUT creates, PATCH sets, DELETE
removes, POST runs commands. Modes model the failures: `html` (RouterOS 6's WebFig,
no REST), `silent` (accepts TCP, never answers); a cut router (FakeRouter.cut) is silent.
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from tests.routeros.fake_router import COMMANDS, FakeRouter, RouterError


class FakeRestServer:
    def __init__(self, router: FakeRouter, *, username: str = "admin", password: str = "s3cret",
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.router = router
        self.auth = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        self.ssl_context = ssl_context
        self.mode = "rest"
        self.requests: list[tuple[str, str]] = []
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[Any]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._release = asyncio.Event()
        self.port = 0

    @property
    def url(self) -> str:
        return f"{'https' if self.ssl_context else 'http'}://127.0.0.1:{self.port}"

    async def start(self) -> FakeRestServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self._release.set()  # silent handlers return; idle keep-alive ones see their socket close
        for writer in list(self._writers):
            writer.close()
        if self._handlers:
            await asyncio.wait(list(self._handlers))
        if self._server is not None:
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                method, target, _ = line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while (raw := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = raw.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
                self.requests.append((method, target))
                if self.mode == "silent" or self.router.cut:
                    await self._release.wait()  # accept, read, never answer
                    return
                status, ctype, payload = self._dispatch(method, target, headers, body)
                head = (f"HTTP/1.1 {status} {'OK' if status < 400 else 'Error'}\r\nContent-Type: {ctype}\r\n"
                        f"Content-Length: {len(payload)}\r\nConnection: keep-alive\r\n\r\n")
                writer.write(head.encode() + payload)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, ValueError):
            return
        finally:
            self._handlers.discard(task)
            self._writers.discard(writer)
            writer.close()

    def _dispatch(self, method: str, target: str, headers: dict[str, str], body: bytes) -> tuple[int, str, bytes]:
        if self.mode == "html":
            return 404, "text/html", b"<html><body>Not Found (WebFig)</body></html>"
        url = urlsplit(target)
        if not url.path.startswith("/rest/"):
            return 404, "text/html", b"<html>Not Found</html>"
        if headers.get("authorization") != self.auth:
            return _json(401, {"error": 401, "message": "Unauthorized"})
        path = unquote(url.path[len("/rest/"):]).strip("/")
        try:
            values: Any = json.loads(body) if body else {}
            return self._route(method, path, dict(parse_qsl(url.query)), values)
        except RouterError as exc:
            error: dict[str, Any] = {"error": exc.status, "message": exc.message}
            if exc.detail:
                error["detail"] = exc.detail
            return _json(exc.status, error)

    def _route(self, method: str, path: str, query: dict[str, str], values: Any) -> tuple[int, str, bytes]:
        r = self.router
        menu, _, last = path.rpartition("/")
        if method == "GET" and r.knows(path):
            rows = r.print(path)
            if isinstance(rows, list):
                rows = [row for row in rows if all(row.get(k) == v for k, v in query.items())]
            return _json(200, rows)
        if method == "GET" and last.startswith("*"):
            return _json(200, r.item(menu, last))
        if method == "PUT":
            return _json(201, r.add(path, values))
        if method == "PATCH" and last.startswith("*"):
            return _json(200, r.set(menu, last, values))
        if method == "DELETE" and last.startswith("*"):
            r.remove(menu, last)
            return 204, "application/json", b""
        if method == "POST" and last == "set" and menu in r.singletons:
            r.set_singleton(menu, values)
            return _json(200, [])
        if method == "POST" and path in COMMANDS:
            if path == "system/script/run":
                r.run_script(values.get(".id", ""))
                return _json(200, [])
            if not isinstance(values.get("count"), str):
                raise RouterError(400, "Bad Request", "expected string for count")
            if path == "ping":
                return _json(200, r.ping(values["address"], int(values["count"])))
            return _json(200, r.traceroute(values["address"]))
        raise RouterError(400, "Bad Request", f"no such command or directory ({last})")


def _json(status: int, payload: Any) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps(payload).encode()
