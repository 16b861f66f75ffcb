"""The daemon's HTTP server: GET /health, GET /metrics, and /mcp when the MCP server is mounted."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from hub.errors import HubError
from hub.log import EventLog

log = logging.getLogger(__name__)


def health(log_: EventLog, integrations: Callable[[], dict[str, dict[str, Any]]],
           started: float) -> dict[str, Any]:
    """The daemon's health: overall status, each integration, last seq and projection lag."""
    items = integrations()
    log_ok = log_.health.writable
    failing = [iid for iid, item in items.items() if item["status"] not in ("connected", "running", "starting")]
    status = "ok" if log_ok and not failing else "degraded"
    return {
        "status": status,
        "log": {"writable": log_ok, "error": log_.health.error, "pending": log_.health.pending,
                "last_seq": log_.head},
        "last_seq": log_.head,
        "projection_lag": max(0, log_.head - log_.fold.position) if log_.project else None,
        "integrations": items,
        "events_per_second": round(log_.metrics.rate(), 1),
        "uptime_seconds": round(time.monotonic() - started, 1),
    }


def build_app(log_: EventLog, integrations: Callable[[], dict[str, dict[str, Any]]], *,
              extra_routes: list[BaseRoute] | None = None, lifespan: Any = None) -> Starlette:
    started = time.monotonic()

    async def get_health(request: Request) -> Response:
        body = health(log_, integrations, started)
        return JSONResponse(body, status_code=200 if body["log"]["writable"] else 503)

    async def get_metrics(request: Request) -> Response:
        items = integrations()
        extra = {
            "hub_log_last_seq": float(log_.head),
            "hub_log_pending_events": float(log_.health.pending),
            "hub_log_writable": 1.0 if log_.health.writable else 0.0,
            "hub_projection_lag_events": float(max(0, log_.head - log_.fold.position)),
            # Committed events whose projection rows are not in the database yet (hub.backlog).
            "hub_projection_backlog_events": float(log_.backlog.events()),
            "hub_subscribers": float(len(log_._subscribers)),
        }
        text = log_.metrics.prometheus(extra)
        lines = ["# HELP hub_integration_up 1 when the integration is connected.", "# TYPE hub_integration_up gauge"]
        lines += [f'hub_integration_up{{integration="{iid}",type="{item["type"]}"}} '
                  f'{1 if item["status"] in ("connected", "running") else 0}' for iid, item in sorted(items.items())]
        return PlainTextResponse(text + "\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")

    routes: list[BaseRoute] = [Route("/health", get_health), Route("/metrics", get_metrics)]
    routes += extra_routes or []
    return Starlette(routes=routes, lifespan=lifespan)


def is_loopback(host: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and `localhost`."""
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """Bind the listening socket now, so a taken port is a clear startup error."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise HubError(f"cannot listen on {host}:{port}: {exc.strerror} (is another hub running? "
                       "change hub.http.port in the config)") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the daemon owns SIGINT/SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(app: Starlette, sock: socket.socket) -> None:
    """Serve until cancelled, then shut down gracefully."""
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on" if app.router.lifespan_context
                            else "off", timeout_graceful_shutdown=2)
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 5)
        raise


__all__ = ["Mount", "bind", "build_app", "health", "serve"]
