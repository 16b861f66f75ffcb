"""A small recorded house for the MCP tests: states, a causal chain from an MQTT message through an
automation to a light, a doorbell ding, commands, rejected input and integration statuses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub import events as ev
from hub.events import Event, new_id
from hub.integration import Command, DeviceInfo, EntityInfo, IntegrationContext
from hub.log import EventLog
from hub.times import now_us

MIN = 60_000_000
HOUR = 60 * MIN


@dataclass
class House:
    seqs: dict[str, int] = field(default_factory=dict)


async def fill_house(log: EventLog) -> House:
    house = House()
    demo = IntegrationContext(log, "demo")
    unifi = IntegrationContext(log, "unifi")
    now = now_us()
    for info in [
        EntityInfo("light.porch", name="Porch light", area="Outside"),
        EntityInfo("light.kitchen", name="Kitchen light", area="Kitchen"),
        EntityInfo("switch.coffee", name="Coffee machine", area="Kitchen"),
        EntityInfo("sensor.outdoor_temp", name="Outdoor temperature", unit="°C", device_class="temperature"),
        EntityInfo("binary_sensor.porch_motion", name="Porch motion", device_class="motion"),
        EntityInfo("binary_sensor.hall_smoke", name="Hall smoke", device_class="smoke"),
        EntityInfo("lock.front_door", name="Front door", device=DeviceInfo("lock1", name="Front door lock")),
        EntityInfo("sensor.front_door_battery", name="Front door lock battery", unit="%", device_class="battery",
                   device=DeviceInfo("lock1", name="Front door lock")),
        EntityInfo("event.front_doorbell", name="Front doorbell", device_class="doorbell"),
        EntityInfo("camera.porch", name="Porch camera"),
    ]:
        await demo.register_entity(info)
    await unifi.register_entity(EntityInfo("device_tracker.alice_phone", name="Alice's phone",
                                           device=DeviceInfo("aa:bb", connections=[["mac", "aa:bb:cc:dd:ee:01"]])))
    await unifi.register_entity(EntityInfo("device_tracker.tv", name="Living room TV"))

    # Six hours of temperatures, one every 10 minutes.
    for i in range(36):
        t = now - 6 * HOUR + i * 10 * MIN
        await demo.set_state("sensor.outdoor_temp", f"{10 + (i % 12) * 0.5:.1f}", time=t)
    await demo.set_state("light.porch", "off", time=now - 5 * HOUR)
    await demo.set_state("light.kitchen", "on", {"brightness": 200}, time=now - 4 * HOUR)
    await demo.set_state("switch.coffee", "off", time=now - 4 * HOUR)
    await demo.set_state("binary_sensor.hall_smoke", "off", time=now - 4 * HOUR)
    await demo.set_state("lock.front_door", "locked", time=now - 3 * HOUR)
    await demo.set_state("sensor.front_door_battery", "15", time=now - 3 * HOUR)
    await demo.set_state("camera.porch", "idle", time=now - 3 * HOUR)
    await unifi.set_state("device_tracker.alice_phone", "home", {"ip": "10.0.0.23", "hostname": "alice-phone",
                                                                  "essid": "home"}, time=now - 2 * HOUR)
    await unifi.set_state("device_tracker.tv", "not_home", {"ip": "10.0.0.40"}, time=now - 2 * HOUR)
    await demo.set_state("binary_sensor.porch_motion", "off", time=now - 2 * HOUR)

    # The chain: an MQTT message, the motion it reports, an automation run, its command, the light.
    corr = new_id()
    msg = await log.append(Event(ev.MQTT_MESSAGE, "mqtt", None, {"topic": "zigbee2mqtt/porch_sensor",
                                                                  "payload": '{"occupancy": true, "battery": 87}'},
                                 time=now - 30 * MIN, correlation=corr))
    motion = await log.report_state("binary_sensor.porch_motion", "on", {}, source="mqtt", time=now - 30 * MIN + 1000,
                                    causation=msg.seq, correlation=corr)
    assert motion is not None
    run = await log.append(Event(ev.AUTOMATION_TRIGGERED, "automation:porch_light", None,
                                 {"automation": "porch_light", "alias": "Porch light on motion",
                                  "trigger": {"platform": "state", "description": "porch motion turned on"}},
                                 time=now - 30 * MIN + 2000, causation=motion.seq, correlation=corr))
    request = await log.append(Event(ev.COMMAND_REQUESTED, "automation:porch_light", "light.porch",
                                     {"command": "turn_on", "target": ["light.porch"], "data": {}},
                                     time=now - 30 * MIN + 3000, causation=run.seq, correlation=corr))
    token = demo.command_started(Command("turn_on", "light.porch", {}, request.seq or 0, request.source, corr))
    light = await demo.set_state("light.porch", "on", {"brightness": 255}, time=now - 30 * MIN + 4000)
    demo.command_finished(token)
    assert light is not None
    done = await log.append(Event(ev.COMMAND_SUCCEEDED, "hub", "light.porch",
                                  {"command": "turn_on", "target": ["light.porch"], "duration_ms": 2.0},
                                  time=now - 30 * MIN + 5000, causation=request.seq, correlation=corr))
    await log.append(Event(ev.AUTOMATION_FINISHED, "automation:porch_light", None,
                           {"automation": "porch_light", "result": "finished",
                            "trace": [{"step": "actions/0", "action": "light.turn_on", "result": "ok"}]},
                           time=now - 30 * MIN + 6000, causation=run.seq, correlation=corr))
    house.seqs.update(mqtt=msg.seq or 0, motion=motion.seq or 0, run=run.seq or 0, request=request.seq or 0,
                      light=light.seq or 0, outcome=done.seq or 0)

    ding = await demo.device_event("event.front_doorbell", "ding", {"doorbot": "front"}, event_id="ding-1",
                                   time=now - 10 * MIN)
    house.seqs["ding"] = ding.seq or 0
    failed_req = await log.append(Event(ev.COMMAND_REQUESTED, "cli", "switch.coffee",
                                        {"command": "turn_on", "target": ["switch.coffee"], "data": {}},
                                        time=now - 8 * MIN, correlation=new_id()))
    await log.append(Event(ev.COMMAND_FAILED, "hub", "switch.coffee", {"command": "turn_on",
                           "target": ["switch.coffee"], "reason": "demo: the coffee machine is out of water"},
                           time=now - 8 * MIN + 1000, causation=failed_req.seq))
    await demo.reject("zigbee2mqtt/porch_sensor", "payload is not JSON", b"{occupancy: tru")
    await unifi.status("connected", "UniFi OS 8.1")
    await unifi.status("unavailable", "poll timed out after 10s")
    return house


async def serve_commands(log: EventLog) -> Any:
    """A CommandRouter whose owner carries out light, switch and lock commands by setting the state."""
    from hub.commands import CommandRouter
    from hub.errors import CommandError

    demo = IntegrationContext(log, "demo")
    router = CommandRouter(log, timeout=5)
    results = {"turn_on": "on", "turn_off": "off", "lock": "locked", "unlock": "unlocked"}

    async def handle(cmd: Command) -> dict[str, Any] | None:
        if cmd.command not in results:
            raise CommandError(f"demo: {cmd.command} is not supported")
        token = demo.command_started(cmd)
        try:
            await demo.set_state(cmd.entity_id or "", results[cmd.command])
        finally:
            demo.command_finished(token)
        return None

    router.add_owner("demo", lambda t: t.split(".")[0] in ("light", "switch", "lock"), handle)
    return router
