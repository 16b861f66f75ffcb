"""Commands through the log (command_requested -> router -> RingIntegration -> fake cloud)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from ring_fake_cloud import FakeRingCloud
from ring_helpers import Harness, wait_until

from hub.commands import CommandRouter, send_command
from hub.events import Event
from hub.supervisor import Supervisor
from integrations.ring import RingIntegration


@pytest.fixture
async def ring(harness: Harness) -> AsyncIterator[RingIntegration]:
    integration = harness.build(history_limit=0)
    supervisor = Supervisor()
    supervisor.add(integration, integration.ctx)
    router = CommandRouter(harness.log, timeout=10)
    supervisor.register_owners(router)
    tasks = [asyncio.create_task(supervisor.run()), asyncio.create_task(router.run())]
    try:
        await wait_until(lambda: integration.ctx.last_status == "connected", "connected")
        yield integration
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def send(harness: Harness, command: str, target: str, **data: Any) -> tuple[Event, Event]:
    request, outcome = await send_command(harness.log, command, target, data, source="cli", timeout=10)
    assert outcome is not None, "no outcome"
    return request, outcome


async def test_light_turns_on_in_the_cloud_and_in_the_state(harness: Harness, cloud: FakeRingCloud,
                                                            ring: RingIntegration) -> None:
    request, outcome = await send(harness, "light.turn_on", "light.driveway_light")
    assert outcome.type == "command_succeeded", outcome.data
    assert cloud.device(200001)["led_status"] == "on"
    assert cloud.requests("PUT", "/clients_api/doorbots/200001/floodlight_light_on")
    changes = await harness.events("state_changed", "light.driveway_light")
    assert changes[-1].data["new_state"]["state"] == "on" and changes[-1].causation == request.seq


async def test_siren_with_duration_and_motion_detection_and_volume(harness: Harness, cloud: FakeRingCloud,
                                                                   ring: RingIntegration) -> None:
    _, outcome = await send(harness, "siren.turn_on", "siren.driveway_siren", duration=45)
    assert outcome.type == "command_succeeded"
    assert cloud.device(200001)["siren_status"] == {"seconds_remaining": 45}
    assert ring.ctx.state("siren.driveway_siren").state == "on"
    _, outcome = await send(harness, "switch.turn_on", "switch.driveway_motion_detection")
    assert outcome.type == "command_succeeded"
    assert cloud.device(200001)["settings"]["motion_detection_enabled"] is True
    _, outcome = await send(harness, "number.set_value", "number.hallway_chime_volume", value="7")
    assert outcome.type == "command_succeeded"
    assert cloud.device(300001)["settings"]["volume"] == 7
    assert ring.ctx.state("number.hallway_chime_volume").state == "7"
    _, outcome = await send(harness, "ring.set_volume", "event.building_entrance_ding", volume=3)
    assert outcome.type == "command_succeeded"
    assert cloud.device(400001)["settings"]["doorbell_volume"] == 3


async def test_chime_test_sound(harness: Harness, cloud: FakeRingCloud, ring: RingIntegration) -> None:
    _, outcome = await send(harness, "button.press", "button.hallway_chime_test_sound")
    assert outcome.type == "command_succeeded"
    _, outcome = await send(harness, "ring.test_sound", "ring", device="Hallway Chime", kind="motion")
    assert outcome.type == "command_succeeded"
    kinds = [s.query["kind"] for s in cloud.requests("POST", "/clients_api/chimes/300001/play_sound")]
    assert kinds == ["ding", "motion"]


@pytest.mark.parametrize("command, target, data, reason", [
    ("ring.siren_on", "ring", {"device": "Hallway Chime"}, "Hallway Chime (Chime Pro) has no siren"),
    ("ring.light_on", "camera.front_door", {}, "Front Door (Doorbell) has no light"),
    ("ring.test_sound", "sensor.driveway_firmware", {}, "Driveway (Floodlight Cam) has no test sound"),
    ("ring.set_volume", "sensor.alarm_base_station_firmware", {"volume": 1}, "has no volume setting"),
    ("number.set_value", "number.front_door_volume", {"value": 15}, "must be an integer from 0 to 11, not 15"),
    ("siren.turn_on", "siren.driveway_siren", {"duration": 600}, "must be an integer from 1 to 120, not 600"),
    ("ring.test_sound", "button.hallway_chime_test_sound", {"kind": "ding_dong"}, "must be ding or motion"),
    ("switch.lock", "sensor.front_door_battery", {}, "does not accept 'lock'"),
    ("ring.siren_on", "ring", {"device": "Attic"}, "no device 'Attic' (devices: "),
    ("ring.siren_on", "ring", {}, "needs `device`"),
])
async def test_commands_are_checked_against_capabilities(harness: Harness, cloud: FakeRingCloud,
                                                         ring: RingIntegration, command: str, target: str,
                                                         data: dict[str, Any], reason: str) -> None:
    before = len(cloud.seen)
    _, outcome = await send(harness, command, target, **data)
    assert outcome.type == "command_failed" and reason in outcome.data["reason"], outcome.data
    assert not [s for s in cloud.seen[before:] if s.method != "GET"]  # nothing was sent to Ring


async def test_cloud_errors_during_a_command_are_reported(harness: Harness, cloud: FakeRingCloud,
                                                          ring: RingIntegration) -> None:
    cloud.fail("PUT", "/clients_api/doorbots/200001/floodlight_light_off", 500)
    _, outcome = await send(harness, "light.turn_off", "light.driveway_light")
    assert outcome.type == "command_failed"
    assert "ring: turn_off on Driveway failed (HTTP 500)" in outcome.data["reason"]
