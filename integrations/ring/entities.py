"""Which entities a Ring device gets, and their states from the device's data.

Per device (object id = the device's name, slugged): battery, connection, firmware and
Wi-Fi sensors; a motion-detection switch and a volume number where the device has them;
a light and a siren where present; event entities for ding, motion (and unlock on
intercoms); a camera carrying the latest recording; a test-sound button on chimes.
Kinds ring-doorbell does not model get the generic sensors only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ring_doorbell.const import RingCapability

from hub.integration import DeviceInfo, EntityInfo
from integrations.ring.devices import RingDevice

# Roles whose state comes from the device data (polled); the others are set by events.
POLLED = ("battery", "connection", "firmware", "wifi_signal", "motion_detection", "volume", "light", "siren")
EVENT_ROLES = {"ding": "ding", "motion": "motion", "intercom_unlock": "unlock"}


@dataclass(frozen=True, slots=True)
class Spec:
    """One entity of a device: its id, what it shows, and the registry entry."""

    entity_id: str
    role: str
    info: EntityInfo


def _device_info(dev: RingDevice, instance_id: str) -> DeviceInfo:
    return DeviceInfo(id=f"{instance_id}_{dev.api_id}", name=dev.name, manufacturer="Ring", model=dev.model,
                      sw_version=dev.firmware,
                      connections=[["mac", str(dev.attrs["device_id"])]] if dev.attrs.get("device_id") else [])


def entity_specs(dev: RingDevice, instance_id: str) -> list[Spec]:
    """The entities of one device, checked against its capabilities."""
    device = _device_info(dev, instance_id)
    slug = dev.slug
    specs: list[Spec] = []

    def add(domain: str, suffix: str, role: str, name: str, **info: Any) -> None:
        entity_id = f"{domain}.{slug}_{suffix}" if suffix else f"{domain}.{slug}"
        specs.append(Spec(entity_id, role, EntityInfo(entity_id, name=f"{dev.name} {name}".strip(),
                                                      device=device, **info)))

    if dev.battery is not None or dev.has(RingCapability.BATTERY):
        add("sensor", "battery", "battery", "battery", unit="%", device_class="battery")
    add("sensor", "connection", "connection", "connection", icon="mdi:wifi-check",
        capabilities={"options": ["online", "offline"]})
    add("sensor", "firmware", "firmware", "firmware", icon="mdi:chip")
    if dev.generic:
        return specs
    add("sensor", "wifi_signal", "wifi_signal", "Wi-Fi signal", unit="dBm", device_class="signal_strength")
    if dev.has(RingCapability.MOTION_DETECTION) and dev.motion_detection is not None:
        add("switch", "motion_detection", "motion_detection", "motion detection", icon="mdi:motion-sensor")
    if dev.has_volume:
        low, high = dev.volume_range
        add("number", "volume", "volume", "volume", icon="mdi:volume-high",
            capabilities={"min": low, "max": high, "step": 1})
    if dev.has(RingCapability.LIGHT):
        add("light", "light", "light", "light")
    if dev.has(RingCapability.SIREN):
        low, high = 1, 120
        add("siren", "siren", "siren", "siren", capabilities={"duration": {"min": low, "max": high, "default": 30}})
    if dev.has(RingCapability.DING) or dev.is_intercom:
        add("event", "ding", "ding", "ding", device_class="doorbell", capabilities={"event_types": ["ding"]})
    if dev.has(RingCapability.MOTION_DETECTION):
        add("event", "motion", "motion", "motion", device_class="motion", capabilities={"event_types": ["motion"]})
    if dev.is_intercom:
        add("event", "unlock", "unlock", "unlock", capabilities={"event_types": ["intercom_unlock"]})
    if dev.has(RingCapability.VIDEO):
        add("camera", "", "camera", "", capabilities={"recordings": dev.has_subscription})
    if dev.is_chime:
        add("button", "test_sound", "test_sound", "test sound",
            capabilities={"commands": ["press", "ring.test_sound"], "kinds": ["ding", "motion"]})
    return specs


def polled_state(dev: RingDevice, role: str) -> tuple[object, dict[str, Any]]:
    """State and attributes of a polled entity from the device's current data."""
    base: dict[str, Any] = {"friendly_name": dev.name, "ring_kind": dev.kind}
    if role == "battery":
        return _or_unknown(dev.battery), {**base, "unit_of_measurement": "%", "device_class": "battery"}
    if role == "connection":
        return dev.connection or "unknown", base
    if role == "firmware":
        return dev.firmware or "unknown", {**base, "model": dev.model}
    if role == "wifi_signal":
        health = dev.health
        signal = health.get("latest_signal_strength")
        attrs = {**base, "unit_of_measurement": "dBm", "device_class": "signal_strength"}
        for key, name in (("wifi_name", "wifi_name"), ("latest_signal_category", "signal_category")):
            if isinstance(health.get(key), str):
                attrs[name] = health[key]
        return (signal if isinstance(signal, (int, float)) and not isinstance(signal, bool) else "unknown"), attrs
    if role == "motion_detection":
        return _or_unknown(dev.motion_detection), base
    if role == "volume":
        low, high = dev.volume_range
        return _or_unknown(dev.volume), {**base, "min": low, "max": high, "step": 1}
    if role == "light":
        return dev.light_on, base
    if role == "siren":
        seconds = dev.siren_seconds
        return seconds > 0, {**base, "seconds_remaining": seconds}
    raise ValueError(f"not a polled role: {role}")


def _or_unknown(value: object) -> object:
    return "unknown" if value is None else value
