"""The controller's JSON reduced to the few fields the hub uses; a bad entry raises InputRejected.

The controller sends hundreds of fields per client; only these are kept, so that
ten thousand clients stay a few megabytes. Unknown fields are ignored (the API
grows with every release); a field the hub uses with the wrong type rejects that
one entry, never the whole poll.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from hub.errors import InputRejected

_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")

# stat/device `state`: the controller's numeric device states.
DEVICE_STATES = {0: "disconnected", 1: "connected", 2: "pending", 4: "upgrading", 5: "provisioning",
                 6: "heartbeat_missed", 7: "adopting", 9: "adoption_failed", 10: "isolated", 11: "isolated"}
DEVICE_KINDS = {"uap": "access_point", "usw": "switch", "ugw": "gateway", "udm": "gateway", "uxg": "gateway"}


def mac_of(raw: dict[str, Any], key: str = "mac") -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not _MAC.match(value.lower()):
        raise InputRejected(f"`{key}` is missing or not a MAC address ({value!r:.40})")
    return value.lower()


def _opt(raw: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) and kind is not bool and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise InputRejected(f"`{key}` is {value!r}, not {_names(kind)}")
    if not isinstance(value, kind):
        raise InputRejected(f"`{key}` is {type(value).__name__} {value!r:.40}, not {_names(kind)}")
    return value


def _names(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


def _number(raw: dict[str, Any], key: str) -> float | None:
    value = raw.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InputRejected(f"`{key}` is {value!r}, not a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputRejected(f"`{key}` is {value!r:.40}, not a number") from None


def _short(value: str | None, limit: int = 128) -> str | None:
    return value[:limit] if value else None


@dataclass(slots=True)
class ClientRecord:
    """A client (station) as stat/sta or rest/user describes it."""

    mac: str
    name: str | None = None
    hostname: str | None = None
    ip: str | None = None
    is_wired: bool = False
    essid: str | None = None
    ap_mac: str | None = None
    sw_mac: str | None = None
    last_seen: float | None = None
    blocked: bool = False
    noted: bool = False
    connected: bool = False
    oui: str | None = None

    @property
    def label(self) -> str:
        return self.name or self.hostname or self.mac


def parse_client(raw: object, *, connected: bool) -> ClientRecord:
    """One entry of stat/sta (connected) or rest/user (known)."""
    if not isinstance(raw, dict):
        raise InputRejected(f"a client entry is {type(raw).__name__}, not an object")
    return ClientRecord(
        mac=mac_of(raw),
        name=_short(_opt(raw, "name", str)),
        hostname=_short(_opt(raw, "hostname", str)),
        ip=_short(_opt(raw, "ip", str) or _opt(raw, "fixed_ip", str), 64),
        is_wired=bool(_opt(raw, "is_wired", bool)),
        essid=_short(_opt(raw, "essid", str), 64),
        ap_mac=mac_of(raw, "ap_mac") if raw.get("ap_mac") else None,
        sw_mac=mac_of(raw, "sw_mac") if raw.get("sw_mac") else None,
        last_seen=_number(raw, "last_seen"),
        blocked=bool(_opt(raw, "blocked", bool)),
        noted=bool(_opt(raw, "noted", bool)) or bool(raw.get("name")),
        connected=connected,
        oui=_short(_opt(raw, "oui", str), 64),
    )


def merge_known(active: ClientRecord, known: ClientRecord) -> ClientRecord:
    """An active client completed with what rest/user knows (name, blocked)."""
    active.name = active.name or known.name
    active.blocked = active.blocked or known.blocked
    active.noted = active.noted or known.noted
    active.hostname = active.hostname or known.hostname
    return active


@dataclass(slots=True)
class DeviceRecord:
    """An access point, switch or gateway from stat/device."""

    mac: str
    name: str
    type: str
    model: str | None
    state: str
    uptime: float | None
    clients: int | None
    cpu: float | None
    memory: float | None
    version: str | None
    ip: str | None

    @property
    def kind(self) -> str:
        return DEVICE_KINDS.get(self.type, self.type)


def parse_device(raw: object) -> DeviceRecord:
    if not isinstance(raw, dict):
        raise InputRejected(f"a device entry is {type(raw).__name__}, not an object")
    mac = mac_of(raw)
    kind = _opt(raw, "type", str)
    if kind is None:
        raise InputRejected("`type` is missing (uap, usw, ugw, udm, ...)")
    state = _opt(raw, "state", int)
    stats = raw.get("system-stats") or {}
    if not isinstance(stats, dict):
        raise InputRejected(f"`system-stats` is {type(stats).__name__}, not an object")
    clients = _opt(raw, "num_sta", int)
    return DeviceRecord(
        mac=mac,
        name=_short(_opt(raw, "name", str)) or f"{kind} {mac[-8:]}",
        type=kind[:16],
        model=_short(_opt(raw, "model", str), 32),
        state=DEVICE_STATES.get(state, "unknown") if state is not None else "unknown",
        uptime=_number(raw, "uptime"),
        clients=clients,
        cpu=_number(stats, "cpu"),
        memory=_number(stats, "mem"),
        version=_short(_opt(raw, "version", str), 32),
        ip=_short(_opt(raw, "ip", str), 64),
    )


@dataclass(slots=True)
class Health:
    """stat/health boiled down: WAN status and throughput, speed test, counts per subsystem."""

    wan_status: str = "unknown"
    wan_ip: str | None = None
    isp: str | None = None
    rx_rate: float | None = None
    tx_rate: float | None = None
    download: float | None = None
    upload: float | None = None
    latency: float | None = None
    subsystems: dict[str, str] | None = None


def parse_health(data: list[Any]) -> Health:
    health = Health(subsystems={})
    for entry in data:
        if not isinstance(entry, dict):
            raise InputRejected(f"a health entry is {type(entry).__name__}, not an object")
        name = _opt(entry, "subsystem", str)
        if name is None:
            raise InputRejected("a health entry has no `subsystem`")
        status = _opt(entry, "status", str) or "unknown"
        assert health.subsystems is not None
        health.subsystems[name[:32]] = status[:32]
        if name == "wan":
            health.wan_status = status[:32]
            health.wan_ip = _short(_opt(entry, "wan_ip", str), 64)
            health.isp = _short(_opt(entry, "isp_name", str), 64)
            health.rx_rate = _number(entry, "rx_bytes-r")
            health.tx_rate = _number(entry, "tx_bytes-r")
        elif name == "www":
            health.download = _number(entry, "xput_down")
            health.upload = _number(entry, "xput_up")
            health.latency = _number(entry, "latency")
    return health


@dataclass(slots=True)
class SpeedTest:
    """cmd/devmgr speedtest-status: `status_summary` 2 means finished."""

    running: bool
    rundate: float | None
    download: float | None
    upload: float | None
    latency: float | None


def parse_speedtest(data: list[Any]) -> SpeedTest:
    if not data or not isinstance(data[0], dict):
        raise InputRejected("speedtest-status answered no status object")
    raw = data[0]
    summary = _number(raw, "status_summary")
    return SpeedTest(running=summary not in (None, 0.0, 2.0), rundate=_number(raw, "rundate"),
                     download=_number(raw, "xput_download"), upload=_number(raw, "xput_upload"),
                     latency=_number(raw, "latency"))
