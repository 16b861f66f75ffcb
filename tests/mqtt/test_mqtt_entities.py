"""Configured entities on a real broker: state topics, templates, JSON paths, availability, commands."""

from __future__ import annotations

import asyncio
import json

import aiomqtt
from conftest import events, wait_for

from hub import events as ev
from hub.integration import Command

ENTITIES = [
    {"platform": "sensor", "name": "Outdoor temp", "state_topic": "garden/temp",
     "value_template": "{{ value_json.t }}", "unit_of_measurement": "°C", "device_class": "temperature"},
    {"platform": "sensor", "object_id": "humidity", "state_topic": "garden/hum", "json_path": "$.h[0]"},
    {"platform": "binary_sensor", "name": "Porch motion", "state_topic": "porch/motion",
     "payload_on": "ON", "payload_off": "OFF", "availability_topic": "porch/status"},
    {"platform": "light", "name": "Porch", "state_topic": "porch/light", "command_topic": "porch/light/set",
     "brightness_command_topic": "porch/light/bri/set", "rgb_command_topic": "porch/light/rgb/set"},
    {"platform": "switch", "name": "Pump", "command_topic": "pump/set", "payload_on": "1", "payload_off": "0"},
    {"platform": "lock", "name": "Gate", "state_topic": "gate/state", "command_topic": "gate/set"},
]


async def test_configured_entities_register_and_follow_their_topics(start_mqtt, publisher) -> None:
    r = await start_mqtt(entities=ENTITIES)
    registry = r.log.registry()
    for eid in ("sensor.outdoor_temp", "sensor.humidity", "binary_sensor.porch_motion", "light.porch",
                "switch.pump", "lock.gate"):
        assert eid in registry, eid
        assert registry[eid]["info"]["integration"] == "mqtt"
    assert registry["sensor.outdoor_temp"]["info"]["unit"] == "°C"

    await publisher.publish("garden/temp", json.dumps({"t": 21.5}), qos=1)
    await publisher.publish("garden/hum", json.dumps({"h": [55, 60]}), qos=1)
    await publisher.publish("gate/state", "LOCKED", qos=1)
    await wait_for(lambda: r.state("sensor.outdoor_temp") == "21.5", what="temperature")
    await wait_for(lambda: r.state("sensor.humidity") == "55", what="humidity")
    await wait_for(lambda: r.state("lock.gate") == "locked", what="lock")
    attrs = r.ctx.state("sensor.outdoor_temp").attributes
    assert attrs["unit_of_measurement"] == "°C" and attrs["friendly_name"] == "Outdoor temp"

    # Availability: nothing said yet means unavailable; then online/offline decide.
    assert r.state("binary_sensor.porch_motion") == "unavailable"
    await publisher.publish("porch/motion", "ON", qos=1)
    await publisher.publish("porch/status", "online", qos=1)
    await wait_for(lambda: r.state("binary_sensor.porch_motion") == "on", what="motion on")
    await publisher.publish("porch/status", "offline", qos=1)
    await wait_for(lambda: r.state("binary_sensor.porch_motion") == "unavailable", what="offline")
    await publisher.publish("porch/motion", "OFF", qos=1)
    await publisher.publish("porch/status", "online", qos=1)
    await wait_for(lambda: r.state("binary_sensor.porch_motion") == "off", what="motion off")


async def test_commands_publish_the_right_payloads(start_mqtt, publisher) -> None:
    r = await start_mqtt(entities=ENTITIES)
    await publisher.subscribe("#")
    seen: list[tuple[str, str]] = []

    async def collect() -> None:
        async for msg in publisher.messages:
            seen.append((msg.topic.value, msg.payload.decode()))

    collector = asyncio.create_task(collect())
    try:
        mqtt = r.integration
        result = await mqtt.handle_command(Command("turn_on", "light.porch", {"brightness": 128,
                                                                              "rgb_color": [255, 0, 10]}, 1, "cli"))
        assert result == {"published": [{"topic": "porch/light/bri/set", "payload": "128"},
                                        {"topic": "porch/light/rgb/set", "payload": "255,0,10"},
                                        {"topic": "porch/light/set", "payload": "ON"}]}
        await mqtt.handle_command(Command("turn_off", "switch.pump", {}, 2, "cli"))
        await mqtt.handle_command(Command("lock", "lock.gate", {}, 3, "cli"))
        await mqtt.handle_command(Command("mqtt.publish", None, {"topic": "raw/x", "payload": {"a": 1},
                                                                 "qos": 1, "retain": False}, 4, "cli"))
        await wait_for(lambda: ("raw/x", '{"a":1}') in seen, what="raw publish")
        for expected in [("porch/light/bri/set", "128"), ("porch/light/rgb/set", "255,0,10"),
                         ("porch/light/set", "ON"), ("pump/set", "0"), ("gate/set", "LOCK")]:
            assert expected in seen, expected
        # The switch has no state topic: it is optimistic and takes the commanded state.
        await wait_for(lambda: r.state("switch.pump") == "off", what="optimistic switch")
        # The light reports its own state: a command alone does not change it.
        assert r.state("light.porch") == "unknown"
    finally:
        collector.cancel()
        await asyncio.gather(collector, return_exceptions=True)


async def test_bad_commands_fail_with_a_reason(start_mqtt) -> None:
    import pytest

    from hub.errors import CommandError

    r = await start_mqtt(entities=ENTITIES)
    mqtt = r.integration
    cases = [
        (Command("turn_on", "light.porch", {"brightness": 300}, 1, "cli"), "brightness"),
        (Command("open_cover", "lock.gate", {}, 1, "cli"), "does not accept"),
        (Command("turn_on", "light.nope", {}, 1, "cli"), "not an entity"),
        (Command("mqtt.publish", None, {"topic": "a/#", "payload": "x"}, 1, "cli"), "wildcards"),
        (Command("mqtt.publish", None, {"topic": "a/b", "qos": 5}, 1, "cli"), "qos"),
    ]
    for command, words in cases:
        with pytest.raises(CommandError, match=words):
            await mqtt.handle_command(command)


async def test_capture_records_mqtt_message_events(start_mqtt, publisher) -> None:
    r = await start_mqtt(capture=["zigbee2mqtt/#"])
    await publisher.publish("zigbee2mqtt/kitchen", '{"temperature": 20.1, "battery": 90}', qos=1)
    await publisher.publish("zigbee2mqtt/bridge/state", "online", qos=0, retain=True)
    await publisher.publish("other/topic", "ignored", qos=1)
    got = await wait_for(lambda: _messages(r), what="captured messages")
    await asyncio.sleep(0.2)
    got = await _messages(r)
    assert [(e.data["topic"], e.data["payload"]) for e in got] == [
        ("zigbee2mqtt/kitchen", '{"temperature": 20.1, "battery": 90}'), ("zigbee2mqtt/bridge/state", "online")]
    assert all(e.source == "mqtt" for e in got)
    topics = {t["topic"]: t for t in r.integration.topics()}
    assert topics["zigbee2mqtt/kitchen"]["schema"] == {
        "type": "object", "properties": {"temperature": {"type": "number"}, "battery": {"type": "integer"}}}
    assert topics["zigbee2mqtt/kitchen"]["count"] == 1
    assert "other/topic" not in topics  # not subscribed: neither captured nor observed
    assert [t["topic"] for t in r.integration.topics(pattern="zigbee2mqtt/bridge/+")] == ["zigbee2mqtt/bridge/state"]


async def _messages(r) -> list:
    return await events(r.log, ev.MQTT_MESSAGE)


async def test_statestream_publishes_state_changes(start_mqtt, publisher) -> None:
    await publisher.subscribe("hubstate/#")
    r = await start_mqtt(entities=ENTITIES[:1], statestream={"prefix": "hubstate"})
    await publisher.publish("garden/temp", json.dumps({"t": 19}), qos=1)

    async def first() -> tuple[str, str]:
        async for msg in publisher.messages:
            if msg.payload == b"19":
                return msg.topic.value, msg.payload.decode()
        raise AssertionError("no message")

    assert await asyncio.wait_for(first(), 10) == ("hubstate/sensor.outdoor_temp/state", "19")
    assert r.state("sensor.outdoor_temp") == "19"


async def test_will_and_birth_on_the_status_topic(start_mqtt, broker, publisher) -> None:
    await publisher.subscribe("hub/status")
    r = await start_mqtt()

    async def next_payload() -> str:
        async for msg in publisher.messages:
            return msg.payload.decode()
        raise AssertionError("no message")

    assert await asyncio.wait_for(next_payload(), 10) == "online"
    await r.stop()
    assert await asyncio.wait_for(next_payload(), 10) == "offline"
    async with aiomqtt.Client("127.0.0.1", broker.port) as late:
        await late.subscribe("hub/status")
        assert (await asyncio.wait_for(anext(late.messages), 10)).payload == b"offline"  # retained


async def test_commands_through_the_log_record_their_outcome(start_mqtt, publisher) -> None:
    from hub.commands import CommandRouter, send_command
    from hub.supervisor import Supervisor

    r = await start_mqtt(entities=ENTITIES)
    supervisor = Supervisor()
    supervisor.add(r.integration, r.ctx)
    supervisor.items["mqtt"].running = True  # run() is the fixture's task, not the supervisor's
    router = CommandRouter(r.log)
    supervisor.register_owners(router)
    routing = asyncio.create_task(router.run())
    try:
        request, outcome = await send_command(r.log, "switch.turn_on", "switch.pump", source="cli")
        assert outcome is not None and outcome.type == ev.COMMAND_SUCCEEDED, outcome
        changed = await wait_for(lambda: _pump_on(r), what="optimistic state with causation")
        assert changed.causation == request.seq and changed.correlation == request.correlation
        request, outcome = await send_command(r.log, "mqtt.publish", "mqtt", {"topic": "a/b", "payload": "on"},
                                              source="cli")
        assert outcome.type == ev.COMMAND_SUCCEEDED
        request, outcome = await send_command(r.log, "light.turn_on", "light.porch", {"brightness": "x"},
                                              source="cli")
        assert outcome.type == ev.COMMAND_FAILED and "brightness must be a number" in outcome.data["reason"]
    finally:
        routing.cancel()
        await asyncio.gather(routing, return_exceptions=True)


async def _pump_on(r):
    for e in await events(r.log, ev.STATE_CHANGED, "switch.pump"):
        if e.data["new_state"]["state"] == "on":
            return e
    return None
