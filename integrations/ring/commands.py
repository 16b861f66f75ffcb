"""Commands on Ring devices, each checked against the device's capabilities before any request.

Domain commands act on the entity they target (`light.turn_on`, `siren.turn_on duration=30`,
`switch.turn_off` on the motion-detection switch, `number.set_value`, `button.press`).
`ring.*` commands act on the device of any of its entities, or on `device=<name|id>` when
sent to the integration instance: `hub send ring ring.siren_on device="Hall chime"`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ring_doorbell import RingChime, RingDoorBell, RingOther, RingStickUpCam
from ring_doorbell.const import RingCapability

from hub.errors import CommandError
from integrations.ring.devices import RingDevice

SIREN_DEFAULT_S = 30
SIREN_MAX_S = 120

Action = Callable[[RingDevice, dict[str, Any]], Awaitable[dict[str, Any] | None]]


def _lacks(dev: RingDevice, what: str) -> CommandError:
    return CommandError(f"{dev.name} ({dev.model}) has no {what}")


def _int_arg(data: dict[str, Any], key: str, default: int | None, low: int, high: int, what: str) -> int:
    raw = data.get(key, default)
    if raw is None:
        raise CommandError(f"{what} needs `{key}` (an integer from {low} to {high})")
    try:
        number = float(raw)
    except (TypeError, ValueError):
        raise CommandError(f"{what}: `{key}` must be an integer from {low} to {high}, not {raw!r}") from None
    if number != int(number) or not low <= number <= high:
        raise CommandError(f"{what}: `{key}` must be an integer from {low} to {high}, not {raw!r}")
    return int(number)


async def set_light(dev: RingDevice, on: bool) -> dict[str, Any]:
    if not dev.has(RingCapability.LIGHT) or not isinstance(dev.lib, RingStickUpCam):
        raise _lacks(dev, "light")
    await dev.lib.async_set_light(on)
    dev.attrs["led_status"] = "on" if on else "off"
    return {"light": "on" if on else "off"}


async def set_siren(dev: RingDevice, seconds: int) -> dict[str, Any]:
    if not dev.has(RingCapability.SIREN) or not isinstance(dev.lib, RingStickUpCam):
        raise _lacks(dev, "siren")
    await dev.lib.async_set_siren(seconds)
    dev.attrs["siren_status"] = {"seconds_remaining": seconds}
    return {"siren": "on" if seconds else "off", "duration": seconds}


async def set_motion_detection(dev: RingDevice, on: bool) -> dict[str, Any]:
    if not dev.has(RingCapability.MOTION_DETECTION) or not isinstance(dev.lib, RingDoorBell):
        raise _lacks(dev, "motion detection")
    if dev.motion_detection is None:
        # ring-doorbell would only log a warning and send nothing.
        raise CommandError(f"{dev.name} reports no motion-detection setting, so it cannot be changed")
    await dev.lib.async_set_motion_detection(on)
    dev.settings["motion_detection_enabled"] = on
    return {"motion_detection": "on" if on else "off"}


async def set_volume(dev: RingDevice, data: dict[str, Any]) -> dict[str, Any]:
    if not dev.has_volume:
        raise _lacks(dev, "volume setting")
    low, high = dev.volume_range
    value = _int_arg(data, "value" if "value" in data else "volume", None, low, high, "set volume")
    lib = dev.lib
    if isinstance(lib, RingOther):
        await lib.async_set_doorbell_volume(value)
    elif isinstance(lib, (RingChime, RingDoorBell)):
        await lib.async_set_volume(value)
    else:
        raise _lacks(dev, "volume setting")
    dev.settings[dev.volume_key] = value
    return {"volume": value}


async def test_sound(dev: RingDevice, data: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(dev.lib, RingChime):
        raise _lacks(dev, "test sound (only chimes play one)")
    kind = str(data.get("kind", "ding"))
    if kind not in ("ding", "motion"):
        raise CommandError(f"test sound: `kind` must be ding or motion, not {kind!r}")
    await dev.lib.async_test_sound(kind)
    return {"test_sound": kind}


def _siren_on(dev: RingDevice, data: dict[str, Any]) -> Awaitable[dict[str, Any]]:
    seconds = _int_arg(data, "duration", SIREN_DEFAULT_S, 1, SIREN_MAX_S, "siren on")
    return set_siren(dev, seconds)


# Device-level commands, valid on any entity of the device or with `device=` on the instance.
DEVICE_COMMANDS: dict[str, Action] = {
    "ring.light_on": lambda dev, data: set_light(dev, True),
    "ring.light_off": lambda dev, data: set_light(dev, False),
    "ring.siren_on": _siren_on,
    "ring.siren_off": lambda dev, data: set_siren(dev, 0),
    "ring.motion_detection_on": lambda dev, data: set_motion_detection(dev, True),
    "ring.motion_detection_off": lambda dev, data: set_motion_detection(dev, False),
    "ring.set_volume": set_volume,
    "ring.test_sound": test_sound,
}


def entity_action(dev: RingDevice, role: str, command: str) -> Action | None:
    """The action for a domain command on an entity of `role`, or None if it does not take it."""
    if role == "light":
        if command == "toggle":
            return lambda d, data: set_light(d, not d.light_on)
        if command in ("turn_on", "turn_off"):
            return lambda d, data: set_light(d, command == "turn_on")
    elif role == "siren":
        if command == "turn_on" or (command == "toggle" and dev.siren_seconds == 0):
            return _siren_on
        if command in ("turn_off", "toggle"):
            return lambda d, data: set_siren(d, 0)
    elif role == "motion_detection":
        if command == "toggle":
            return lambda d, data: set_motion_detection(d, not d.motion_detection)
        if command in ("turn_on", "turn_off"):
            return lambda d, data: set_motion_detection(d, command == "turn_on")
    elif role == "volume" and command == "set_value":
        return set_volume
    elif role == "test_sound" and command == "press":
        return test_sound
    return DEVICE_COMMANDS.get(command)


def accepted(role: str) -> list[str]:
    """The commands an entity of `role` accepts, for error messages."""
    own = {"light": ["turn_on", "turn_off", "toggle"], "siren": ["turn_on", "turn_off", "toggle"],
           "motion_detection": ["turn_on", "turn_off", "toggle"], "volume": ["set_value"],
           "test_sound": ["press"]}.get(role, [])
    return own + sorted(DEVICE_COMMANDS)
