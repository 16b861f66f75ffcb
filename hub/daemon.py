"""`hub run`: open the log, catch up the projections, run integrations, commands, automations
and the HTTP server until SIGINT/SIGTERM, then stop cleanly with nothing lost."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from typing import Any

from hub import events as ev
from hub import heap
from hub.commands import CommandRouter
from hub.config import Config
from hub.errors import ConfigError
from hub.events import Event
from hub.http import Mount, bind, build_app, is_loopback, serve
from hub.integration import Integration, IntegrationContext
from hub.log import EventLog
from hub.retention import retention_loop
from hub.store import backend_for
from hub.sun import SunConfig, SunIntegration
from hub.supervisor import Supervisor
from hub.times import parse_duration_us

log = logging.getLogger(__name__)


def build_integrations(config: Config, log_: EventLog) -> list[tuple[Integration, IntegrationContext]]:
    """Instantiate every configured integration, plus the built-in sun."""
    from integrations import integration_class

    data_dir = config.base_dir / "data"
    out: list[tuple[Integration, IntegrationContext]] = []
    sun_cfg = SunConfig(latitude=config.hub.latitude, longitude=config.hub.longitude)
    ctx = IntegrationContext(log_, "sun", data_dir=data_dir, hub_config=config)
    out.append((SunIntegration(sun_cfg, ctx), ctx))
    for cfg in config.integration_configs:
        cls = integration_class(cfg.type)
        if cls is None:
            raise ConfigError(f"integration type {cfg.type!r} is not available")
        ctx = IntegrationContext(log_, cfg.id, data_dir=data_dir, hub_config=config)
        out.append((cls(cfg, ctx), ctx))
    return out


class Daemon:
    """One running hub."""

    def __init__(self, config: Config) -> None:
        self.config = config
        backend = backend_for(config.database_url)
        if hasattr(backend, "synchronous"):
            backend.synchronous = config.hub.synchronous.upper()
        if hasattr(backend, "check_on_open"):
            backend.check_on_open = config.hub.startup_check == "quick"
        self.log = EventLog(backend)
        self.supervisor = Supervisor()
        self.router = CommandRouter(self.log, timeout=parse_duration_us(config.hub.command_timeout) / 1e6)
        self.integrations: dict[str, Integration] = {}
        self.stop_reason = "stopped"
        self._stop = asyncio.Event()
        self.extra_tasks: list[Callable[[], Any]] = []

    def request_stop(self, reason: str) -> None:
        if not self._stop.is_set():
            log.info("stopping: %s", reason)
            self.stop_reason = reason
            self._stop.set()

    async def run(self) -> None:
        config = self.config
        async with self.log.backend.daemon_lock(config.hub.name):
            await self.log.start()
            sock = bind(config.hub.http.host, config.hub.http.port) if config.hub.http.enabled else None
            try:
                await self._run(sock)
            finally:
                if sock is not None:
                    sock.close()
                await self.log.close()

    async def _run(self, sock: Any) -> None:
        config = self.config
        for integration, ctx in build_integrations(config, self.log):
            self.supervisor.add(integration, ctx)
            self.integrations[integration.id] = integration
        self.supervisor.register_owners(self.router)
        from automations.engine import AutomationEngine
        from automations.watch import reload_file, watch

        # Before hub_started is appended, so `trigger: homeassistant, event: start` sees it.
        self.engine = AutomationEngine(self.log, config)
        self.engine.register_owners(self.router)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.request_stop, f"received {signal.Signals(sig).name}")
        try:
            async with asyncio.TaskGroup() as outer:
                writer = outer.create_task(self.log.run(), name="log")
                started = await self.log.append(Event(ev.HUB_STARTED, "hub", None, {
                    "name": config.hub.name, "integrations": sorted(self.integrations),
                    "database": self.log.backend.url.split("@")[-1]}))
                log.info("hub %s started on %s (seq %d); %d integrations", config.hub.name,
                         self.log.backend.url.split("@")[-1], started.seq or 0, len(self.integrations))
                # What start-up made lives as long as the daemon: frozen out of the collector's sight,
                # a full collection walks only what was made since (and runs less often: hub.heap).
                heap.settle()
                async with asyncio.TaskGroup() as inner:
                    tasks = [
                        inner.create_task(self.router.run(after=started.seq), name="commands"),
                        inner.create_task(self.supervisor.run(), name="integrations"),
                        inner.create_task(retention_loop(self.log, config), name="retention"),
                        inner.create_task(self.engine.run(), name="automations"),
                        inner.create_task(watch(self.engine, config.path), name="automations-watch"),
                    ]
                    loop.add_signal_handler(signal.SIGHUP, lambda: tasks.append(
                        inner.create_task(reload_file(self.engine, config.path), name="automations-reload")))
                    for factory in self.extra_tasks:
                        tasks.append(inner.create_task(factory()))
                    if sock is not None:
                        app = self.http_app(inner, tasks)
                        tasks.append(inner.create_task(serve(app, sock), name="http"))
                        log.info("HTTP on http://%s:%d (/health, /metrics)", *sock.getsockname()[:2])
                    await self._stop.wait()
                    for task in tasks:
                        task.cancel()
                await self.log.append(Event(ev.HUB_STOPPED, "hub", None, {"reason": self.stop_reason}))
                await self.log.flush()
                writer.cancel()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                loop.remove_signal_handler(sig)

    def http_app(self, group: asyncio.TaskGroup, tasks: list[asyncio.Task[Any]]) -> Any:
        """/health, /metrics and the MCP server at /mcp (bearer token; loopback only without one)."""
        return build_app(self.log, self.supervisor.status,
                         extra_routes=[Mount("/", app=LazyMcp(self._mcp_app, group, tasks))])

    def _mcp_app(self) -> Any:
        from hub.mcp import build_server, http_app

        mcp = self.config.mcp
        token = mcp.token.get_secret_value() if mcp.token else None
        return http_app(build_server(self.log, self.config, integrations=self.integrations), token,
                        mcp.allowed_hosts, mcp.allowed_origins)


class LazyMcp:
    """The MCP endpoint, built on its first request: its libraries weigh about 40 MB that a daemon
    nobody has asked anything over HTTP need not carry. Its lifespan runs in the daemon's task group."""

    def __init__(self, factory: Callable[[], Any], group: asyncio.TaskGroup,
                 tasks: list[asyncio.Task[Any]]) -> None:
        self.factory = factory
        self.group = group
        self.tasks = tasks  # the daemon cancels these when it stops
        self.app: Any = None
        self._lock = asyncio.Lock()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return
        await (await self._ready())(scope, receive, send)

    async def _ready(self) -> Any:
        async with self._lock:
            if self.app is None:
                app = self.factory()
                started = asyncio.Event()

                async def lifespan() -> None:
                    async with app.router.lifespan_context(app):
                        started.set()
                        await asyncio.Event().wait()  # until the daemon stops (cancelled)

                self.tasks.append(self.group.create_task(lifespan(), name="mcp-sessions"))
                await started.wait()
                log.info("MCP server at /mcp started on its first request")
                self.app = app
        return self.app


def check_exposure(config: Config) -> None:
    """Refuse to serve MCP beyond loopback without a token."""
    if config.hub.http.enabled and not is_loopback(config.hub.http.host) and config.mcp.token is None:
        raise ConfigError(f"{config.path}: mcp.token is required when hub.http.host is {config.hub.http.host!r} "
                          "(not loopback): set `mcp: {token: !env HUB_MCP_TOKEN}`, or listen on 127.0.0.1")


async def run_daemon(config: Config) -> None:
    check_exposure(config)
    await Daemon(config).run()
