"""Presence: who is on the network, from DHCP leases, wireless registrations and ARP,
with a consider-home delay before a client that stopped showing up counts as away."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub.integration import EntityInfo
from hub.times import to_iso
from integrations.routeros.entities import Bad
from integrations.routeros.polling import Snapshot
from integrations.routeros.values import parse_duration, parse_ip, parse_mac, slug

Row = dict[str, str]
_ARP_LIVE = {"reachable", "delay", "probe"}


@dataclass
class Client:
    mac: str
    ip: str | None = None
    host_name: str | None = None
    comment: str | None = None
    interface: str | None = None
    ssid: str | None = None
    signal: str | None = None
    sources: list[str] = field(default_factory=list)
    last_seen: int | None = None
    home: bool = False


class Presence:
    """The clients one router has seen, and whether each is home."""

    def __init__(self, instance_id: str, consider_home: float) -> None:
        self.instance_id = instance_id
        self.prefix = slug(instance_id)
        self.consider_home_us = int(consider_home * 1_000_000)
        self.clients: dict[str, Client] = {}
        self.bad: list[Bad] = []

    def _mac(self, row: Row, menu: str) -> str | None:
        raw = row.get("mac-address")
        if raw is None:
            return None
        try:
            return parse_mac(raw)
        except ValueError as exc:
            self.bad.append(Bad(f"routeros {self.instance_id} /{menu}", f"mac-address: {exc}", row))
            return None

    def _ip(self, row: Row, key: str, menu: str) -> str | None:
        raw = row.get(key)
        if not raw:
            return None
        try:
            return parse_ip(raw)
        except ValueError as exc:
            self.bad.append(Bad(f"routeros {self.instance_id} /{menu}", f"{key}: {exc}", row))
            return None

    def update(self, snap: Snapshot, now: int) -> list[Client]:
        """Fold a snapshot in; returns every known client with its current presence."""
        self.bad = []
        seen: dict[str, list[str]] = {}
        for row in snap.leases or []:
            mac = self._mac(row, "ip/dhcp-server/lease")
            if mac is None:
                continue
            client = self.clients.setdefault(mac, Client(mac))
            client.ip = self._ip(row, "active-address", "ip/dhcp-server/lease") or self._ip(
                row, "address", "ip/dhcp-server/lease") or client.ip
            client.host_name = row.get("host-name") or client.host_name
            client.comment = row.get("comment") or client.comment
            if row.get("status") == "bound" and self._recent(row):
                seen.setdefault(mac, []).append("dhcp")
        for row in snap.wireless or []:
            mac = self._mac(row, snap.wireless_menu or "wireless")
            if mac is None:
                continue
            client = self.clients.setdefault(mac, Client(mac))
            client.interface = row.get("interface") or client.interface
            client.ssid = row.get("ssid") or client.ssid
            client.signal = row.get("signal") or row.get("signal-strength") or client.signal
            client.ip = self._ip(row, "last-ip", snap.wireless_menu or "wireless") or client.ip
            seen.setdefault(mac, []).append("wireless")
        for row in snap.arp or []:
            if row.get("dynamic") != "true" or row.get("invalid") == "true":
                continue
            status = row.get("status")
            live = status in _ARP_LIVE if status is not None else row.get("complete") == "true"
            mac = self._mac(row, "ip/arp")
            if mac is None:
                continue
            client = self.clients.setdefault(mac, Client(mac))
            client.ip = self._ip(row, "address", "ip/arp") or client.ip
            client.interface = client.interface or row.get("interface")
            if live:
                seen.setdefault(mac, []).append("arp")
        for mac, client in self.clients.items():
            if mac in seen:
                client.sources, client.last_seen, client.home = seen[mac], now, True
            else:
                client.sources = []
                client.home = client.last_seen is not None and now - client.last_seen <= self.consider_home_us
        return list(self.clients.values())

    def _recent(self, row: Row) -> bool:
        """A bound lease counts only while the client talked DHCP within consider_home."""
        raw = row.get("last-seen")
        if raw is None or raw == "never":
            return raw is None
        try:
            return parse_duration(raw) * 1_000_000 <= self.consider_home_us
        except ValueError as exc:
            self.bad.append(Bad(f"routeros {self.instance_id} /ip/dhcp-server/lease", f"last-seen: {exc}", row))
            return False

    def entity(self, client: Client) -> EntityInfo:
        name = client.host_name or client.comment or client.mac
        return EntityInfo(self.entity_id(client), name=name, icon="mdi:lan-connect")

    def entity_id(self, client: Client) -> str:
        return f"device_tracker.{self.prefix}_{client.mac.replace(':', '').lower()}"

    def attributes(self, client: Client) -> dict[str, Any]:
        """The tracker's attributes: only what rarely changes (signal and last seen go to clients())."""
        attrs: dict[str, Any] = {"source_type": "router", "mac": client.mac, "ip": client.ip,
                                 "host_name": client.host_name, "interface": client.interface,
                                 "ssid": client.ssid, "router": self.instance_id}
        return {k: v for k, v in attrs.items() if v not in (None, "")}

    def as_dicts(self) -> list[dict[str, Any]]:
        """Every client as plain data, for the MCP `network_clients` tool."""
        return [{"entity_id": self.entity_id(c), "name": c.host_name or c.comment or c.mac,
                 "state": "home" if c.home else "not_home", **self.attributes(c),
                 "signal": c.signal, "sources": list(c.sources), "last_seen": to_iso(c.last_seen)}
                for c in sorted(self.clients.values(), key=lambda c: c.mac)]
