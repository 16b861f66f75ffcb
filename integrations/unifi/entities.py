"""Entity ids, registry entries and states for UniFi clients, devices and the site.

Each entity remembers the MAC and role it stands for in its registry capabilities,
so that an entity keeps its id across restarts and renames: the id is chosen from
the name the first time a MAC is seen, with `_2`, `_3` on a clash.
"""

from __future__ import annotations

import re
from typing import Any

from hub import events as ev
from hub.integration import DeviceInfo, EntityInfo

from .records import ClientRecord, DeviceRecord

# Roles of per-client and per-device entities: (domain, suffix, name suffix, unit, device_class).
CLIENT_ROLES = {
    "tracker": ("device_tracker", "", "", None, None),
    "network": ("switch", "_network", " network access", None, None),
}
DEVICE_ROLES = {
    "state": ("sensor", "_state", " state", None, "enum"),
    "uptime": ("sensor", "_uptime", " uptime", "s", "duration"),
    "clients": ("sensor", "_clients", " clients", None, None),
    "cpu": ("sensor", "_cpu", " CPU", "%", None),
    "memory": ("sensor", "_memory", " memory", "%", None),
}
SITE_ROLES = {
    "clients_wired": ("sensor", "_clients_wired", "wired clients", None, None),
    "clients_wireless": ("sensor", "_clients_wireless", "wireless clients", None, None),
    "wan_status": ("sensor", "_wan_status", "WAN status", None, "enum"),
    "wan_download": ("sensor", "_wan_download", "WAN download", "Mbit/s", "data_rate"),
    "wan_upload": ("sensor", "_wan_upload", "WAN upload", "Mbit/s", "data_rate"),
    "speedtest_download": ("sensor", "_speedtest_download", "speed test download", "Mbit/s", "data_rate"),
    "speedtest_upload": ("sensor", "_speedtest_upload", "speed test upload", "Mbit/s", "data_rate"),
    "speedtest_ping": ("sensor", "_speedtest_ping", "speed test ping", "ms", "duration"),
}


def slug(text: str) -> str:
    """Home Assistant's slug: lowercase, runs of anything else as one underscore."""
    out = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return out[:64].rstrip("_")


class EntityIds:
    """Stable entity ids keyed by (mac or site, role)."""

    def __init__(self, instance_id: str) -> None:
        self.instance_id = instance_id
        self.site = slug(instance_id) or "unifi"
        self.by_key: dict[tuple[str, str], str] = {}
        self.keys: dict[str, tuple[str, str]] = {}

    def load(self, registry: dict[str, dict[str, Any]]) -> None:
        """Adopt the ids this instance registered before (from the log's registry)."""
        for entity_id, entry in registry.items():
            info = entry.get("info") or {}
            if info.get("integration") != self.instance_id:
                continue
            caps = info.get("capabilities") or {}
            owner, role = caps.get("unifi_key"), caps.get("unifi_role")
            if isinstance(owner, str) and isinstance(role, str):
                self._remember((owner, role), entity_id)

    def _remember(self, key: tuple[str, str], entity_id: str) -> None:
        self.by_key[key] = entity_id
        self.keys[entity_id] = key

    def get(self, owner: str, role: str) -> str | None:
        return self.by_key.get((owner, role))

    def allocate(self, owner: str, role: str, domain: str, base: str, taken: Any = ()) -> str:
        """The entity id of (owner, role), choosing `domain.base` (or `_2`, `_3`, ...) once."""
        known = self.by_key.get((owner, role))
        if known is not None:
            return known
        base = base or f"unifi_{owner.replace(':', '')}"
        candidate, n = f"{domain}.{base}", 2
        while candidate in self.keys or candidate in taken or not ev.is_entity_id(candidate):
            if not ev.is_entity_id(candidate):
                base = f"unifi_{owner.replace(':', '')}"
                candidate = f"{domain}.{base}"
                continue
            candidate, n = f"{domain}.{base}_{n}", n + 1
        self._remember((owner, role), candidate)
        return candidate


def client_info(entity_id: str, client: ClientRecord, role: str, instance_id: str) -> EntityInfo:
    _, _, name_suffix, unit, device_class = CLIENT_ROLES[role]
    device = DeviceInfo(id=f"{instance_id}_{client.mac.replace(':', '')}", name=client.label,
                        manufacturer=client.oui, connections=[["mac", client.mac]])
    capabilities: dict[str, Any] = {"unifi_key": client.mac, "unifi_role": role}
    if role == "tracker":
        capabilities["commands"] = ["unifi.block_client", "unifi.unblock_client", "unifi.kick_client"]
    return EntityInfo(entity_id, name=f"{client.label}{name_suffix}", device=device, unit=unit,
                      device_class=device_class, capabilities=capabilities)


def client_attributes(client: ClientRecord) -> dict[str, Any]:
    """Attributes that change rarely (no last_seen, no byte counters: they would log every poll)."""
    attrs: dict[str, Any] = {"friendly_name": client.label, "source_type": "router", "mac": client.mac,
                             "is_wired": client.is_wired}
    for key in ("ip", "hostname", "essid", "ap_mac", "sw_mac"):
        value = getattr(client, key)
        if value:
            attrs[key] = value
    return attrs


def device_info(entity_id: str, device: DeviceRecord, role: str, instance_id: str) -> EntityInfo:
    _, _, name_suffix, unit, device_class = DEVICE_ROLES[role]
    info = DeviceInfo(id=f"{instance_id}_{device.mac.replace(':', '')}", name=device.name, manufacturer="Ubiquiti",
                      model=device.model, sw_version=device.version, connections=[["mac", device.mac]])
    return EntityInfo(entity_id, name=f"{device.name}{name_suffix}", device=info, unit=unit,
                      device_class=device_class,
                      capabilities={"unifi_key": device.mac, "unifi_role": role, "commands": ["unifi.restart_device"]})


def device_states(device: DeviceRecord) -> dict[str, object]:
    cpu = round(device.cpu, 1) if device.cpu is not None else None
    memory = round(device.memory, 1) if device.memory is not None else None
    return {"state": device.state, "uptime": int(device.uptime) if device.uptime is not None else None,
            "clients": device.clients, "cpu": cpu, "memory": memory}


def site_info(entity_id: str, role: str, instance_id: str) -> EntityInfo:
    _, _, name, unit, device_class = SITE_ROLES[role]
    capabilities: dict[str, Any] = {"unifi_key": "site", "unifi_role": role}
    if role.startswith("speedtest"):
        capabilities["commands"] = ["unifi.speedtest"]
    return EntityInfo(entity_id, name=f"UniFi {name}", unit=unit, device_class=device_class,
                      capabilities=capabilities)


def mbit(bytes_per_second: float | None) -> float | None:
    return None if bytes_per_second is None else round(bytes_per_second * 8 / 1_000_000, 3)
