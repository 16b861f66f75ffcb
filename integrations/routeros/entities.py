"""A snapshot of a router as entities: sensors, binary sensors and interface switches.

Pure: no I/O. Values that are not what their field claims come back as `Bad` items for
ctx.reject; the entity is left as it was and the rest of the snapshot goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hub.integration import DeviceInfo, EntityInfo
from integrations.routeros.polling import Snapshot
from integrations.routeros.values import parse_bool, parse_duration, parse_float, parse_int, parse_size, slug

Row = dict[str, str]
MAX_LIST_ENTRIES = 50
_HEALTH_UNITS = {"C": "°C", "V": "V", "A": "A", "W": "W", "RPM": "RPM", "%": "%"}
_HEALTH_GUESS = {"temperature": "°C", "voltage": "V", "current": "mA", "power": "W", "fan": "RPM"}


@dataclass
class Report:
    info: EntityInfo
    state: object
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Bad:
    origin: str
    reason: str
    excerpt: object


@dataclass
class Interface:
    """What the integration knows of one interface between polls."""

    name: str
    object_id: str
    disabled: bool = False
    counters: tuple[int, int, float] | None = None


class RouterEntities:
    """Turns snapshots of one router into entity reports; keeps counters for rates."""

    def __init__(self, instance_id: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.prefix = slug(instance_id)
        self.instance_id = instance_id
        self.clock = clock
        self.device = DeviceInfo(id=f"routeros_{self.prefix}", manufacturer="MikroTik")
        self.interfaces: dict[str, Interface] = {}  # by RouterOS name
        self._object_ids: set[str] = set()
        self._lists_seen: set[str] = set()
        self.bad: list[Bad] = []

    def _entity(self, domain: str, suffix: str, name: str, **kw: Any) -> EntityInfo:
        return EntityInfo(f"{domain}.{self.prefix}_{suffix}", name=name, device=self.device, **kw)

    def _parse(self, parse: Callable[[str], Any], row: Row, key: str, menu: str) -> Any:
        """row[key] through parse; None (and a Bad) when the value is not what it claims."""
        raw = row.get(key)
        if raw is None:
            return None
        try:
            return parse(raw)
        except ValueError as exc:
            self.bad.append(Bad(f"routeros {self.instance_id} /{menu}", f"{key}: {exc}", row))
            return None

    def reports(self, snap: Snapshot) -> list[Report]:
        self.bad = []
        out: list[Report] = []
        out += self._resource(snap.resource)
        out += self._health(snap.health)
        out += self._interfaces(snap.interfaces)
        out += self._counts(snap)
        out += self._address_lists(snap.address_lists)
        out += self._settings(snap)
        return out

    def _resource(self, res: Row) -> list[Report]:
        menu = "system/resource"
        self.device.name = self.instance_id
        self.device.model = res.get("board-name")
        self.device.sw_version = res.get("version")
        out = []
        cpu = self._parse(parse_int, res, "cpu-load", menu)
        if cpu is not None:
            out.append(Report(self._entity("sensor", "cpu_load", "CPU load", unit="%"), cpu))
        free = self._parse(parse_size, res, "free-memory", menu)
        total = self._parse(parse_size, res, "total-memory", menu)
        if free is not None and total:
            out.append(Report(self._entity("sensor", "memory_used", "Memory used", unit="%"),
                              round(100 * (total - free) / total, 1), {"free_bytes": free, "total_bytes": total}))
        uptime = self._parse(parse_duration, res, "uptime", menu)
        if uptime is not None:
            out.append(Report(self._entity("sensor", "uptime", "Uptime", unit="s", device_class="duration"),
                              int(uptime)))
        if res.get("version"):
            out.append(Report(self._entity("sensor", "version", "RouterOS version"), res["version"][:100], {
                k.replace("-", "_"): res[k] for k in ("board-name", "architecture-name", "platform") if k in res}))
        return out

    def _health(self, rows: list[Row]) -> list[Report]:
        out = []
        for row in rows:
            if "name" in row and "value" in row:  # RouterOS 7: one row per sensor
                items = [(row["name"], row["value"], _HEALTH_UNITS.get(row.get("type", "")))]
            else:  # RouterOS 6: one row, one property per sensor
                items = [(k, v, next((u for w, u in _HEALTH_GUESS.items() if w in k), None))
                         for k, v in row.items() if not k.startswith(".")]
            for name, value, unit in items:
                info = self._entity("sensor", slug(name), name.replace("-", " ").capitalize(), unit=unit)
                if unit is None:
                    out.append(Report(info, value[:100]))
                    continue
                number = self._parse(parse_float, {name: value}, name, "system/health")
                if number is not None:
                    out.append(Report(info, number))
        return out

    def _interfaces(self, rows: list[Row]) -> list[Report]:
        out: list[Report] = []
        now = self.clock()
        for row in rows:
            name = row.get("name")
            if not name or row.get("dynamic") == "true":
                continue  # dynamic interfaces (PPP, tunnels) come and go and cannot be disabled
            iface = self.interfaces.get(name)
            if iface is None:
                iface = Interface(name, self._unique(slug(name)))
                self.interfaces[name] = iface
            disabled = self._parse(parse_bool, row, "disabled", "interface")
            running = self._parse(parse_bool, row, "running", "interface")
            attrs = {"name": name, "type": row.get("type"), "mac_address": row.get("mac-address"),
                     "comment": row.get("comment"), "running": running}
            attrs = {k: v for k, v in attrs.items() if v is not None}
            if disabled is not None:
                iface.disabled = disabled
                out.append(Report(self._entity("switch", iface.object_id, f"{name}", icon="mdi:ethernet",
                                               capabilities={"approval_required": ["turn_off"]}),
                                  not disabled, attrs))
            if running is not None:
                out.append(Report(self._entity("binary_sensor", f"{iface.object_id}_running", f"{name} running",
                                               device_class="connectivity"), running))
            rx = self._parse(parse_int, row, "rx-byte", "interface")
            tx = self._parse(parse_int, row, "tx-byte", "interface")
            if rx is None or tx is None:
                continue
            previous, iface.counters = iface.counters, (rx, tx, now)
            if previous is None or now <= previous[2] or rx < previous[0] or tx < previous[1]:
                continue  # first sight, or the counters were reset: no rate this round
            elapsed = now - previous[2]
            for key, value, before in (("rx", rx, previous[0]), ("tx", tx, previous[1])):
                out.append(Report(self._entity("sensor", f"{iface.object_id}_{key}_rate", f"{name} {key} rate",
                                               unit="bit/s", device_class="data_rate"),
                                  int((value - before) * 8 / elapsed)))
        return out

    def _unique(self, base: str) -> str:
        candidate, n = base, 2
        while candidate in self._object_ids:
            candidate, n = f"{base}_{n}", n + 1
        self._object_ids.add(candidate)
        return candidate

    def _counts(self, snap: Snapshot) -> list[Report]:
        out = []
        if snap.leases is not None:
            bound = sum(1 for row in snap.leases if row.get("status") == "bound")
            out.append(Report(self._entity("sensor", "dhcp_leases", "DHCP leases bound"), bound,
                              {"leases": len(snap.leases)}))
        if snap.wireless is not None:
            out.append(Report(self._entity("sensor", "wireless_clients", "Wireless clients"), len(snap.wireless),
                              {"menu": "/" + (snap.wireless_menu or "")}))
        return out

    def _address_lists(self, rows: list[Row] | None) -> list[Report]:
        if rows is None:
            return []
        lists: dict[str, list[str]] = {}
        for row in rows:
            if row.get("list") and row.get("address"):
                lists.setdefault(row["list"], []).append(row["address"])
        self._lists_seen |= set(lists)
        out = []
        for name in sorted(self._lists_seen):
            addresses = lists.get(name, [])
            out.append(Report(self._entity("sensor", f"address_list_{slug(name)}", f"Address list {name}"),
                              len(addresses), {"list": name, "addresses": addresses[:MAX_LIST_ENTRIES],
                                               "truncated": len(addresses) > MAX_LIST_ENTRIES}))
        return out

    def _settings(self, snap: Snapshot) -> list[Report]:
        out = []
        if snap.dns is not None:
            dns = snap.dns
            allow = self._parse(parse_bool, dns, "allow-remote-requests", "ip/dns")
            attrs = {"dynamic_servers": dns.get("dynamic-servers", ""), "allow_remote_requests": allow,
                     "cache_used": dns.get("cache-used")}
            present = {k: v for k, v in attrs.items() if v is not None}
            out.append(Report(self._entity("sensor", "dns_servers", "DNS servers"),
                              dns.get("servers", "")[:255] or "none", present))
        if snap.ntp is not None:
            ntp = snap.ntp
            enabled = self._parse(parse_bool, ntp, "enabled", "system/ntp/client")
            servers = ntp.get("servers") or ",".join(
                v for k in ("primary-ntp", "secondary-ntp") if (v := ntp.get(k, "")) and v != "0.0.0.0")
            state = ntp.get("status") or ("enabled" if enabled else "disabled")
            out.append(Report(self._entity("sensor", "ntp", "NTP client"), state[:100],
                              {"enabled": enabled, "servers": servers, "mode": ntp.get("mode")}))
        return out

    def interface_for(self, entity_id: str) -> Interface | None:
        for iface in self.interfaces.values():
            if entity_id == f"switch.{self.prefix}_{iface.object_id}":
                return iface
        return None
