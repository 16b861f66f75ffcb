"""A large, realistic log for the MCP benchmark, written through the hub's own append path."""

from __future__ import annotations

import random
from typing import Any

from hub import events as ev
from hub.events import Event
from hub.log import EventLog
from hub.states import State
from hub.times import now_us

DAY_US = 86_400_000_000

SENSORS = [f"sensor.room_{i}_temperature" for i in range(30)] + [f"sensor.plug_{i}_power" for i in range(30)]
BINARY = [f"binary_sensor.motion_{i}" for i in range(15)] + ["binary_sensor.front_door", "binary_sensor.smoke_hall"]
LIGHTS = [f"light.lamp_{i}" for i in range(20)]
SWITCHES = [f"switch.outlet_{i}" for i in range(10)]
TRACKERS = [f"device_tracker.client_{i}" for i in range(40)]
LOCKS = ["lock.front_door"]
DOORBELL = "event.front_doorbell_ding"
TOPICS = [f"zigbee2mqtt/device_{i}" for i in range(25)]


def registry_events() -> list[Event]:
    """entity_registered for every generated entity, with the integration that owns it."""
    out = []
    for eid in SENSORS + BINARY + LIGHTS + SWITCHES + LOCKS + [DOORBELL, "camera.porch"]:
        info: dict[str, Any] = {"integration": "demo", "name": eid.split(".", 1)[1].replace("_", " ").title()}
        if eid.endswith("_temperature"):
            info |= {"unit": "°C", "device_class": "temperature"}
        elif eid.endswith("_power"):
            info |= {"unit": "W", "device_class": "power"}
        elif eid.startswith("binary_sensor.smoke"):
            info["device_class"] = "smoke"
        elif eid.startswith("event."):
            info["device_class"] = "doorbell"
        out.append(Event(ev.ENTITY_REGISTERED, "demo", eid, info))
    for i, eid in enumerate(TRACKERS):
        integration = "unifi" if i % 2 else "router"
        out.append(Event(ev.ENTITY_REGISTERED, integration, eid, {
            "integration": integration, "name": f"Client {i}",
            "device": {"id": f"mac_{i:02x}", "connections": [["mac", f"aa:bb:cc:00:00:{i:02x}"]]}}))
    return out


class Filler:
    """Turns a random stream into events: states with their previous state, command chains, traces."""

    def __init__(self, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.states: dict[str, State] = {}

    def state(self, eid: str, value: str, t: int, attrs: dict[str, Any] | None = None, source: str = "demo",
              causation: int | None = None, correlation: str | None = None) -> Event:
        old = self.states.get(eid)
        changed = t if old is None or old.state != value else old.last_changed
        new = State(eid, value, attrs or {}, changed, t)
        self.states[eid] = new
        return Event(ev.STATE_CHANGED, source, eid, {"old_state": old.as_data() if old else None,
                                                     "new_state": new.as_data()}, time=t,
                     causation=causation, correlation=correlation)

    def batch(self, t: int) -> list[Event]:
        """One step of house life at time t (1 to 4 events)."""
        r = self.rng.random()
        rng = self.rng
        if r < 0.62:
            eid = rng.choice(SENSORS)
            base = 21.0 if eid.endswith("_temperature") else 120.0
            return [self.state(eid, f"{base + rng.uniform(-5, 5):.1f}", t)]
        if r < 0.72:
            eid = rng.choice(BINARY + TRACKERS)
            if eid.startswith("device_tracker"):
                return [self.state(eid, rng.choice(["home", "not_home"]), t, {"ip": "10.0.0.%d" % rng.randint(2, 250)},
                                   source="unifi")]
            return [self.state(eid, rng.choice(["on", "off"]), t)]
        if r < 0.84:
            topic = rng.choice(TOPICS)
            payload = '{"battery": %d, "linkquality": %d}' % (rng.randint(1, 100), rng.randint(1, 255))
            return [Event(ev.MQTT_MESSAGE, "mqtt", None, {"topic": topic, "payload": payload, "qos": 0,
                                                        "retain": False}, time=t)]
        if r < 0.90:
            return [Event(ev.DEVICE_EVENT, "ring", DOORBELL, {"event_type": rng.choice(["ding", "motion"])}, time=t)]
        if r < 0.97:
            target = rng.choice(LIGHTS + SWITCHES)
            cmd = rng.choice(["turn_on", "turn_off"])
            corr = ev.new_id()
            return [Event(ev.COMMAND_REQUESTED, "cli", target, {"command": cmd, "target": [target], "data": {}},
                          time=t, correlation=corr)]
        if r < 0.99:
            return [Event(ev.AUTOMATION_TRIGGERED, "automation:porch_light", "light.lamp_0",
                          {"automation": "porch_light", "trigger": {"platform": "state",
                                                                    "entity_id": "binary_sensor.motion_0"}},
                          time=t, correlation=ev.new_id())]
        if r < 0.995:
            return [Event(ev.INTEGRATION_STATUS, "unifi", None, {"integration": "unifi",
                                                                 "status": rng.choice(["connected", "unavailable"]),
                                                                 "reason": "poll timed out"}, time=t)]
        return [Event(ev.INPUT_REJECTED, "mqtt", None, {"origin": "zigbee2mqtt/x", "reason": "not JSON",
                                                        "excerpt": "{oops"}, time=t)]


async def fill(log: EventLog, n: int, *, days: int = 30, seed: int = 1, chunk: int = 20_000,
               progress: Any = None) -> int:
    """Append about `n` events spread over the last `days` days; returns how many were appended."""
    filler = Filler(seed)
    start = now_us() - days * DAY_US
    step = max(1, days * DAY_US // max(n, 1))
    await log.append_many(registry_events(), supplied_ids=False)
    done = 0
    t = start
    while done < n:
        batch: list[Event] = []
        while len(batch) < chunk and done + len(batch) < n:
            batch.extend(filler.batch(t))
            t += step
        stored = await log.append_many(batch, supplied_ids=False)
        # Outcomes and effects of the commands and automation runs, caused by the stored requests.
        follow: list[Event] = []
        for e in stored:
            if e.type == ev.COMMAND_REQUESTED and e.entity_id:
                follow.append(Event(ev.COMMAND_SUCCEEDED, "hub", e.entity_id, {"command": e.data["command"],
                                    "target": [e.entity_id], "duration_ms": 3.2}, time=e.time + 2000,
                                    causation=e.seq, correlation=e.correlation))
                follow.append(filler.state(e.entity_id, "on" if e.data["command"] == "turn_on" else "off",
                                           e.time + 3000, causation=e.seq, correlation=e.correlation))
            elif e.type == ev.AUTOMATION_TRIGGERED:
                follow.append(Event(ev.AUTOMATION_FINISHED, "automation:porch_light", None,
                                    {"automation": "porch_light", "result": "finished",
                                     "trace": [{"step": "actions/0", "action": "light.turn_on"}]},
                                    time=e.time + 5000, causation=e.seq, correlation=e.correlation))
        if follow:
            await log.append_many(follow, supplied_ids=False)
            t += step * len(follow)  # so that the last event lands near now
        done += len(batch) + len(follow)
        if progress is not None:
            progress(done, n)
    return done
