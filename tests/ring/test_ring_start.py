"""Start-up against the fake Ring cloud: entities per device, states, health, backfill."""

from __future__ import annotations

from ring_fake_cloud import FakeRingCloud
from ring_helpers import Harness, wait_until

from hub.integration import Command
from hub.times import parse_time_us
from integrations.ring.token import StoredToken, TokenFile


async def test_start_registers_every_device_with_its_entities(harness: Harness) -> None:
    ring = harness.build()
    async with harness.running(ring):
        await wait_until(lambda: ring.ctx.last_status == "connected", "connected")
        state = ring.ctx.state
        # Doorbell: battery, connection, firmware, Wi-Fi, motion switch, volume, events, camera.
        assert state("sensor.front_door_battery").state == "87"
        assert state("sensor.front_door_connection").state == "online"
        assert state("sensor.front_door_firmware").state == "1.4.26"
        wifi = state("sensor.front_door_wifi_signal")
        assert wifi.state == "-55" and wifi.attributes["wifi_name"] == "home-wifi"
        assert state("switch.front_door_motion_detection").state == "on"
        assert state("number.front_door_volume").state == "5"
        assert state("camera.front_door").state == "idle"
        # Floodlight camera: light and siren, no volume, no battery.
        assert state("light.driveway_light").state == "off"
        assert state("siren.driveway_siren").state == "off"
        assert state("switch.driveway_motion_detection").state == "off"
        assert state("number.driveway_volume") is None
        assert state("sensor.driveway_battery") is None
        # Chime: volume and a test-sound button; no siren, no motion.
        assert state("number.hallway_chime_volume").state == "4"
        assert state("button.hallway_chime_test_sound") is not None
        assert state("siren.hallway_chime_siren") is None
        assert state("event.hallway_chime_motion") is None
        # Intercom: battery as a string in Ring's JSON, volume 0-8, ding and unlock events.
        assert state("sensor.building_entrance_battery").state == "52"
        assert state("number.building_entrance_volume").attributes["max"] == 8
        assert state("event.building_entrance_unlock") is not None
        # Unknown kinds and families: generic sensors only, no crash.
        assert state("sensor.garage_bell_connection").state == "offline"
        assert state("sensor.side_gate_lock_battery").state == "64"
        assert state("sensor.alarm_base_station_firmware").state == "2.1.0"
        assert state("switch.alarm_base_station_motion_detection") is None
        registry = harness.log.registry()
        assert registry["sensor.front_door_battery"]["info"]["device"]["manufacturer"] == "Ring"
        assert registry["number.front_door_volume"]["info"]["capabilities"] == {"min": 0, "max": 11, "step": 1}


async def test_backfill_appends_history_once_and_shows_the_latest(harness: Harness) -> None:
    ring = harness.build()
    async with harness.running(ring):
        await wait_until(lambda: ring.ctx.last_status == "connected", "connected")
    events = await harness.events("device_event")
    by_id = {e.data["ring_event_id"]: e for e in events}
    # Three dings/motions of the doorbell (not the on_demand live view), two of the camera, one intercom.
    assert sorted(by_id) == ["7300000000000000001", "7300000000000000003", "7300000000000000011",
                             "7300000000000000012", "7300000000000000021"]
    ding = by_id["7300000000000000003"]
    assert ding.entity_id == "event.front_door_ding" and ding.data["event_type"] == "ding"
    assert ding.time == parse_time_us("2025-01-10T18:03:40Z")
    assert by_id["7300000000000000001"].entity_id == "event.front_door_motion"
    assert ring.ctx.state("event.driveway_motion").state == "2025-01-10T15:20:00+00:00"
    camera = ring.ctx.state("camera.front_door").attributes
    assert camera["last_recording_id"] == 7300000000000000003
    assert camera["last_recording_url"].startswith("https://download.ring.com/recordings/7300000000000000003.mp4")

    # A restart backfills the same history again: nothing new is stored.
    again = harness.build()
    async with harness.running(again):
        await wait_until(lambda: again.ctx.last_status == "connected", "connected again")
    assert len(await harness.events("device_event")) == len(events)


async def test_a_restarted_instance_commands_through_its_new_client(harness: Harness, cloud: FakeRingCloud) -> None:
    ring = harness.build(history_limit=0)
    async with harness.running(ring):
        await wait_until(lambda: ring.ctx.last_status == "connected", "connected")
    # While it was down, the user signed in again: the old tokens are gone.
    cloud.revoke_all()
    TokenFile(harness.token_path).save(StoredToken(token=cloud.issue_token(), hardware_id="hw-test-1"))
    cloud.seen.clear()
    async with harness.running(ring):
        await wait_until(lambda: cloud.requests("GET", "/clients_api/dings/active"), "the first poll")
        result = await ring.handle_command(Command("turn_on", "light.driveway_light", {}, 0, "test"))
    assert result == {"light": "on"} and cloud.device(200001)["led_status"] == "on"
