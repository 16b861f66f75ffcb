"""Commands on MQTT entities as the payloads Home Assistant would publish for them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from hub.errors import CommandError, InputRejected
from integrations.mqtt.entities import MqttEntity
from integrations.mqtt.templates import render


@dataclass(slots=True)
class Plan:
    """What to publish for a command, and the state to assume when the entity is optimistic."""

    publishes: list[tuple[str, str]] = field(default_factory=list)
    state: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


ALARM_PAYLOADS = {"alarm_arm_away": ("payload_arm_away", "ARM_AWAY", "armed_away"),
                  "alarm_arm_home": ("payload_arm_home", "ARM_HOME", "armed_home"),
                  "alarm_arm_night": ("payload_arm_night", "ARM_NIGHT", "armed_night"),
                  "alarm_arm_vacation": ("payload_arm_vacation", "ARM_VACATION", "armed_vacation"),
                  "alarm_disarm": ("payload_disarm", "DISARM", "disarmed"),
                  "alarm_trigger": ("payload_trigger", "TRIGGER", "triggered")}
LOCK_PAYLOADS = {"lock": ("payload_lock", "LOCK", "locked"), "unlock": ("payload_unlock", "UNLOCK", "unlocked"),
                 "open": ("payload_open", "OPEN", "open")}
COVER_PAYLOADS = {"open_cover": ("payload_open", "OPEN", "open"), "close_cover": ("payload_close", "CLOSE", "closed"),
                  "stop_cover": ("payload_stop", "STOP", None)}


def plan(entity: MqttEntity, command: str, data: dict[str, Any], current: str | None) -> Plan:
    """The publishes for `command`; CommandError says why it cannot be done."""
    platform, cfg = entity.platform, entity.config
    if command == "toggle" and platform in ("light", "switch", "siren", "fan"):
        command = "turn_off" if current == "on" else "turn_on"
    try:
        if platform in ("switch", "siren", "fan"):
            return _on_off(entity, command, data)
        if platform == "light":
            return _light_json(entity, command, data) if cfg.get("schema") == "json" else _light(entity, command, data)
        if platform == "lock" and command in LOCK_PAYLOADS:
            return _fixed(entity, LOCK_PAYLOADS[command])
        if platform == "cover":
            return _cover(entity, command, data)
        if platform == "alarm_control_panel" and command in ALARM_PAYLOADS:
            return _alarm(entity, command, data)
        if platform == "button" and command == "press":
            return Plan([(cfg["command_topic"], cfg.get("payload_press", "PRESS"))])
        if platform == "number" and command == "set_value":
            return _number(entity, data)
        if platform == "select" and command == "select_option":
            return _select(entity, data)
        if platform == "climate":
            return _climate(entity, command, data)
    except InputRejected as exc:
        raise CommandError(f"{entity.entity_id}: {exc}") from None
    raise CommandError(f"{entity.entity_id}: {platform} does not accept {command!r}")


def _topic(entity: MqttEntity, key: str) -> str:
    topic = entity.config.get(key)
    if not isinstance(topic, str):
        raise CommandError(f"{entity.entity_id} has no {key} configured")
    return topic


def _fixed(entity: MqttEntity, spec: tuple[str, str, str | None]) -> Plan:
    key, default, state = spec
    payload = entity.config.get(key, default)
    template = entity.config.get("command_template")
    if template:
        payload = render(template, {"value": payload})
    return Plan([(_topic(entity, "command_topic"), payload)], state)


def _on_off(entity: MqttEntity, command: str, data: dict[str, Any]) -> Plan:
    cfg = entity.config
    if command not in ("turn_on", "turn_off"):
        raise CommandError(f"{entity.entity_id}: {entity.platform} does not accept {command!r}")
    on = command == "turn_on"
    out = Plan([], "on" if on else "off")
    payload = cfg.get("payload_on", "ON") if on else cfg.get("payload_off", "OFF")
    if entity.platform == "siren" and cfg.get("command_template"):
        payload = render(cfg["command_template"], {"value": payload, **data})
    out.publishes.append((_topic(entity, "command_topic"), payload))
    if entity.platform == "fan" and on and "percentage" in data:
        pct = _int(data["percentage"], "percentage", 0, 100)
        out.publishes.append((_topic(entity, "percentage_command_topic"), str(pct)))
        out.attributes["percentage"] = pct
    return out


def _light(entity: MqttEntity, command: str, data: dict[str, Any]) -> Plan:
    cfg = entity.config
    if command == "turn_off":
        return Plan([(cfg["command_topic"], cfg.get("payload_off", "OFF"))], "off")
    if command != "turn_on":
        raise CommandError(f"{entity.entity_id}: light does not accept {command!r}")
    out = Plan([], "on")
    extras: list[tuple[str, str]] = []
    brightness = _brightness(data)
    if brightness is not None:
        scaled = round(brightness * cfg.get("brightness_scale", 255) / 255)
        extras.append((_topic(entity, "brightness_command_topic"), str(scaled)))
        out.attributes["brightness"] = brightness
    rgb = _rgb(data)
    if rgb is not None:
        extras.append((_topic(entity, "rgb_command_topic"), ",".join(str(c) for c in rgb)))
        out.attributes["rgb_color"] = rgb
    if "color_temp" in data:
        extras.append((_topic(entity, "color_temp_command_topic"),
                       str(_int(data["color_temp"], "color_temp", 1, 10_000))))
    on = (cfg["command_topic"], cfg.get("payload_on", "ON"))
    # Home Assistant's on_command_type: the on payload last (default), first, or not at all
    # when a brightness is sent.
    mode = cfg.get("on_command_type", "last")
    if mode == "first":
        out.publishes = [on, *extras]
    elif mode == "brightness" and brightness is not None:
        out.publishes = extras
    else:
        out.publishes = [*extras, on]
    return out


def _light_json(entity: MqttEntity, command: str, data: dict[str, Any]) -> Plan:
    cfg = entity.config
    if command not in ("turn_on", "turn_off"):
        raise CommandError(f"{entity.entity_id}: light does not accept {command!r}")
    body: dict[str, Any] = {"state": "ON" if command == "turn_on" else "OFF"}
    out = Plan([], "on" if command == "turn_on" else "off")
    if command == "turn_on":
        brightness = _brightness(data)
        if brightness is not None:
            body["brightness"] = round(brightness * cfg.get("brightness_scale", 255) / 255)
            out.attributes["brightness"] = brightness
        rgb = _rgb(data)
        if rgb is not None:
            body["color"] = {"r": rgb[0], "g": rgb[1], "b": rgb[2]}
            out.attributes["rgb_color"] = rgb
        if "hs_color" in data:
            h, s = _pair(data["hs_color"], "hs_color")
            body["color"] = {"h": h, "s": s}
        if "xy_color" in data:
            x, y = _pair(data["xy_color"], "xy_color")
            body["color"] = {"x": x, "y": y}
        if "color_temp" in data:
            body["color_temp"] = _int(data["color_temp"], "color_temp", 1, 10_000)
        if "effect" in data:
            body["effect"] = str(data["effect"])
    if "transition" in data:
        body["transition"] = _float(data["transition"], "transition")
    return Plan([(cfg["command_topic"], json.dumps(body, separators=(",", ":")))], out.state, out.attributes)


def _cover(entity: MqttEntity, command: str, data: dict[str, Any]) -> Plan:
    if command in COVER_PAYLOADS:
        return _fixed(entity, COVER_PAYLOADS[command])
    if command == "set_cover_position":
        position = _int(data.get("position"), "position", 0, 100)
        cfg = entity.config
        low, high = cfg.get("position_closed", 0), cfg.get("position_open", 100)
        value = round(low + (high - low) * position / 100)
        payload = str(value)
        if cfg.get("set_position_template"):
            payload = render(cfg["set_position_template"], {"position": value, "value": value})
        return Plan([(_topic(entity, "set_position_topic"), payload)], "closed" if position == 0 else "open",
                    {"current_position": position})
    raise CommandError(f"{entity.entity_id}: cover does not accept {command!r}")


def _alarm(entity: MqttEntity, command: str, data: dict[str, Any]) -> Plan:
    key, default, state = ALARM_PAYLOADS[command]
    cfg = entity.config
    action = cfg.get(key, default)
    code = data.get("code")
    expected = cfg.get("code")
    needs = cfg.get("code_disarm_required" if command == "alarm_disarm" else "code_arm_required", True)
    if expected and expected not in ("REMOTE_CODE", "REMOTE_CODE_TEXT") and needs and str(code) != expected:
        raise CommandError(f"{entity.entity_id}: wrong or missing code for {command}")
    payload = render(cfg.get("command_template", "{{ action }}"), {"action": action, "code": code or ""})
    return Plan([(cfg["command_topic"], payload)], state)


def _number(entity: MqttEntity, data: dict[str, Any]) -> Plan:
    cfg = entity.config
    value = _float(data.get("value"), "value")
    low, high = cfg.get("min", 1), cfg.get("max", 100)
    if not low <= value <= high:
        raise CommandError(f"{entity.entity_id}: value {value:g} is outside [{low}, {high}]")
    text = str(int(value)) if value == int(value) else str(value)
    payload = render(cfg["command_template"], {"value": value}) if cfg.get("command_template") else text
    return Plan([(cfg["command_topic"], payload)], text)


def _select(entity: MqttEntity, data: dict[str, Any]) -> Plan:
    cfg = entity.config
    option = data.get("option")
    if option not in cfg["options"]:
        raise CommandError(f"{entity.entity_id}: option {option!r} is not one of {cfg['options']}")
    payload = render(cfg["command_template"], {"value": option}) if cfg.get("command_template") else str(option)
    return Plan([(cfg["command_topic"], payload)], str(option))


def _climate(entity: MqttEntity, command: str, data: dict[str, Any]) -> Plan:
    cfg = entity.config
    out = Plan()
    if command == "set_temperature":
        if "hvac_mode" in data:
            out = _climate(entity, "set_hvac_mode", {"hvac_mode": data["hvac_mode"]})
        temp = _float(data.get("temperature"), "temperature")
        low, high = cfg.get("min_temp", 7), cfg.get("max_temp", 35)
        if not low <= temp <= high:
            raise CommandError(f"{entity.entity_id}: temperature {temp:g} is outside [{low}, {high}]")
        out.publishes.append((_topic(entity, "temperature_command_topic"), f"{temp:g}"))
        out.attributes["temperature"] = temp
        return out
    if command == "set_hvac_mode":
        mode = data.get("hvac_mode")
        modes = cfg.get("modes", ["auto", "off", "cool", "heat", "dry", "fan_only"])
        if mode not in modes:
            raise CommandError(f"{entity.entity_id}: hvac_mode {mode!r} is not one of {modes}")
        return Plan([(_topic(entity, "mode_command_topic"), str(mode))], str(mode))
    if command in ("turn_on", "turn_off"):
        if "power_command_topic" in cfg:
            on = command == "turn_on"
            return Plan([(cfg["power_command_topic"], cfg.get("payload_on" if on else "payload_off",
                                                               "ON" if on else "OFF"))])
        return _climate(entity, "set_hvac_mode", {"hvac_mode": "off" if command == "turn_off" else "auto"})
    raise CommandError(f"{entity.entity_id}: climate does not accept {command!r}")


def _brightness(data: dict[str, Any]) -> int | None:
    if "brightness" in data:
        return _int(data["brightness"], "brightness", 0, 255)
    if "brightness_pct" in data:
        return round(_int(data["brightness_pct"], "brightness_pct", 0, 100) * 255 / 100)
    return None


def _rgb(data: dict[str, Any]) -> list[int] | None:
    value = data.get("rgb_color")
    if value is None:
        return None
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, (list, tuple)) or len(value) != 3:
        raise CommandError(f"rgb_color must be [r, g, b], not {value!r}")
    return [_int(c, "rgb_color", 0, 255) for c in value]


def _pair(value: Any, name: str) -> tuple[float, float]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise CommandError(f"{name} must be a pair of numbers, not {value!r}")
    return _float(value[0], name), _float(value[1], name)


def _float(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise CommandError(f"{name} must be a number, not {value!r}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise CommandError(f"{name} must be a finite number, not {value!r}")
    return number


def _int(value: Any, name: str, low: int, high: int) -> int:
    number = _float(value, name)
    if number != int(number) or not low <= number <= high:
        raise CommandError(f"{name} must be a whole number from {low} to {high}, not {value!r}")
    return int(number)
