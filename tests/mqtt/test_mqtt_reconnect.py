"""A broker that goes away and comes back: status transitions, resubscribe, no duplicates, nothing lost."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import aiomqtt
from conftest import events, wait_for

from hub import events as ev
from integrations.mqtt.integration import READ_HIGH

LOAD = Path(__file__).resolve().parents[2] / "bench" / "mqtt_load.py"  # a raw-socket QoS 1 publisher

DISCOVERED = {"name": "Hall temp", "uniq_id": "hall_t", "stat_t": "hall/temp", "unit_of_meas": "°C"}


async def statuses(r) -> list[str]:
    return [e.data["status"] for e in await events(r.log, ev.INTEGRATION_STATUS)]


async def test_broker_restart_reconnects_resubscribes_and_resumes(start_mqtt, broker) -> None:
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="device-1") as device:
        await device.publish("homeassistant/sensor/hall/config", json.dumps(DISCOVERED), qos=1, retain=True)
        await device.publish("hall/temp", "20.5", qos=1, retain=True)
    r = await start_mqtt(entities=[{"platform": "sensor", "name": "Garden", "state_topic": "garden/t"}],
                         capture=["cap/#"])
    await wait_for(lambda: r.state("sensor.hall_temp") == "20.5", what="first state")
    registered = {e.entity_id for e in await events(r.log, ev.ENTITY_REGISTERED)}

    broker.stop()
    await wait_for(lambda: r.state("sensor.hall_temp") == "unavailable", what="unavailable on broker loss")
    assert (await statuses(r))[-1] == "unavailable"
    assert r.state("sensor.garden") == "unavailable"
    last = (await events(r.log, ev.INTEGRATION_STATUS))[-1]
    assert "127.0.0.1" in last.data["reason"]

    broker.start()
    # While the hub reconnects, a device changes the retained state and sends a QoS 1 message for capture.
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="device-2") as device:
        await device.publish("hall/temp", "21.0", qos=1, retain=True)
        await device.publish("cap/event", "while-away", qos=1)
        await wait_for(lambda: r.state("sensor.hall_temp") == "21.0", timeout=15, what="state from retained")
        await wait_for(lambda: _captured(r, "while-away"), timeout=15, what="message queued in the session")
        await device.publish("garden/t", "9", qos=1)
        await wait_for(lambda: r.state("sensor.garden") == "9", what="resubscribed configured topic")

    assert (await statuses(r))[-2:] == ["unavailable", "connected"]
    again = {e.entity_id for e in await events(r.log, ev.ENTITY_REGISTERED)}
    assert again == registered  # the retained discovery config came again: nothing new registered
    assert not [eid for eid in r.log.registry() if eid.endswith("_2")]
    assert [e.data["status"] for e in await events(r.log, ev.INTEGRATION_STATUS)].count("unavailable") == 1


async def _captured(r, payload: str) -> bool:
    return any(e.data["payload"] == payload for e in await events(r.log, ev.MQTT_MESSAGE))


async def test_restart_of_the_integration_keeps_entity_ids(start_mqtt, publisher) -> None:
    await publisher.publish("homeassistant/sensor/a/config", json.dumps({"name": "X", "uniq_id": "u1",
                                                                         "stat_t": "x/1"}), qos=1, retain=True)
    r = await start_mqtt()
    await wait_for(lambda: "sensor.x" in r.log.registry(), what="first")
    await r.stop()
    # Another config now takes the name first; the earlier entity keeps its id by unique_id.
    await publisher.publish("homeassistant/sensor/b/config", json.dumps({"name": "X", "uniq_id": "u2",
                                                                         "stat_t": "x/2"}), qos=1, retain=True)
    r2 = await start_mqtt()
    await wait_for(lambda: "sensor.x_2" in r2.log.registry(), what="second")
    assert r2.integration.table.by_unique_id == {"u1": "sensor.x", "u2": "sensor.x_2"}


async def test_unreachable_broker_reports_unavailable_once(start_mqtt, broker) -> None:
    import contextlib

    from mqtt_broker import free_port

    from hub.integration import IntegrationContext
    from integrations.mqtt import MqttConfig, MqttIntegration

    ctx_log = None
    r = await start_mqtt()
    ctx_log = r.log
    cfg = MqttConfig.model_validate({"type": "mqtt", "id": "gone", "url": f"mqtt://127.0.0.1:{free_port()}",
                                     "reconnect_max": 1.0})
    integration = MqttIntegration(cfg, IntegrationContext(ctx_log, "gone"))
    task = asyncio.create_task(integration.run())
    try:
        await wait_for(lambda: integration.ctx.last_status == "unavailable", what="unavailable")
        await asyncio.sleep(2.5)  # several retries
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    gone = [e for e in await events(ctx_log, ev.INTEGRATION_STATUS) if e.source == "gone"]
    assert [e.data["status"] for e in gone] == ["unavailable"]
    assert "Connection refused" in gone[0].data["reason"] or "refused" in gone[0].data["reason"].lower()


async def test_a_backlog_beyond_the_read_gate_arrives_after_a_restart(start_mqtt, publisher) -> None:
    # A resumed session's backlog reaches us before the SUBACK of our subscriptions: the read gate
    # must not stop reading while that answer is awaited (it once did, and the hub waited forever).
    r = await start_mqtt(capture=["load/#"])
    await r.stop()
    count = READ_HIGH * 3
    for i in range(count):
        await publisher.publish(f"load/{i % 10}", str(i), qos=1)
    r2 = await start_mqtt(capture=["load/#"])
    await wait_for(lambda: _payloads(r2), timeout=60, what="the backlog")
    got = [int(e.data["payload"]) for e in await events(r2.log, ev.MQTT_MESSAGE)]
    assert sorted(set(got)) == list(range(count))


async def test_reading_pauses_under_load_and_loses_nothing(start_mqtt, broker) -> None:
    # Published faster than the hub makes it durable: aiomqtt's queue stays near READ_HIGH because
    # the socket is not read meanwhile, and every message still arrives.
    r = await start_mqtt(capture=["load/#"])
    count = 30_000
    load = subprocess.run([sys.executable, str(LOAD), "publish", "--port", str(broker.port), "--count", str(count),
                           "--prefix", "load/s"], capture_output=True, text=True, timeout=120)
    assert load.returncode == 0, load.stderr
    deepest = 0
    deadline = asyncio.get_running_loop().time() + 90
    while len(await events(r.log, ev.MQTT_MESSAGE)) < count and asyncio.get_running_loop().time() < deadline:
        deepest = max(deepest, len(r.integration._inbox))
        await asyncio.sleep(0.01)
    got = [int(e.data["payload"]) for e in await events(r.log, ev.MQTT_MESSAGE)]
    assert sorted(got) == list(range(count))
    assert r.integration._gate is not None and r.integration._gate.pauses >= 1
    assert deepest < READ_HIGH + 1_000


async def _payloads(r) -> bool:
    return len(await events(r.log, ev.MQTT_MESSAGE)) >= READ_HIGH * 3
