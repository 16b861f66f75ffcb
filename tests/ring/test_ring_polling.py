"""Polling: state follows the cloud, backoff on 429/5xx, bad device data rejected without loss."""

from __future__ import annotations

from ring_fake_cloud import FakeRingCloud
from ring_helpers import Harness, wait_until


async def test_polled_state_follows_the_cloud(harness: Harness, cloud: FakeRingCloud) -> None:
    ring = harness.build(history_limit=0)
    async with harness.running(ring):
        await wait_until(lambda: ring.ctx.last_status == "connected", "connected")
        cloud.device(100001)["battery_life"] = 41
        cloud.device(100001)["alerts"]["connection"] = "offline"
        await wait_until(lambda: ring.ctx.state("sensor.front_door_battery").state == "41", "new battery")
        await wait_until(lambda: ring.ctx.state("sensor.front_door_connection").state == "offline", "offline")


async def test_backoff_on_429_honours_retry_after_then_recovers(harness: Harness, cloud: FakeRingCloud) -> None:
    ring = harness.build(history_limit=0, poll_interval=0.05, max_backoff=1.0)
    async with harness.running(ring):
        await wait_until(lambda: ring.ctx.last_status == "connected", "connected")
        cloud.fail("GET", "/clients_api/ring_devices", 429, times=1, **{"Retry-After": "0.7"})
        cloud.fail("GET", "/clients_api/ring_devices", 503, times=3)
        await wait_until(lambda: not any(f.times for f in cloud.faults), "the faults to be served")
        await wait_until(lambda: ring.ctx.last_status == "connected", "recovery")
    statuses = await harness.status_events()
    assert [s["status"] for s in statuses] == ["connected", "unavailable", "unavailable", "connected"]
    assert "(HTTP 429)" in statuses[1]["reason"] and "(HTTP 503)" in statuses[2]["reason"]
    # Polls wait poll_interval; failures wait longer each time, Retry-After first, capped at max_backoff.
    backoffs = [s for s in harness.sleeps if s != 0.05]
    assert backoffs[:4] == [0.7, 0.2, 0.4, 0.8]


async def test_server_errors_back_off_up_to_the_cap(harness: Harness, cloud: FakeRingCloud) -> None:
    ring = harness.build(history_limit=0, poll_interval=0.05, max_backoff=0.3)
    async with harness.running(ring):
        await wait_until(lambda: ring.ctx.last_status == "connected", "connected")
        cloud.fail("GET", "/clients_api/dings/active", 500, times=5)
        await wait_until(lambda: not any(f.times for f in cloud.faults), "the faults to be served")
        await wait_until(lambda: ring.ctx.last_status == "connected", "recovery")
    assert [s for s in harness.sleeps if s != 0.05][:5] == [0.1, 0.2, 0.3, 0.3, 0.3]
    assert ring.ctx.state("sensor.front_door_battery").state == "87"  # states kept meanwhile


async def test_malformed_devices_are_rejected_once_and_the_rest_kept(harness: Harness, cloud: FakeRingCloud) -> None:
    cloud.devices["doorbots"].append({"kind": "doorbell_v3", "description": "No Id"})
    cloud.devices["chimes"].append({"id": 300002, "kind": "chime", "settings": "loud"})
    cloud.devices["stickup_cams"].append({"id": 200002, "kind": "stickup_cam_v3"})  # no name, nothing else
    cloud.devices["beams"] = {"not": "a list"}
    ring = harness.build(history_limit=0)
    async with harness.running(ring):
        await wait_until(lambda: ring.ctx.last_status == "connected", "connected")
        polls = len(cloud.requests("GET", "/clients_api/ring_devices"))
        await wait_until(lambda: len(cloud.requests("GET", "/clients_api/ring_devices")) > polls + 2, "polls")
        assert ring.ctx.state("sensor.front_door_battery").state == "87"
        assert ring.ctx.state("number.ring_chime_300002_volume") is None  # settings dropped: no volume
        assert ring.ctx.state("sensor.ring_chime_300002_connection").state == "unknown"
        assert ring.ctx.state("sensor.ring_stickup_cam_v3_200002_firmware").state == "unknown"
    rejected = [e.data for e in await harness.events("input_rejected")]
    reasons = sorted(r["reason"] for r in rejected)
    assert reasons == ["a device family must be a list", "device 300002: `settings` is not an object; ignored",
                       "device without an integer id (None)"]
    assert any('"No Id"' in r["excerpt"] for r in rejected)


async def test_a_device_list_that_is_not_json(harness: Harness, cloud: FakeRingCloud) -> None:
    ring = harness.build(history_limit=0)
    async with harness.running(ring):
        await wait_until(lambda: ring.ctx.last_status == "connected", "connected")
        cloud.devices_text = "<html>maintenance</html>"
        await wait_until(lambda: ring.ctx.last_status == "unavailable", "unavailable")
        cloud.devices_text = None
        await wait_until(lambda: ring.ctx.last_status == "connected", "connected again")
    rejected = (await harness.events("input_rejected"))[0].data
    assert rejected["reason"] == "the device list is not JSON" and "maintenance" in rejected["excerpt"]


async def test_history_with_skewed_and_missing_timestamps(harness: Harness, cloud: FakeRingCloud) -> None:
    cloud.history["100001"] = [
        {"id": 1001, "kind": "ding", "created_at": "2999-01-01T00:00:00Z", "recording": {"status": "ready"}},
        {"id": 1002, "kind": "motion", "created_at": "yesterday-ish"},
        {"id": 1003, "kind": "teleport", "created_at": "2025-01-10T10:00:00Z"},
        {"kind": "ding", "created_at": "2025-01-10T09:00:00Z"},
    ]
    ring = harness.build()
    async with harness.running(ring):
        await wait_until(lambda: ring.ctx.last_status == "connected", "connected")
    events = {e.data["ring_event_id"]: e for e in await harness.events("device_event")}
    future = events["1001"]
    assert future.data["time_source"] == "received" and future.data["clock_skew_s"] > 3e10
    assert future.data["ring_created_at"].startswith("2999-01-01")
    garbled = events["1002"]
    assert garbled.data["time_source"] == "received" and garbled.data["ring_created_at"] == "yesterday-ish"
    reasons = sorted(e.data["reason"] for e in await harness.events("input_rejected"))
    assert reasons == ["history entry of device 100001 of unknown kind 'teleport' (known: ding, motion, "
                       "intercom_unlock)", "history entry of device 100001 without an event id (None)"]


async def test_a_removed_device_becomes_unavailable(harness: Harness, cloud: FakeRingCloud) -> None:
    ring = harness.build(history_limit=0)
    async with harness.running(ring):
        await wait_until(lambda: ring.ctx.last_status == "connected", "connected")
        cloud.devices["chimes"] = []
        await wait_until(lambda: ring.ctx.state("number.hallway_chime_volume").state == "unavailable", "removal")
        assert ring.ctx.state("sensor.hallway_chime_connection").state == "unavailable"
        assert ring.ctx.state("sensor.front_door_connection").state == "online"
