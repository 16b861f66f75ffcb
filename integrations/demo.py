"""The demo house: a simulated home so a fresh checkout has something real to automate.

Lights, switches, a lock, motion sensors, a door contact, temperature and power sensors,
a doorbell and a presence tracker, changing over time and obeying commands. Given the
same seed, `step()` produces the same sequence of facts.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any, Literal

from pydantic import Field

from hub.errors import CommandError
from hub.integration import Command, DeviceInfo, EntityInfo, Integration, IntegrationConfig


class DemoConfig(IntegrationConfig):
    type: Literal["demo"] = "demo"
    seed: int = 42
    interval: float = Field(5.0, gt=0, description="seconds between simulation steps")
    area_prefix: str = ""


LIGHTS = {"light.living_room": "Living room", "light.kitchen": "Kitchen", "light.porch": "Porch"}
SWITCHES = {"switch.coffee_maker": "Kitchen", "switch.garden_fountain": "Garden"}
MOTION = {"binary_sensor.porch_motion": "Porch", "binary_sensor.hall_motion": "Hall"}
TEMPS = {"sensor.living_room_temperature": ("Living room", 21.0), "sensor.outdoor_temperature": ("Garden", 9.0)}
SWITCH_WATTS = {"switch.coffee_maker": 1200.0, "switch.garden_fountain": 45.0}


class DemoIntegration(Integration):
    """A small simulated house."""

    type = "demo"
    config_model = DemoConfig
    config: DemoConfig

    def __init__(self, config: DemoConfig, ctx: Any) -> None:
        super().__init__(config, ctx)
        self.rng = random.Random(config.seed)
        self.motion_left: dict[str, int] = {}
        self.temps = {eid: base for eid, (_, base) in TEMPS.items()}
        self.ding_count = 0

    def _device(self, name: str, area: str, model: str) -> DeviceInfo:
        return DeviceInfo(id=f"{self.id}_{name.lower().replace(' ', '_')}", name=name, manufacturer="Demo",
                          model=model, area=area)

    async def setup(self) -> None:
        """Register every entity and give it its first state."""
        ctx = self.ctx
        for eid, area in LIGHTS.items():
            await ctx.register_entity(EntityInfo(eid, name=f"{area} light", area=area,
                                                 device=self._device(f"{area} lamp", area, "Bulb"),
                                                 capabilities={"brightness": True}))
            if ctx.state(eid) is None:
                await ctx.set_state(eid, "off", {"friendly_name": f"{area} light"})
        for eid, area in SWITCHES.items():
            name = eid.split(".")[1].replace("_", " ").capitalize()
            await ctx.register_entity(EntityInfo(eid, name=name, area=area, device=self._device(name, area, "Plug")))
            if ctx.state(eid) is None:
                await ctx.set_state(eid, "off", {"friendly_name": name})
        await ctx.register_entity(EntityInfo("lock.front_door", name="Front door lock", area="Hall",
                                             device=self._device("Front door lock", "Hall", "Lock")))
        if ctx.state("lock.front_door") is None:
            await ctx.set_state("lock.front_door", "locked", {"friendly_name": "Front door lock"})
        for eid, area in MOTION.items():
            await ctx.register_entity(EntityInfo(eid, name=f"{area} motion", area=area, device_class="motion"))
            await ctx.set_state(eid, "off", {"device_class": "motion", "friendly_name": f"{area} motion"})
        await ctx.register_entity(EntityInfo("binary_sensor.front_door", name="Front door", area="Hall",
                                             device_class="door"))
        await ctx.set_state("binary_sensor.front_door", "off", {"device_class": "door", "friendly_name": "Front door"})
        for eid, (area, _) in TEMPS.items():
            await ctx.register_entity(EntityInfo(eid, name=f"{area} temperature", area=area, unit="°C",
                                                 device_class="temperature"))
            await self._report_temp(eid)
        for eid in ("sensor.coffee_maker_power", "sensor.house_power"):
            await ctx.register_entity(EntityInfo(eid, name=eid.split(".")[1].replace("_", " ").capitalize(),
                                                 unit="W", device_class="power"))
        await self._report_power()
        await ctx.register_entity(EntityInfo("event.front_doorbell", name="Front doorbell", area="Porch",
                                             device_class="doorbell",
                                             device=self._device("Front doorbell", "Porch", "Doorbell")))
        if ctx.state("event.front_doorbell") is None:
            await ctx.set_state("event.front_doorbell", "unknown", {"event_types": ["ding"]})
        await ctx.register_entity(EntityInfo("device_tracker.alice_phone", name="Alice's phone"))
        if ctx.state("device_tracker.alice_phone") is None:
            await ctx.set_state("device_tracker.alice_phone", "home", {"source_type": "router"})

    async def run(self) -> None:
        await self.setup()
        await self.ctx.status("connected", "simulated house")
        while True:
            await asyncio.sleep(self.config.interval * (0.5 + self.rng.random()))
            await self.step()

    async def step(self) -> None:
        """One deterministic tick of the simulation."""
        ctx = self.ctx
        for eid in list(self.motion_left):
            self.motion_left[eid] -= 1
            if self.motion_left[eid] <= 0:
                del self.motion_left[eid]
                await ctx.set_state(eid, "off", self._attrs(eid))
        roll = self.rng.random()
        if roll < 0.25:
            eid = self.rng.choice(sorted(MOTION))
            self.motion_left[eid] = 2
            await ctx.set_state(eid, "on", self._attrs(eid))
        elif roll < 0.32:
            door = ctx.state("binary_sensor.front_door")
            await ctx.set_state("binary_sensor.front_door", "off" if door and door.state == "on" else "on",
                                self._attrs("binary_sensor.front_door"))
        elif roll < 0.35:
            await self.ring_doorbell()
        elif roll < 0.37:
            tracker = ctx.state("device_tracker.alice_phone")
            await ctx.set_state("device_tracker.alice_phone",
                                "not_home" if tracker and tracker.state == "home" else "home",
                                {"source_type": "router"})
        for eid in sorted(TEMPS):
            self.temps[eid] += self.rng.uniform(-0.15, 0.15)
            await self._report_temp(eid)
        await self._report_power()

    async def ring_doorbell(self) -> None:
        self.ding_count += 1
        event = await self.ctx.device_event("event.front_doorbell", "ding", {"count": self.ding_count})
        from hub.times import to_iso

        await self.ctx.set_state("event.front_doorbell", to_iso(event.time), {"event_type": "ding",
                                                                              "event_types": ["ding"]})

    def _attrs(self, eid: str) -> dict[str, Any]:
        current = self.ctx.state(eid)
        return dict(current.attributes) if current else {}

    async def _report_temp(self, eid: str) -> None:
        await self.ctx.set_state(eid, f"{self.temps[eid]:.1f}", {"unit_of_measurement": "°C",
                                                                 "device_class": "temperature"})

    async def _report_power(self) -> None:
        coffee = self.ctx.state("switch.coffee_maker")
        coffee_w = SWITCH_WATTS["switch.coffee_maker"] if coffee and coffee.state == "on" else 0.4
        total = 180.0 + coffee_w + self.rng.uniform(-5, 5)
        fountain = self.ctx.state("switch.garden_fountain")
        if fountain and fountain.state == "on":
            total += SWITCH_WATTS["switch.garden_fountain"]
        for light in LIGHTS:
            state = self.ctx.state(light)
            if state and state.state == "on":
                total += 9.0 * int(state.attributes.get("brightness", 255)) / 255
        await self.ctx.set_state("sensor.coffee_maker_power", f"{coffee_w:.1f}",
                                 {"unit_of_measurement": "W", "device_class": "power"})
        await self.ctx.set_state("sensor.house_power", f"{total:.1f}",
                                 {"unit_of_measurement": "W", "device_class": "power"})

    async def handle_command(self, command: Command) -> dict[str, Any] | None:
        eid = command.entity_id
        if eid is None:
            if command.command == "demo.ring_doorbell":
                await self.ring_doorbell()
                return None
            raise CommandError(f"demo has no instance command {command.command!r}")
        current = self.ctx.state(eid)
        if current is None:
            raise CommandError(f"{eid} is not a demo entity")
        domain = eid.split(".", 1)[0]
        attrs = dict(current.attributes)
        verb = command.command
        if domain in ("light", "switch") and verb in ("turn_on", "turn_off", "toggle"):
            on = verb == "turn_on" or (verb == "toggle" and current.state != "on")
            if domain == "light":
                if on:
                    brightness = command.data.get("brightness", attrs.get("brightness") or 255)
                    if "brightness_pct" in command.data:
                        brightness = round(float(command.data["brightness_pct"]) * 255 / 100)
                    try:
                        brightness = int(brightness)
                    except (TypeError, ValueError):
                        raise CommandError(f"brightness must be a number 0-255, not {brightness!r}") from None
                    if not 0 <= brightness <= 255:
                        raise CommandError(f"brightness must be 0-255, not {brightness}")
                    attrs["brightness"] = brightness
                else:
                    attrs.pop("brightness", None)
            await self.ctx.set_state(eid, "on" if on else "off", attrs)
            await self._report_power()
            return None
        if domain == "lock" and verb in ("lock", "unlock"):
            await self.ctx.set_state(eid, "locked" if verb == "lock" else "unlocked", attrs)
            return None
        raise CommandError(f"{eid} does not support {verb} (it accepts "
                           f"{'lock, unlock' if domain == 'lock' else 'turn_on, turn_off, toggle'})")
