"""Home Assistant MQTT discovery: `<prefix>/<component>/[<node_id>/]<object_id>/config` messages.

A message is parsed into entities (one, or several for device-based discovery
`<prefix>/device/<object_id>/config` with `cmps`), or rejected with the reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hub.errors import InputRejected
from integrations.mqtt.abbreviations import expand
from integrations.mqtt.entities import PLATFORMS, MqttEntity, parse_entity

# Keys of a device-based discovery message that every component shares unless it overrides them.
_SHARED = ("device", "origin", "availability", "availability_topic", "availability_mode",
           "availability_template", "payload_available", "payload_not_available", "qos", "state_topic",
           "command_topic", "~", "encoding")


@dataclass(frozen=True, slots=True)
class DiscoveryTopic:
    component: str
    node_id: str | None
    object_id: str

    @property
    def fallback_name(self) -> str:
        return f"{self.node_id} {self.object_id}" if self.node_id else self.object_id


def parse_topic(prefix: str, topic: str) -> DiscoveryTopic | None:
    """The parts of a discovery config topic, or None if `topic` is not one."""
    if not topic.startswith(prefix + "/") or not topic.endswith("/config"):
        return None
    parts = topic[len(prefix) + 1:].split("/")
    if len(parts) == 3:
        return DiscoveryTopic(parts[0], None, parts[1])
    if len(parts) == 4:
        return DiscoveryTopic(parts[0], parts[1], parts[2])
    return None


def parse_message(topic: str, where: DiscoveryTopic, payload: bytes) -> list[tuple[str, MqttEntity]]:
    """(key, entity) pairs from a non-empty discovery payload; key is the topic, or topic#component."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise InputRejected("discovery payload is not UTF-8") from None
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise InputRejected(f"discovery payload is not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise InputRejected(f"discovery payload must be a JSON object, not {type(raw).__name__}")
    if where.component == "device":
        return _device_message(topic, raw)
    if where.component not in PLATFORMS:
        raise InputRejected(f"unknown component {where.component!r} (supported: {', '.join(PLATFORMS)})")
    return [(topic, _entity(where.component, expand(raw), topic))]


def _entity(platform: str, config: dict[str, Any], origin: str) -> MqttEntity:
    try:
        return parse_entity(platform, config, origin)
    except ValueError as exc:
        raise InputRejected(f"invalid {platform} discovery config: {exc}") from None


def _device_message(topic: str, raw: dict[str, Any]) -> list[tuple[str, MqttEntity]]:
    config = expand(raw)
    components = raw.get("cmps", raw.get("components"))
    if not isinstance(components, dict) or not components:
        raise InputRejected("device discovery needs `cmps`, an object of components")
    if not isinstance(config.get("device"), dict):
        raise InputRejected("device discovery needs `dev`, the device object")
    shared = {k: config[k] for k in _SHARED if k in config}
    out: list[tuple[str, MqttEntity]] = []
    for key, comp in components.items():
        if not isinstance(comp, dict):
            raise InputRejected(f"component {key!r} must be an object")
        if set(comp) <= {"p", "platform"}:
            continue  # a component with only its platform is being removed
        comp_cfg = {**shared, **expand({**raw_shared_abbrev(raw), **comp})}
        platform = comp_cfg.pop("platform", comp_cfg.pop("p", None))
        if not isinstance(platform, str) or platform not in PLATFORMS:
            raise InputRejected(f"component {key!r}: unknown platform {platform!r}")
        out.append((f"{topic}#{key}", _entity(platform, comp_cfg, f"{topic}#{key}")))
    return out


def raw_shared_abbrev(raw: dict[str, Any]) -> dict[str, Any]:
    """The `~` base topic of a device message, so that components' `~/...` topics expand."""
    return {"~": raw["~"]} if isinstance(raw.get("~"), str) else {}
