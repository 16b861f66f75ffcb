"""RouterOSIntegration: one MikroTik router, polled over REST or SSH, commanded through the log."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, ClassVar

import httpx

from hub.errors import AuthFailed
from hub.integration import Command, Integration, IntegrationConfig, IntegrationContext
from hub.times import now_us
from integrations.routeros.approvals import Approvals
from integrations.routeros.commands import RouterCommands
from integrations.routeros.config import RouterOSConfig
from integrations.routeros.entities import Bad, RouterEntities
from integrations.routeros.errors import Unreachable
from integrations.routeros.polling import Poller
from integrations.routeros.presence import Presence
from integrations.routeros.rest import RestClient
from integrations.routeros.ssh import KnownHosts, SshClient
from integrations.routeros.transport import Connector, Transport

log = logging.getLogger(__name__)

_warned_plain_http: set[str] = set()
MAX_REMEMBERED_REJECTIONS = 2000


class RouterOSIntegration(Integration):
    """A MikroTik router: system, interfaces, clients and settings as entities; approved writes."""

    type: ClassVar[str] = "routeros"
    config_model: ClassVar[type[IntegrationConfig]] = RouterOSConfig
    config: RouterOSConfig

    def __init__(self, config: IntegrationConfig, ctx: IntegrationContext, *,
                 transport: httpx.AsyncBaseTransport | None = None, ssh_options: dict[str, Any] | None = None,
                 clock: Callable[[], float] = time.monotonic, approval_key: bytes | None = None) -> None:
        if not isinstance(config, RouterOSConfig):
            config = RouterOSConfig.model_validate(config.model_dump())
        super().__init__(config, ctx)
        self.http_transport = transport
        self.ssh_options = dict(ssh_options or {})
        self.known_hosts = KnownHosts(ctx.data_dir / "routeros" / "known_hosts")
        self.connector = Connector(config, self._make_rest, self._make_ssh)
        self.entities = RouterEntities(config.id, clock)
        self.presence = Presence(config.id, config.consider_home)
        self.approvals = Approvals(config.id, config.approval_ttl, approval_key)
        self.commands = RouterCommands(self)
        self.link: Transport | None = None
        self.poller = Poller(config.host)
        self._rejected: set[tuple[str, str]] = set()
        self._poll_lock = asyncio.Lock()
        if config.is_plain_http and config.url not in _warned_plain_http:
            _warned_plain_http.add(config.url)
            log.warning("routeros %s: %s is plain HTTP: the password crosses the network unencrypted",
                        config.id, config.url)

    def _make_rest(self) -> RestClient:
        return RestClient(self.config, transport=self.http_transport)

    def _make_ssh(self) -> SshClient:
        return SshClient(self.config, self.known_hosts, on_bad_line=self._bad_line, **self.ssh_options)

    # --- lifecycle ----------------------------------------------------------------

    async def run(self) -> None:
        """Connect (REST, else SSH in auto mode), then poll until cancelled."""
        try:
            await self.connect()
            while True:
                try:
                    await self.poll_once()
                except Unreachable as exc:
                    await self._fail_over(exc)
                    continue
                await asyncio.sleep(self.config.poll_interval)
        finally:
            await self.disconnect()

    async def connect(self, *, skip: str | None = None) -> None:
        try:
            self.link, resource = await self.connector.connect(skip=skip)
        except AuthFailed as exc:
            await self.ctx.status("auth_failed", str(exc))
            raise
        except Unreachable as exc:
            await self.ctx.status("unavailable", str(exc))
            raise
        self.poller = Poller(self.config.host)
        await self.ctx.status("connected", f"{self.link.name}, RouterOS {resource.get('version', '?')}")

    async def disconnect(self) -> None:
        if self.link is not None:
            link, self.link = self.link, None
            await link.close()

    async def _fail_over(self, exc: Unreachable) -> None:
        """The link stopped answering: reconnect, over the other transport first in auto mode."""
        failed = self.link.name if self.link is not None else None
        await self.disconnect()
        await self.ctx.status("unavailable", str(exc))
        await self.connect(skip=failed if self.config.transport == "auto" else None)

    # --- polling --------------------------------------------------------------------

    async def poll_once(self) -> None:
        """Read the router once and report every entity (a command's refresh shares the lock)."""
        if self.link is None:
            raise Unreachable(f"routeros {self.config.host}: not connected")
        async with self._poll_lock:
            snap = await self.poller.read(self.link)
            reports = self.entities.reports(snap)
            clients = self.presence.update(snap, now_us())
            for report in reports:
                await self.ctx.register_entity(report.info)
                await self.ctx.set_state(report.info.entity_id, report.state, report.attributes)
            for client in clients:
                await self.ctx.register_entity(self.presence.entity(client))
                await self.ctx.set_state(self.presence.entity_id(client), "home" if client.home else "not_home",
                                         self.presence.attributes(client))
            for bad in self.entities.bad + self.presence.bad:
                await self._reject(bad)
        await self.ctx.status("connected", self.link.name)

    async def _reject(self, bad: Bad) -> None:
        """Record a bad value once while it stays bad, not at every poll."""
        key = (bad.origin, bad.reason)
        if key in self._rejected:
            return
        if len(self._rejected) >= MAX_REMEMBERED_REJECTIONS:
            self._rejected.clear()
        self._rejected.add(key)
        await self.ctx.reject(bad.origin, bad.reason, bad.excerpt)

    async def _bad_line(self, command: str, reason: str, line: str) -> None:
        await self._reject(Bad(f"routeros {self.id} ssh `{command}`", reason, line))

    # --- commands and reads for others ------------------------------------------------

    async def handle_command(self, command: Command) -> dict[str, Any] | None:
        token = self.ctx.command_started(command)
        try:
            return await self.commands.handle(command)
        finally:
            self.ctx.command_finished(token)

    def clients(self) -> list[dict[str, Any]]:
        """Every client this router has seen, with presence, as plain dicts (MCP network_clients)."""
        return self.presence.as_dicts()
