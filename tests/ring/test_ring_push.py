"""Push: notifications handed over where FCM would, through ring-doorbell's own parsing."""

from __future__ import annotations

import json
import logging
import stat

import pytest
from ring_fake_cloud import FakeRingCloud, load_fixture
from ring_helpers import PUSH_CREDENTIALS, Harness, iso_now, legacy_notification, push_notification, wait_until

from hub.times import now_us, parse_time_us


async def _device_events(harness: Harness, ring_event_id: str) -> list:
    return [e for e in await harness.events("device_event") if e.data.get("ring_event_id") == ring_event_id]


async def test_pushed_ding_becomes_one_device_event_and_updates_the_event_entity(harness: Harness) -> None:
    ring = harness.build(history_limit=0)
    async with harness.running(ring):
        await wait_until(lambda: ring.ctx.last_status == "connected", "connected")
        created = iso_now()
        notification = push_notification("push_front_door_ding.json", created)
        harness.listeners.current.deliver(notification)
        await wait_until(lambda: _device_events(harness, "7300000000000000101"), "the pushed ding")
        # Battery doorbells push the same ding again with an image: an update, not a new event.
        harness.listeners.current.deliver(notification)
        harness.listeners.current.deliver(push_notification("push_driveway_motion.json", created))
        await wait_until(lambda: _device_events(harness, "7300000000000000102"), "the pushed motion")
        state = ring.ctx.state("event.front_door_ding")
    dings = await _device_events(harness, "7300000000000000101")
    assert len(dings) == 1
    ding = dings[0]
    assert ding.entity_id == "event.front_door_ding"
    assert ding.data["event_type"] == "ding" and ding.data["via"] == "push" and ding.data["state"] == "human"
    assert ding.time == parse_time_us(created)
    assert parse_time_us(state.state) == parse_time_us(created)
    assert state.attributes["ring_event_id"] == "7300000000000000101"
    motion = (await _device_events(harness, "7300000000000000102"))[0]
    assert motion.entity_id == "event.driveway_motion" and motion.data["event_type"] == "motion"


async def test_history_after_push_does_not_duplicate(harness: Harness, cloud: FakeRingCloud) -> None:
    created = iso_now(-30)
    ring = harness.build(history_limit=0)
    async with harness.running(ring):
        await wait_until(lambda: ring.ctx.last_status == "connected", "connected")
        harness.listeners.current.deliver(push_notification("push_front_door_ding.json", created))
        await wait_until(lambda: _device_events(harness, "7300000000000000101"), "the pushed ding")
    # The same ding in the history read by the next start's backfill.
    cloud.history["100001"].insert(0, {"id": 7300000000000000101, "kind": "ding", "created_at": created,
                                       "answered": False, "recording": {"status": "ready"}})
    again = harness.build(history_limit=5)
    async with harness.running(again):
        await wait_until(lambda: again.ctx.last_status == "connected", "connected again")
    assert len(await _device_events(harness, "7300000000000000101")) == 1


async def test_intercom_unlock_and_push_credentials_are_stored(harness: Harness) -> None:
    ring = harness.build(history_limit=0)
    async with harness.running(ring):
        await wait_until(lambda: ring.ctx.last_status == "connected", "connected")
        harness.listeners.current.deliver(legacy_notification("push_intercom_unlock_gcmdata.json"))
        await wait_until(lambda: harness.events("device_event", "event.building_entrance_unlock"), "the unlock")
    unlock = (await harness.events("device_event", "event.building_entrance_unlock"))[0]
    assert unlock.data["event_type"] == "intercom_unlock" and unlock.data["device"] == "Building Entrance"
    stored = json.loads(harness.token_path.read_text())
    assert stored["push_credentials"] == PUSH_CREDENTIALS
    assert stat.S_IMODE(harness.token_path.stat().st_mode) == 0o600
    # The next start hands the stored credentials to the listener (no new FCM registration).
    again = harness.build(history_limit=0)
    async with harness.running(again):
        await wait_until(lambda: again.ctx.last_status == "connected", "connected again")
        assert harness.listeners.current._credentials == PUSH_CREDENTIALS


async def test_push_from_a_skewed_clock_gets_the_arrival_time(harness: Harness) -> None:
    ring = harness.build(history_limit=0)
    async with harness.running(ring):
        await wait_until(lambda: ring.ctx.last_status == "connected", "connected")
        before = now_us()
        harness.listeners.current.deliver(push_notification("push_front_door_ding.json", iso_now(+7200)))
        await wait_until(lambda: _device_events(harness, "7300000000000000101"), "the skewed ding")
        after = now_us()
    ding = (await _device_events(harness, "7300000000000000101"))[0]
    assert before <= ding.time <= after
    assert ding.data["time_source"] == "received" and 7000 < ding.data["clock_skew_s"] < 7400


async def test_unknown_kinds_are_rejected_and_unknown_devices_kept(harness: Harness) -> None:
    ring = harness.build(history_limit=0)
    async with harness.running(ring):
        await wait_until(lambda: ring.ctx.last_status == "connected", "connected")
        odd = load_fixture("push_front_door_ding.json")
        odd["android_config"]["category"] = "com.ring.pn.live-event.something-new"
        harness.listeners.current._on_notification(
            {"data": {"android_config": json.dumps(odd["android_config"]),
                      "data": json.dumps(odd["data"]).replace("CREATED_AT", iso_now())}}, "pid-2")
        stranger = load_fixture("push_driveway_motion.json")
        stranger["data"]["device"]["id"] = 999999
        stranger["data"]["event"]["ding"]["id"] = "7300000000000000999"
        harness.listeners.current._on_notification(
            {"data": {"android_config": json.dumps(stranger["android_config"]),
                      "data": json.dumps(stranger["data"]).replace("CREATED_AT", iso_now())}}, "pid-3")
        await wait_until(lambda: _device_events(harness, "7300000000000000999"), "the stranger's motion")
        await wait_until(lambda: harness.events("input_rejected"), "the rejection")
    rejected = (await harness.events("input_rejected"))[0].data
    assert rejected["origin"] == "push" and "unknown kind 'Unknown'" in rejected["reason"]
    stranger_event = (await _device_events(harness, "7300000000000000999"))[0]
    assert stranger_event.entity_id is None and stranger_event.data["ring_device_id"] == 999999


async def test_without_push_active_dings_are_polled(harness: Harness, cloud: FakeRingCloud,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    harness.listeners.refuse = True
    active = load_fixture("active_dings.json")
    active[0]["now"] = now_us() / 1_000_000
    cloud.active_dings = active
    ring = harness.build(history_limit=0)
    async with harness.running(ring):
        await wait_until(lambda: _device_events(harness, "7300000000000000201"), "the polled ding")
        await wait_until(lambda: len(cloud.requests("GET", "/clients_api/dings/active")) >= 3, "more polls")
    connected = [s for s in await harness.status_events() if s["status"] == "connected"]
    assert "push unavailable (ClientConnectionError" in connected[0]["reason"]
    assert len(await _device_events(harness, "7300000000000000201")) == 1
    everything = json.dumps([e.to_dict() for e in await harness.events()])
    assert "SIP-SECRET-TOKEN" not in everything and "SIP-SECRET-TOKEN" not in caplog.text


async def test_push_is_retried_and_the_camera_follows_new_recordings(harness: Harness, cloud: FakeRingCloud) -> None:
    harness.listeners.refuse = True
    ring = harness.build(history_limit=0, health_interval=0.2)
    async with harness.running(ring):
        await wait_until(lambda: ring.ctx.last_status == "connected", "connected")
        assert ring.push is not None and not ring.push.running
        harness.listeners.refuse = False
        await wait_until(lambda: ring.push.running, "push to start on a later health poll")
        created = iso_now()
        cloud.history["200001"].insert(0, {"id": 7300000000000000102, "kind": "motion", "created_at": created,
                                           "recording": {"status": "ready"}})
        harness.listeners.current.deliver(push_notification("push_driveway_motion.json", created))
        await wait_until(lambda: ring.ctx.state("camera.driveway").attributes.get("last_recording_id")
                         == 7300000000000000102, "the camera to show the new recording")
    camera = ring.ctx.state("camera.driveway").attributes
    assert camera["last_event_kind"] == "motion" and "7300000000000000102.mp4" in camera["last_recording_url"]
