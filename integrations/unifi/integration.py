"""UnifiIntegration: polls a UniFi controller, follows its events websocket, obeys commands."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Iterable
from typing import Any

import httpx

from hub.errors import HubError, InputRejected, IntegrationError
from hub.integration import Command, Integration, IntegrationContext
from hub.times import to_iso

from . import entities as ent
from .client import UnifiClient
from .commands import handle_command, speedtest_loop
from .config import UnifiConfig
from .errors import BadResponse, RateLimited
from .records import ClientRecord, DeviceRecord, Health, merge_known, parse_client, parse_device, parse_health
from .websocket import CONNECTED, DISCONNECTED, ROAMED, listen, parse_message

log = logging.getLogger(__name__)

REJECTS_PER_POLL = 10
GATHER_CHUNK = 1000


class UnifiIntegration(Integration):
    """Clients (presence, blocking), devices and site health of one UniFi site."""

    type = "unifi"
    config_model = UnifiConfig
    config: UnifiConfig

    def __init__(self, config: UnifiConfig, ctx: IntegrationContext, *,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(config, ctx)
        self.transport = transport
        self.client: UnifiClient | None = None
        self.ids = ent.EntityIds(config.id)
        self.clients_by_mac: dict[str, ClientRecord] = {}
        self.tracked: dict[str, ClientRecord] = {}
        self.last_home: dict[str, float] = {}
        self.devices_by_mac: dict[str, DeviceRecord] = {}
        self.site_health = Health()
        self.sysinfo: dict[str, Any] = {}
        self.speedtest_result: dict[str, Any] | None = None
        self.speedtests: asyncio.Queue[tuple[Command, float | None]] = asyncio.Queue()
        self.polls = 0
        self.websocket_connected = False
        self._cap_warned = False
        self._rejects = 0

    # --- lifecycle ---------------------------------------------------------

    async def run(self) -> None:
        self.ids.load(self.ctx.log.registry())
        async with UnifiClient(self.config, transport=self.transport) as client:
            self.client = client
            try:
                try:
                    await client.connect()
                    async with asyncio.TaskGroup() as tg:
                        tg.create_task(self._poll_loop())
                        tg.create_task(speedtest_loop(self))
                        if self.config.websocket:
                            tg.create_task(self._websocket_loop())
                except BaseExceptionGroup as group:
                    raise _first_hub_error(group) from None
            except IntegrationError:
                await self._mark_unavailable()
                raise
            finally:
                self.client = None
                self.websocket_connected = False

    async def handle_command(self, command: Command) -> dict[str, Any] | None:
        return await handle_command(self, command)

    async def _poll_loop(self) -> None:
        backoff = 0.0
        while True:
            try:
                await self.poll_once()
            except RateLimited as exc:
                backoff = min(max(backoff * 2, min(1.0, self.config.poll_interval)), 300.0)
                delay = max(exc.retry_after or 0.0, backoff)
                log.warning("%s: %s; waiting %.1fs", self.id, exc, delay)
                await asyncio.sleep(delay)
                continue
            except BadResponse as exc:
                await self.ctx.reject(f"unifi {self.config.host}", str(exc), exc.body)
                raise
            backoff = 0.0
            await self.ctx.status("connected", f"{self.client.kind if self.client else ''} {self.config.host}")
            await asyncio.sleep(self.config.poll_interval)

    async def _websocket_loop(self) -> None:
        assert self.client is not None
        delay, warned = 1.0, False
        while True:
            try:
                await listen(self.client, self._on_frame, self._on_websocket_open)
                reason = "closed by the controller"
            except IntegrationError as exc:
                reason = str(exc)
            if self.websocket_connected or not warned:
                log.warning("%s: events websocket down (%s); polling alone until it is back", self.id, reason)
                warned = True
            if self.websocket_connected:
                delay = 1.0
            self.websocket_connected = False
            await asyncio.sleep(min(delay, self.config.poll_interval))
            delay = min(delay * 2, 300.0)

    async def _on_websocket_open(self) -> None:
        self.websocket_connected = True
        log.info("%s: events websocket connected to %s", self.id, self.config.host)

    # --- polling -----------------------------------------------------------

    async def poll_once(self) -> None:
        """Read clients, devices, health (and sysinfo once) and publish every entity."""
        client = self.client
        assert client is not None
        self._rejects = 0
        active = await client.get("stat/sta")
        known = await client.get("rest/user")
        devices = await client.get("stat/device")
        health = await client.get("stat/health")
        if not self.sysinfo:
            info = await client.get("stat/sysinfo")
            self.sysinfo = info[0] if info and isinstance(info[0], dict) else {}
        await self._take_clients(active, known)
        del active, known
        await self._take_devices(devices)
        try:
            self.site_health = parse_health(health)
        except InputRejected as exc:
            await self._reject("stat/health", str(exc), health)
        await self._publish_site()
        self.polls += 1

    async def _take_clients(self, active: list[Any], known: list[Any]) -> None:
        now = time.time()
        clients: dict[str, ClientRecord] = {}
        for raw in active:
            record = await self._parse(lambda raw=raw: parse_client(raw, connected=True), "stat/sta", raw)
            if record is not None:
                clients[record.mac] = record
                self.last_home[record.mac] = now
        for raw in known:
            record = await self._parse(lambda raw=raw: parse_client(raw, connected=False), "rest/user", raw)
            if record is None:
                continue
            if record.mac in clients:
                merge_known(clients[record.mac], record)
            elif record.blocked or record.noted or record.mac in self.tracked:
                clients[record.mac] = record
        self.clients_by_mac = clients
        self.last_home = {mac: seen for mac, seen in self.last_home.items()
                          if mac in clients or mac in self.tracked or now - seen < self.config.consider_home}
        for mac, record in clients.items():
            if mac in self.tracked or self._may_track(mac, len(clients)):
                self.tracked[mac] = record
        await self._gather(self.publish_client(record) for record in list(self.tracked.values()))

    def _may_track(self, mac: str, total: int) -> bool:
        if self.ids.get(mac, "tracker") is not None or len(self.tracked) < self.config.max_tracked_clients:
            return True
        if not self._cap_warned:
            self._cap_warned = True
            log.warning("%s: %d clients, tracking the first %d as entities (max_tracked_clients); "
                        "the rest are counted and listed but get no entities", self.id, total,
                        self.config.max_tracked_clients)
        return False

    async def _take_devices(self, devices: list[Any]) -> None:
        parsed: dict[str, DeviceRecord] = {}
        for raw in devices:
            record = await self._parse(lambda raw=raw: parse_device(raw), "stat/device", raw)
            if record is not None:
                parsed[record.mac] = record
        self.devices_by_mac = parsed
        await self._gather(self._publish_device(device) for device in parsed.values())

    async def _parse(self, parse: Any, origin: str, raw: object) -> Any:
        try:
            return parse()
        except InputRejected as exc:
            await self._reject(origin, str(exc), raw)
            return None

    async def _reject(self, origin: str, reason: str, raw: object) -> None:
        self._rejects += 1
        if self._rejects <= REJECTS_PER_POLL:
            await self.ctx.reject(f"unifi {self.config.host} {origin}", reason, raw)
        elif self._rejects == REJECTS_PER_POLL + 1:
            await self.ctx.reject(f"unifi {self.config.host} {origin}",
                                  f"more than {REJECTS_PER_POLL} bad entries in one poll; the rest are "
                                  "skipped without a record each", b"")

    # --- publishing --------------------------------------------------------

    def is_home(self, client: ClientRecord, now: float | None = None) -> bool:
        if client.connected:
            return True
        seen = max(client.last_seen or 0.0, self.last_home.get(client.mac, 0.0))
        return (now or time.time()) - seen < self.config.consider_home

    async def publish_client(self, client: ClientRecord) -> None:
        ctx = self.ctx
        taken = ctx.log.registry()
        tracker = self.ids.allocate(client.mac, "tracker", "device_tracker", ent.slug(client.label), taken)
        switch = self.ids.allocate(client.mac, "network", "switch", ent.slug(client.label) + "_network", taken)
        await ctx.register_entity(ent.client_info(tracker, client, "tracker", self.id))
        await ctx.register_entity(ent.client_info(switch, client, "network", self.id))
        attrs = ent.client_attributes(client)
        await self._set(tracker, "home" if self.is_home(client) else "not_home", attrs)
        await self._set(switch, "off" if client.blocked else "on",
                        {"friendly_name": f"{client.label} network access", "mac": client.mac})

    async def _set(self, entity_id: str, value: str, attributes: dict[str, Any]) -> None:
        """set_state, skipped when nothing changed (a steady poll of thousands then costs no log traffic)."""
        current = self.ctx.state(entity_id)
        if current is not None and current.state == value and current.attributes == attributes:
            return
        await self.ctx.set_state(entity_id, value, attributes)

    async def _publish_device(self, device: DeviceRecord) -> None:
        taken = self.ctx.log.registry()
        values = ent.device_states(device)
        for role, value in values.items():
            entity_id = self.ids.allocate(device.mac, role, "sensor",
                                          ent.slug(device.name) + ent.DEVICE_ROLES[role][1], taken)
            await self.ctx.register_entity(ent.device_info(entity_id, device, role, self.id))
            attrs: dict[str, Any] = {"friendly_name": f"{device.name}{ent.DEVICE_ROLES[role][2]}",
                                     "mac": device.mac, "kind": device.kind}
            unit = ent.DEVICE_ROLES[role][3]
            if unit:
                attrs["unit_of_measurement"] = unit
            await self.ctx.set_state(entity_id, "unknown" if value is None else value, attrs)

    async def publish_site_value(self, role: str, value: object, extra: dict[str, Any] | None = None) -> str:
        entity_id = self.ids.allocate("site", role, "sensor", self.ids.site + ent.SITE_ROLES[role][1])
        await self.ctx.register_entity(ent.site_info(entity_id, role, self.id))
        attrs: dict[str, Any] = {"friendly_name": f"UniFi {ent.SITE_ROLES[role][2]}", **(extra or {})}
        if ent.SITE_ROLES[role][3]:
            attrs["unit_of_measurement"] = ent.SITE_ROLES[role][3]
        await self.ctx.set_state(entity_id, "unknown" if value is None else value, attrs)
        return entity_id

    async def _publish_site(self) -> None:
        connected = [c for c in self.clients_by_mac.values() if c.connected]
        wired = sum(1 for c in connected if c.is_wired)
        h = self.site_health
        await self.publish_site_value("clients_wired", wired)
        await self.publish_site_value("clients_wireless", len(connected) - wired)
        await self.publish_site_value("wan_status", h.wan_status, {k: v for k, v in
                                                                   (("wan_ip", h.wan_ip), ("isp", h.isp)) if v})
        await self.publish_site_value("wan_download", ent.mbit(h.rx_rate))
        await self.publish_site_value("wan_upload", ent.mbit(h.tx_rate))
        if self.speedtest_result is None and h.download is not None:
            await self.publish_site_value("speedtest_download", round(h.download, 3))
            await self.publish_site_value("speedtest_upload", round(h.upload or 0.0, 3))
            await self.publish_site_value("speedtest_ping", h.latency)

    async def _mark_unavailable(self) -> None:
        async def one(entity_id: str) -> None:
            state = self.ctx.state(entity_id)
            await self.ctx.set_state(entity_id, "unavailable", state.attributes if state else {})
        try:
            await self._gather(one(e) for e in sorted(self.ctx.owned))
        except HubError as exc:
            log.warning("%s: could not mark entities unavailable: %s", self.id, exc)

    @staticmethod
    async def _gather(coros: Iterable[Awaitable[Any]]) -> None:
        """Await in chunks, so that one poll's thousands of states share a few log commits."""
        batch: list[Awaitable[Any]] = []
        for coro in coros:
            batch.append(coro)
            if len(batch) >= GATHER_CHUNK:
                await asyncio.gather(*batch)
                batch = []
        if batch:
            await asyncio.gather(*batch)

    # --- websocket ---------------------------------------------------------

    async def _on_frame(self, frame: str | bytes) -> None:
        try:
            message = parse_message(frame)
        except InputRejected as exc:
            await self.ctx.reject(f"unifi {self.config.host} websocket", str(exc), frame)
            return
        if message.kind == "sta:sync":
            for raw in message.data:
                record = await self._parse(lambda raw=raw: parse_client(raw, connected=True), "websocket", raw)
                if record is not None and record.mac in self.tracked:
                    merge_known(record, self.tracked[record.mac])
                    await self._client_changed(record)
        elif message.kind == "events":
            for item in message.data:
                await self._on_event(item)

    async def _on_event(self, item: object) -> None:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            await self.ctx.reject(f"unifi {self.config.host} websocket", "an event without a `key`", item)
            return
        key = item["key"]
        if key not in CONNECTED | DISCONNECTED | ROAMED:
            return
        mac = item.get("user") or item.get("guest")
        client = self.tracked.get(mac) if isinstance(mac, str) else None
        if client is None:
            return
        now = time.time()
        if key in CONNECTED:
            client.connected, kind = True, "client_connected"
            self.last_home[client.mac] = now
        elif key in DISCONNECTED:
            client.connected, kind = False, "client_disconnected"
            self.last_home[client.mac] = now
        else:
            kind = "client_roamed"
            ap_to = item.get("ap_to")
            if isinstance(ap_to, str):
                client.ap_mac = ap_to.lower()
        await self._client_changed(client)
        data = {k: item[k] for k in ("ap", "ap_from", "ap_to", "ssid", "hostname", "sw", "msg")
                if isinstance(item.get(k), str)}
        event_id = item.get("_id")
        await self.ctx.device_event(self.ids.get(client.mac, "tracker"), kind, {"mac": client.mac, **data},
                                    event_id=event_id if isinstance(event_id, str) else None)

    async def _client_changed(self, client: ClientRecord) -> None:
        self.tracked[client.mac] = client
        if client.connected or client.mac not in self.clients_by_mac:
            self.clients_by_mac[client.mac] = client
        await self.publish_client(client)

    # --- answers for the MCP tool `network_clients` ---------------------------

    def clients(self) -> list[dict[str, Any]]:
        """Every client from the last poll (connected ones and known blocked/named ones)."""
        now = time.time()
        out = []
        for mac in sorted(self.clients_by_mac):
            c = self.clients_by_mac[mac]
            seen = max(c.last_seen or 0.0, self.last_home.get(mac, 0.0))
            out.append({"mac": mac, "name": c.label, "hostname": c.hostname, "ip": c.ip,
                        "wired": c.is_wired, "essid": c.essid, "ap_mac": c.ap_mac, "connected": c.connected,
                        "home": self.is_home(c, now), "blocked": c.blocked,
                        "last_seen": to_iso(int(seen * 1_000_000)) if seen else None,
                        "entity_id": self.ids.get(mac, "tracker")})
        return out

    def devices(self) -> list[dict[str, Any]]:
        """Access points, switches and gateways with their state, load and client counts."""
        return [{"mac": d.mac, "name": d.name, "kind": d.kind, "model": d.model, "state": d.state,
                 "uptime_s": d.uptime, "clients": d.clients, "cpu": d.cpu, "memory": d.memory,
                 "version": d.version, "ip": d.ip, "entity_id": self.ids.get(d.mac, "state")}
                for d in sorted(self.devices_by_mac.values(), key=lambda d: d.name)]

    def health(self) -> dict[str, Any]:
        """Controller and site health: status, WAN, subsystems, client counts, last speed test."""
        connected = [c for c in self.clients_by_mac.values() if c.connected]
        wired = sum(1 for c in connected if c.is_wired)
        h = self.site_health
        return {"integration": self.id, "status": self.ctx.last_status, "controller": self.config.host,
                "kind": self.client.kind if self.client and self.client.unifi_os is not None else None,
                "version": self.sysinfo.get("version"), "websocket": self.websocket_connected,
                "wan": {"status": h.wan_status, "ip": h.wan_ip, "isp": h.isp,
                        "download_mbps": ent.mbit(h.rx_rate), "upload_mbps": ent.mbit(h.tx_rate)},
                "subsystems": dict(h.subsystems or {}),
                "clients": {"total": len(connected), "wired": wired, "wireless": len(connected) - wired,
                            "tracked": len(self.tracked)},
                "devices": len(self.devices_by_mac),
                "speedtest": self.speedtest_result or ({"download_mbps": h.download, "upload_mbps": h.upload,
                                                        "ping_ms": h.latency} if h.download is not None else None)}


def _first_hub_error(group: BaseExceptionGroup[Any]) -> BaseException:
    """The first HubError in a task group's failure (the others are its consequences), else the group."""
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            inner = _first_hub_error(exc)
            if isinstance(inner, HubError):
                return inner
        elif isinstance(exc, HubError):
            return exc
    return group
