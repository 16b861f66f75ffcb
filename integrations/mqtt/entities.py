"""An MQTT entity (configured or discovered): its validated Home Assistant config and its live values.

Configured entities and discovery messages go through the same `parse_entity`, so
a key means the same in config.yaml as in a `homeassistant/.../config` payload.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from hub.integration import DeviceInfo, EntityInfo
from integrations.mqtt.templates import check_template

PLATFORMS = ("sensor", "binary_sensor", "switch", "light", "lock", "cover", "climate", "alarm_control_panel",
             "button", "event", "device_tracker", "siren", "number", "select", "fan")

# Keys each platform cannot work without (Home Assistant's required keys).
REQUIRED: dict[str, tuple[str, ...]] = {
    "sensor": ("state_topic",), "binary_sensor": ("state_topic",), "switch": ("command_topic",),
    "light": ("command_topic",), "lock": ("command_topic",), "alarm_control_panel": ("state_topic",
                                                                                    "command_topic"),
    "button": ("command_topic",), "event": ("state_topic", "event_types"), "siren": ("command_topic",),
    "number": ("command_topic",), "select": ("command_topic", "options"), "fan": ("command_topic",),
}

# Topics whose messages carry (part of) the entity's state, and the template that applies to each.
STATE_ROLES: dict[str, tuple[str, str]] = {
    "state_topic": ("state", "value_template"),
    "json_attributes_topic": ("attributes", "json_attributes_template"),
    "brightness_state_topic": ("brightness", "brightness_value_template"),
    "rgb_state_topic": ("rgb_color", "rgb_value_template"),
    "color_temp_state_topic": ("color_temp", "color_temp_value_template"),
    "position_topic": ("position", "position_template"),
    "current_temperature_topic": ("current_temperature", "current_temperature_template"),
    "temperature_state_topic": ("temperature", "temperature_state_template"),
    "mode_state_topic": ("mode", "mode_state_template"),
    "percentage_state_topic": ("percentage", "percentage_value_template"),
    "action_topic": ("hvac_action", "action_template"),
}

_BOOL_KEYS = {"retain", "optimistic", "force_update", "enabled_by_default", "code_arm_required",
              "code_disarm_required", "code_trigger_required", "brightness", "color_temp"}
_NUMBER_KEYS = {"min", "max", "step", "brightness_scale", "min_temp", "max_temp", "temp_step", "expire_after",
                "off_delay", "position_open", "position_closed", "min_mireds", "max_mireds",
                "speed_range_min", "speed_range_max"}
_LIST_KEYS = {"options", "event_types", "supported_color_modes", "modes", "effect_list", "preset_modes",
              "fan_modes", "available_tones"}
_STR_KEYS = {"name", "unique_id", "object_id", "default_entity_id", "unit_of_measurement", "device_class",
             "icon", "schema", "state_class", "entity_category", "availability_mode", "encoding", "code",
             "json_path", "platform", "temperature_unit"}


@dataclass(slots=True)
class Availability:
    topic: str
    payload_available: str = "online"
    payload_not_available: str = "offline"
    value_template: str | None = None


@dataclass(slots=True)
class MqttEntity:
    """One entity's config, where it came from, and what the broker last said of it."""

    platform: str
    config: dict[str, Any]
    origin: str                       # "config" or the discovery topic
    entity_id: str = ""
    device: DeviceInfo | None = None
    availability: list[Availability] = field(default_factory=list)
    # Live values, kept across reconnects so that an entity comes back with what it last had.
    value: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    available: dict[str, bool] = field(default_factory=dict)
    # static_attributes(self), made at the first state: config and device are fixed once parsed.
    static: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def name(self) -> str | None:
        name = self.config.get("name")
        return name if isinstance(name, str) else None

    @property
    def unique_id(self) -> str | None:
        uid = self.config.get("unique_id")
        return uid if isinstance(uid, str) else None

    @property
    def qos(self) -> int:
        return int(self.config.get("qos", 0))

    @property
    def retain(self) -> bool:
        return bool(self.config.get("retain", False))

    @property
    def optimistic(self) -> bool:
        """True when no state topic reports back, so a command sets the state itself."""
        return bool(self.config.get("optimistic", "state_topic" not in self.config))

    def state_topics(self) -> dict[str, list[str]]:
        """topic -> roles ('state', 'attributes', 'availability:<i>', ...) this entity listens for."""
        topics: dict[str, list[str]] = {}
        for key, (role, _tpl) in STATE_ROLES.items():
            topic = self.config.get(key)
            if isinstance(topic, str):
                topics.setdefault(topic, []).append(role)
        for i, av in enumerate(self.availability):
            topics.setdefault(av.topic, []).append(f"availability:{i}")
        return topics

    def is_available(self) -> bool:
        if not self.availability:
            return True
        known = [self.available.get(av.topic) for av in self.availability]
        mode = self.config.get("availability_mode", "latest")
        if mode == "all":
            return all(k is True for k in known)
        if mode == "any":
            return any(k is True for k in known)
        # latest: the most recent availability message decides; none yet means unavailable.
        return self.available.get("__latest__", False)

    def suggested_object_id(self, fallback: str) -> str:
        """Home Assistant's naming: object_id if given, else device name + entity name, slugged."""
        for key in ("object_id", "default_entity_id"):
            explicit = self.config.get(key)
            if isinstance(explicit, str) and explicit:
                return slug(explicit.split(".", 1)[-1])
        parts = []
        device_name = self.device.name if self.device else None
        if device_name:
            parts.append(device_name)
        name = self.name
        if name and not (device_name and name.lower().startswith(device_name.lower())):
            parts.append(name)
        elif name:
            parts = [name]
        return slug(" ".join(parts)) or slug(fallback) or "mqtt"

    def info(self, integration_area: str | None = None) -> EntityInfo:
        caps: dict[str, Any] = {"mqtt": {k: v for k, v in (("unique_id", self.unique_id),
                                                            ("origin", self.origin)) if v}}
        for key in ("options", "min", "max", "step", "event_types", "supported_color_modes", "modes",
                    "effect_list", "preset_modes", "state_class", "entity_category"):
            if key in self.config:
                caps[key] = self.config[key]
        return EntityInfo(
            entity_id=self.entity_id,
            name=self.name or (self.device.name if self.device else None),
            area=integration_area or (self.device.area if self.device else None),
            device=self.device,
            unit=self.config.get("unit_of_measurement"),
            device_class=self.config.get("device_class"),
            icon=self.config.get("icon"),
            capabilities=caps,
        )


def slug(text: str) -> str:
    """`Kitchen Sensor Temperature` -> `kitchen_sensor_temperature` (ASCII, [a-z0-9_])."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"_+", "_", re.sub(r"[^a-z0-9]+", "_", text)).strip("_")


def parse_entity(platform: str, raw: dict[str, Any], origin: str) -> MqttEntity:
    """Validate an expanded HA entity config; ValueError names the first bad key."""
    if platform not in PLATFORMS:
        raise ValueError(f"unknown component {platform!r} (supported: {', '.join(PLATFORMS)})")
    config = {k: _check_key(k, v) for k, v in raw.items() if k not in ("~", "origin", "device", "availability",
                                                                       "platform")}
    for key in REQUIRED.get(platform, ()):
        if key not in config:
            raise ValueError(f"{platform} needs `{key}`")
    if platform == "light" and config.get("schema", "default") not in ("default", "json", "basic"):
        raise ValueError(f"light schema {config['schema']!r} is not supported (default or json)")
    if platform in ("select",) and not config["options"]:
        raise ValueError("select needs at least one option")
    entity = MqttEntity(platform, config, origin)
    entity.device = _device(raw.get("device"))
    entity.availability = _availability(raw, config)
    return entity


def _check_key(key: str, value: Any) -> Any:
    if key == "topic" or key.endswith("_topic"):
        if not isinstance(value, str) or not value:
            raise ValueError(f"`{key}` must be a non-empty topic string, not {value!r}")
        if key.endswith("command_topic") and ("+" in value or "#" in value):
            raise ValueError(f"`{key}` {value!r} must not contain wildcards")
        return value
    if key.endswith("_template"):
        if not isinstance(value, str):
            raise ValueError(f"`{key}` must be a template string, not {type(value).__name__}")
        check_template(value)
        return value
    if key.startswith(("payload", "state_")) and not key.endswith(("_class",)):
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValueError(f"`{key}` must be a string or number, not {type(value).__name__}")
        return str(value)
    if key == "qos":
        if isinstance(value, bool) or value not in (0, 1, 2):
            raise ValueError(f"`qos` must be 0, 1 or 2, not {value!r}")
        return value
    if key in _BOOL_KEYS:
        if not isinstance(value, bool):
            raise ValueError(f"`{key}` must be true or false, not {value!r}")
        return value
    if key in _NUMBER_KEYS:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"`{key}` must be a number, not {value!r}")
        return value
    if key in _LIST_KEYS:
        if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
            raise ValueError(f"`{key}` must be a list of strings, not {value!r}")
        return [str(v) for v in value]
    if key in _STR_KEYS:
        if value is not None and not isinstance(value, str):
            raise ValueError(f"`{key}` must be a string, not {type(value).__name__}")
        return value
    return value


def _device(raw: Any) -> DeviceInfo | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ValueError(f"`device` must be an object, not {type(raw).__name__}")
    ids = raw.get("identifiers")
    if isinstance(ids, str):
        ids = [ids]
    connections = raw.get("connections") or []
    if not isinstance(connections, list) or not all(isinstance(c, list) for c in connections):
        raise ValueError("`device.connections` must be a list of [type, value] pairs")
    if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, (str, int)) for i in ids)):
        raise ValueError("`device.identifiers` must be a string or a list of strings")
    first = str(ids[0]) if ids else ("_".join(str(c) for c in connections[0]) if connections else None)
    if first is None:
        raise ValueError("`device` needs `identifiers` or `connections`")
    for key in ("name", "manufacturer", "model", "sw_version", "hw_version", "suggested_area", "via_device"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise ValueError(f"`device.{key}` must be a string, not {type(raw[key]).__name__}")
    return DeviceInfo(id=first, name=raw.get("name"), manufacturer=raw.get("manufacturer"),
                      model=raw.get("model"), sw_version=raw.get("sw_version"), hw_version=raw.get("hw_version"),
                      area=raw.get("suggested_area"), via_device=raw.get("via_device"),
                      connections=[[str(x) for x in c] for c in connections])


def _availability(raw: dict[str, Any], config: dict[str, Any]) -> list[Availability]:
    out: list[Availability] = []
    if "availability_topic" in config:
        out.append(Availability(config["availability_topic"], config.get("payload_available", "online"),
                                config.get("payload_not_available", "offline"),
                                config.get("availability_template")))
    items = raw.get("availability")
    if items is None:
        return out
    if not isinstance(items, list):
        raise ValueError("`availability` must be a list of {topic, payload_available, payload_not_available}")
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("topic"), str) or not item["topic"]:
            raise ValueError(f"each `availability` entry needs a `topic` string, not {item!r}")
        checked = {k: _check_key(k, v) for k, v in item.items()}
        out.append(Availability(checked["topic"], checked.get("payload_available", "online"),
                                checked.get("payload_not_available", "offline"), checked.get("value_template")))
    return out
