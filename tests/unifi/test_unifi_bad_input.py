"""Bad input: malformed entries, HTML where JSON was expected, a hung controller, oversize answers,
10,000 clients, and secrets that must never reach the log."""

from __future__ import annotations

import json
import logging

import pytest
from conftest import Served, running, state, status_row, unifi_config, until
from unifi_fake import FakeController, SilentServer

from hub import events as ev
from hub.commands import send_command
from hub.log import EventLog
from hub.store import EventFilter


async def rows(log: EventLog, type_: str) -> list[ev.Event]:
    return await log.read(EventFilter(types=(type_,), limit=100_000))


async def test_bad_entries_are_rejected_one_by_one(hub_log: EventLog, served: Served,
                                                  controller: FakeController) -> None:
    controller.active = controller.active + [
        {"hostname": "no-mac-at-all", "ip": "192.168.1.99"},
        {"mac": "zz:zz", "hostname": "garbled"},
        {"mac": "aa:bb:cc:dd:ee:01", "hostname": "typed-wrong", "is_wired": "yes"},
        "not an object",
    ]
    controller.active[0]["some_future_field"] = {"nested": [1, 2, 3]}
    controller.devices = controller.devices + [{"mac": "aa:bb:cc:dd:ee:02", "name": "no type"}]
    async with running(hub_log, unifi_config(served.url, websocket=False)) as r:
        await until(lambda: r.integration.polls >= 1, "a poll")
        rejected = await rows(hub_log, ev.INPUT_REJECTED)
        reasons = [e.data["reason"] for e in rejected]
        assert any("`mac` is missing" in x for x in reasons)
        assert any("'zz:zz'" in x for x in reasons)
        assert any("`is_wired` is str" in x for x in reasons)
        assert any("not an object" in x for x in reasons)
        assert any("`type` is missing" in x for x in reasons)
        assert all(e.data["origin"].startswith("unifi 127.0.0.1") for e in rejected)
        assert any("no-mac-at-all" in e.data["excerpt"] for e in rejected)
        # the good entries (with unknown fields) went through
        assert state(hub_log, "device_tracker.alice_s_iphone") == "home"
        assert state(hub_log, "sensor.hallway_ap_state") == "connected"
        assert r.ctx.last_status == "connected"


async def test_rejections_per_poll_are_capped(hub_log: EventLog, served: Served, controller: FakeController) -> None:
    controller.active = controller.active + [{"hostname": f"bad-{i}"} for i in range(50)]
    async with running(hub_log, unifi_config(served.url, websocket=False, poll_interval="60s")) as r:
        await until(lambda: r.integration.polls >= 1, "a poll")
        rejected = await rows(hub_log, ev.INPUT_REJECTED)
        assert len(rejected) == 11
        assert "more than 10 bad entries" in rejected[-1].data["reason"]


async def test_html_error_page(hub_log: EventLog, served: Served, controller: FakeController) -> None:
    async with running(hub_log, unifi_config(served.url, websocket=False)) as r:
        await until(lambda: r.integration.polls >= 1, "a poll")
        controller.answer_html = 1
        rejected = (await until(lambda: rows(hub_log, ev.INPUT_REJECTED), "the HTML page rejected"))[0]
        assert "HTTP 502 with text/html where JSON was expected" in rejected.data["reason"]
        assert "502 Bad Gateway" in rejected.data["excerpt"] and len(rejected.data["excerpt"]) <= 1024
        await status_row(hub_log, "unavailable")
        await status_row(hub_log, "connected")
        statuses = [e.data["status"] for e in await rows(hub_log, ev.INTEGRATION_STATUS)]
        assert statuses == ["connected", "unavailable", "connected"]


async def test_oversize_answer(hub_log: EventLog, served: Served, controller: FakeController) -> None:
    async with running(hub_log, unifi_config(served.url, websocket=False, max_response_bytes=1500)):
        rejected = (await until(lambda: rows(hub_log, ev.INPUT_REJECTED), "the oversize answer rejected"))[0]
        assert "more than 1500 bytes" in rejected.data["reason"]
        await status_row(hub_log, "unavailable")


async def test_hung_controller_times_out(hub_log: EventLog) -> None:
    silent = SilentServer()
    port = await silent.start()
    try:
        async with running(hub_log, unifi_config(f"http://127.0.0.1:{port}", timeout="0.2s")) as r:
            await until(lambda: r.supervisor.items["unifi"].restarts >= 2, "two timed-out attempts")
            statuses = await rows(hub_log, ev.INTEGRATION_STATUS)
            assert [e.data["status"] for e in statuses] == ["unavailable"]  # recorded once, not per retry
            assert "timed out after 0.2s" in statuses[0].data["reason"]
            assert silent.accepted >= 2
            _, outcome = await send_command(hub_log, "unifi.speedtest", "unifi", source="cli", timeout=5)
            assert outcome is not None and outcome.type == ev.COMMAND_FAILED
    finally:
        await silent.stop()


def _clients(n: int) -> list[dict[str, object]]:
    template = json.loads(json.dumps(FakeController().active[0]))
    out = []
    for i in range(n):
        entry = dict(template)
        entry.update(mac=f"02:10:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}:01", name=f"Client {i}",
                     hostname=f"client-{i}", ip=f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",
                     is_wired=i % 4 == 0)
        out.append(entry)
    return out


async def test_ten_thousand_clients(hub_log: EventLog, served: Served, controller: FakeController) -> None:
    controller.active = _clients(10_000)
    config = unifi_config(served.url, websocket=False, poll_interval="0.2s", timeout="20s")
    async with running(hub_log, config) as r:
        await until(lambda: r.integration.polls >= 2, "two polls of 10,000 clients", timeout=60)
        assert state(hub_log, "sensor.unifi_clients_wired") == "2500"
        assert state(hub_log, "sensor.unifi_clients_wireless") == "7500"
        assert len(r.integration.tracked) == 1000  # max_tracked_clients bounds the entities
        trackers = [s for s in hub_log.current_states() if s.entity_id.startswith("device_tracker.")]
        assert len(trackers) == 1000
        assert len(r.integration.clients()) == 10_002  # plus two named/blocked known clients from rest/user
        assert r.integration.health()["clients"]["total"] == 10_000
        assert r.ctx.last_status == "connected" and r.ctx.rejected == 0


async def test_secrets_never_reach_the_log(hub_log: EventLog, served: Served, controller: FakeController,
                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with running(hub_log, unifi_config(served.url)) as r:
        await until(lambda: r.integration.polls >= 1 and r.integration.websocket_connected, "connected")
        controller.expire_sessions()
        await send_command(hub_log, "unifi.block_client", "device_tracker.nas", source="cli")
        controller.answer_html = 1
        await until(lambda: r.ctx.rejected >= 1, "a rejection")
        await until(lambda: r.ctx.last_status == "connected" and controller.logins >= 3, "back")
    async with running(hub_log, unifi_config(served.url, password="pw-Wrong-0815")) as r:
        await until(lambda: r.ctx.last_status == "auth_failed", "auth_failed")
    everything = json.dumps([e.to_dict() for e in await hub_log.read(EventFilter(limit=100_000))])
    # httpcore's DEBUG trace prints raw headers of every library user; the daemon keeps it at INFO.
    logged = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records if not r.name.startswith("httpcore"))
    text = everything + logged
    assert controller.issued, "the controller handed out tokens"
    for secret in ["pw-Secret-4711", "pw-Wrong-0815", *controller.issued]:
        assert secret not in text
