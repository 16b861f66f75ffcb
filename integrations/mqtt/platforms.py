"""What a message on an entity's topic means for its state, per platform (Home Assistant's defaults)."""

from __future__ import annotations

from typing import Any

from hub.errors import InputRejected
from integrations.mqtt.entities import STATE_ROLES, MqttEntity
from integrations.mqtt.templates import parse_json, render_value

ALARM_STATES = frozenset({"disarmed", "armed_home", "armed_away", "armed_night", "armed_vacation",
                          "armed_custom_bypass", "pending", "triggered", "arming", "disarming"})
# Defaults for the payloads a lock reports, as Home Assistant has them.
LOCK_STATES = (("state_locked", "LOCKED", "locked"), ("state_unlocked", "UNLOCKED", "unlocked"),
               ("state_locking", "LOCKING", "locking"), ("state_unlocking", "UNLOCKING", "unlocking"),
               ("state_jammed", "JAMMED", "jammed"), ("state_open", "OPEN", "open"),
               ("state_opening", "OPENING", "opening"))
COVER_STATES = (("state_open", "open", "open"), ("state_opening", "opening", "opening"),
                ("state_closed", "closed", "closed"), ("state_closing", "closing", "closing"),
                ("state_stopped", "stopped", "open"))
_ROLE_TEMPLATE = {role: tpl for role, tpl in STATE_ROLES.values()}
_NUMERIC_ATTRS = {"position": "current_position", "current_temperature": "current_temperature",
                  "temperature": "temperature", "percentage": "percentage", "color_temp": "color_temp"}


def apply_message(entity: MqttEntity, role: str, text: str) -> tuple[str, dict[str, Any]] | None:
    """Update the entity's value/attributes from one message; returns a device event (type, data) if any.

    Raises InputRejected with the reason when the payload makes no sense for the entity.
    """
    if role == "attributes":
        data = parse_json(render_value(entity.config.get("json_attributes_template"), None, text))
        if not isinstance(data, dict):
            raise InputRejected(f"json_attributes payload must be a JSON object, not {type(data).__name__}")
        entity.attributes.update(data)
        return None
    if role != "state":
        _apply_part(entity, role, render_value(entity.config.get(_ROLE_TEMPLATE[role]), None, text))
        return None
    platform, cfg = entity.platform, entity.config
    if platform == "light" and cfg.get("schema") == "json":
        _apply_light_json(entity, parse_json(text))
        return None
    template = cfg.get("state_value_template") if platform == "light" else cfg.get("value_template")
    value = render_value(template, cfg.get("json_path"), text)
    if platform == "event":
        return _event(entity, value)
    entity.value = _state_for(entity, value)
    return None


def _state_for(entity: MqttEntity, value: str) -> str:
    platform, cfg = entity.platform, entity.config
    if value in ("", "None") and platform != "sensor":
        return "unknown"
    if platform == "sensor":
        return value if value != "" else "unknown"
    if platform in ("binary_sensor", "switch", "light", "siren", "fan"):
        on = cfg.get("state_on", cfg.get("payload_on", "ON"))
        off = cfg.get("state_off", cfg.get("payload_off", "OFF"))
        if value == on:
            return "on"
        if value == off:
            return "off"
        raise InputRejected(f"{entity.entity_id}: payload {value!r} is neither {on!r} (on) nor {off!r} (off)")
    if platform in ("lock", "cover"):
        for key, default, state in (LOCK_STATES if platform == "lock" else COVER_STATES):
            if value == cfg.get(key, default):
                return state
        if platform == "cover" and "position_topic" not in cfg:
            try:
                position = float(value)
            except ValueError:
                pass
            else:
                entity.attributes["current_position"] = position
                return "closed" if position <= cfg.get("position_closed", 0) else "open"
        known = LOCK_STATES if platform == "lock" else COVER_STATES
        raise InputRejected(f"{entity.entity_id}: {platform} state {value!r} is not one of "
                            f"{', '.join(repr(cfg.get(k, d)) for k, d, _ in known)}")
    if platform == "alarm_control_panel":
        if value not in ALARM_STATES:
            raise InputRejected(f"{entity.entity_id}: alarm state {value!r} is not one of {sorted(ALARM_STATES)}")
        return value
    if platform == "device_tracker":
        if value == cfg.get("payload_home", "home"):
            return "home"
        if value == cfg.get("payload_not_home", "not_home"):
            return "not_home"
        return value
    if platform == "number":
        number = _number(entity, value)
        low, high = cfg.get("min", 1), cfg.get("max", 100)
        if not low <= number <= high:
            raise InputRejected(f"{entity.entity_id}: value {value} is outside [{low}, {high}]")
        return value
    if platform == "select":
        if value not in cfg["options"]:
            raise InputRejected(f"{entity.entity_id}: option {value!r} is not one of {cfg['options']}")
        return value
    if platform == "climate":
        return _climate_mode(entity, value)
    return value


def _apply_part(entity: MqttEntity, role: str, value: str) -> None:
    if role == "mode":
        entity.value = _climate_mode(entity, value)
    elif role == "hvac_action":
        entity.attributes["hvac_action"] = value
    elif role == "rgb_color":
        parts = value.split(",")
        if len(parts) != 3 or not all(p.strip().isdigit() for p in parts):
            raise InputRejected(f"{entity.entity_id}: rgb payload {value!r} is not 'r,g,b'")
        entity.attributes["rgb_color"] = [int(p) for p in parts]
    elif role == "brightness":
        scale = entity.config.get("brightness_scale", 255)
        entity.attributes["brightness"] = round(_number(entity, value) * 255 / scale)
    else:
        number = _number(entity, value)
        entity.attributes[_NUMERIC_ATTRS[role]] = int(number) if number == int(number) else number
        if role == "position" and entity.value is None:
            entity.value = "closed" if number <= entity.config.get("position_closed", 0) else "open"


def _climate_mode(entity: MqttEntity, value: str) -> str:
    modes = entity.config.get("modes", ["auto", "off", "cool", "heat", "dry", "fan_only"])
    if value not in modes:
        raise InputRejected(f"{entity.entity_id}: hvac mode {value!r} is not one of {modes}")
    return value


def _apply_light_json(entity: MqttEntity, data: Any) -> None:
    if not isinstance(data, dict):
        raise InputRejected(f"{entity.entity_id}: JSON light payload must be an object, not {type(data).__name__}")
    state = data.get("state")
    if state is not None:
        if state not in ("ON", "OFF"):
            raise InputRejected(f"{entity.entity_id}: JSON light state {state!r} is neither 'ON' nor 'OFF'")
        entity.value = "on" if state == "ON" else "off"
    attrs = entity.attributes
    if isinstance(data.get("brightness"), (int, float)):
        attrs["brightness"] = round(data["brightness"] * 255 / entity.config.get("brightness_scale", 255))
    color = data.get("color")
    if isinstance(color, dict):
        if all(k in color for k in ("r", "g", "b")):
            attrs["rgb_color"] = [color["r"], color["g"], color["b"]]
        if all(k in color for k in ("h", "s")):
            attrs["hs_color"] = [color["h"], color["s"]]
        if all(k in color for k in ("x", "y")):
            attrs["xy_color"] = [color["x"], color["y"]]
    for key in ("color_mode", "color_temp", "effect"):
        if key in data:
            attrs[key] = data[key]


def _event(entity: MqttEntity, value: str) -> tuple[str, dict[str, Any]]:
    data = parse_json(value)
    if not isinstance(data, dict) or not isinstance(data.get("event_type"), str):
        raise InputRejected(f"{entity.entity_id}: event payload must be a JSON object with an `event_type`")
    if data["event_type"] not in entity.config["event_types"]:
        raise InputRejected(f"{entity.entity_id}: event_type {data['event_type']!r} is not one of "
                            f"{entity.config['event_types']}")
    return data["event_type"], {k: v for k, v in data.items() if k != "event_type"}


def _number(entity: MqttEntity, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise InputRejected(f"{entity.entity_id}: {value!r} is not a number") from None
    if number != number:
        raise InputRejected(f"{entity.entity_id}: {value!r} is not a number")
    return number


def static_attributes(entity: MqttEntity) -> dict[str, Any]:
    """Attributes every state of the entity carries (friendly name, unit, class, options)."""
    cfg = entity.config
    attrs: dict[str, Any] = {}
    name = entity.name or (entity.device.name if entity.device else None)
    if entity.name and entity.device and entity.device.name and not entity.name.lower().startswith(
            entity.device.name.lower()):
        name = f"{entity.device.name} {entity.name}"
    if name:
        attrs["friendly_name"] = name
    for key in ("unit_of_measurement", "device_class", "icon", "state_class", "options", "event_types"):
        if key in cfg:
            attrs[key] = cfg[key]
    if entity.platform == "number":
        attrs.update(min=cfg.get("min", 1), max=cfg.get("max", 100), step=cfg.get("step", 1))
    return attrs
