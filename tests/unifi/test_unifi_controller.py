"""The integration against the fake controller on loopback: both kinds, entities, presence, re-login."""

from __future__ import annotations

import json

from conftest import Served, running, state, status_row, unifi_config, until
from unifi_fake import FIXTURES, FakeController

from hub import events as ev
from hub.log import EventLog
from hub.store import EventFilter


async def events_of(log: EventLog, type_: str) -> list[ev.Event]:
    return await log.read(EventFilter(types=(type_,), limit=100_000))


async def test_unifi_os_login_and_entities(hub_log: EventLog, served: Served, controller: FakeController) -> None:
    async with running(hub_log, unifi_config(served.url)) as r:
        await until(lambda: r.integration.polls >= 2, "two polls")
        assert r.integration.client is not None and r.integration.client.unifi_os is True
        assert ("POST", "/api/auth/login") in controller.requests
        assert controller.api_requests("/proxy/network/api/s/default/stat/sta") >= 2
        # connected clients are home; a blocked known client is tracked, not home, its switch off
        assert state(hub_log, "device_tracker.alice_s_iphone") == "home"
        assert state(hub_log, "device_tracker.nas") == "home"
        assert state(hub_log, "switch.alice_s_iphone_network") == "on"
        assert state(hub_log, "device_tracker.kids_tv") == "not_home"
        assert state(hub_log, "switch.kids_tv_network") == "off"
        # an anonymous, unnamed guest from rest/user is not tracked
        assert not [s for s in hub_log.current_states() if "02_00_00" in s.entity_id]
        attrs = hub_log.current_state("device_tracker.alice_s_iphone").attributes  # type: ignore[union-attr]
        assert attrs["ip"] == "192.168.1.23" and attrs["essid"] == "Home" and attrs["is_wired"] is False
        assert state(hub_log, "sensor.unifi_clients_wired") == "1"
        assert state(hub_log, "sensor.unifi_clients_wireless") == "2"
        assert state(hub_log, "sensor.unifi_wan_status") == "ok"
        assert state(hub_log, "sensor.unifi_wan_download") == "10.0"
        assert state(hub_log, "sensor.unifi_wan_upload") == "2.0"
        assert state(hub_log, "sensor.hallway_ap_state") == "connected"
        assert state(hub_log, "sensor.hallway_ap_clients") == "2"
        assert state(hub_log, "sensor.hallway_ap_cpu") == "7.4"
        assert state(hub_log, "sensor.office_switch_memory") == "35.5"
        assert state(hub_log, "sensor.dream_machine_pro_uptime") == "2592000"
        statuses = [e.data["status"] for e in await events_of(hub_log, ev.INTEGRATION_STATUS)]
        assert statuses == ["connected"]
        # steady polls add no state changes for unchanged clients
        before = len(await events_of(hub_log, ev.STATE_CHANGED))
        polls = r.integration.polls
        await until(lambda: r.integration.polls >= polls + 3, "three more polls")
        changed = [e.entity_id for e in await events_of(hub_log, ev.STATE_CHANGED)][before:]
        assert not [e for e in changed if e and e.startswith(("device_tracker.", "switch."))]


async def test_classic_controller(hub_log: EventLog, tmp_path: object) -> None:
    controller = FakeController(unifi_os=False)
    served = Served(controller)
    await served.start()
    try:
        async with running(hub_log, unifi_config(served.url)) as r:
            await until(lambda: r.integration.polls >= 1, "a poll")
            assert r.integration.client is not None and r.integration.client.unifi_os is False
            assert ("POST", "/api/login") in controller.requests
            assert controller.api_requests("/api/s/default/stat/device") >= 1
            assert not any(p.startswith("/proxy") for _, p in controller.requests)
            await r.router.execute(await hub_log.append(_request("unifi.kick_client", "device_tracker.nas")))
            assert controller.commands[-1] == {"path": "cmd/stamgr", "cmd": "kick-sta", "mac": "00:11:32:aa:bb:cc"}
            assert controller.csrf_refused == 0
    finally:
        await served.stop()


def _request(command: str, target: str, data: dict[str, object] | None = None) -> ev.Event:
    from hub.commands import request_event

    return request_event(command, target, data, source="cli")


async def test_api_key(hub_log: EventLog) -> None:
    controller = FakeController(api_key="key-ABCDEF-123456")
    served = Served(controller)
    await served.start()
    try:
        config = unifi_config(served.url, username=None, password=None, api_key="key-ABCDEF-123456")
        async with running(hub_log, config) as r:
            await until(lambda: r.integration.polls >= 1, "a poll")
            await until(lambda: controller.ws_opened >= 1, "the websocket with the API key")
            assert controller.logins == 0 and controller.unauthorized == 0
            assert state(hub_log, "device_tracker.alice_s_iphone") == "home"
    finally:
        await served.stop()


async def test_wrong_password_is_auth_failed(hub_log: EventLog, served: Served, controller: FakeController) -> None:
    async with running(hub_log, unifi_config(served.url, password="wrong")):
        row = await status_row(hub_log, "auth_failed")
        assert "refused (HTTP 401)" in row.data["reason"] and "'hubuser'" in row.data["reason"]
        assert controller.refused_logins >= 1


async def test_session_expiry_logs_in_again(hub_log: EventLog, served: Served, controller: FakeController) -> None:
    async with running(hub_log, unifi_config(served.url, websocket=False)) as r:
        await until(lambda: r.integration.polls >= 1, "a poll")
        assert controller.logins == 1
        controller.expire_sessions()
        polls = r.integration.polls
        await until(lambda: r.integration.polls >= polls + 2, "polls after expiry")
        assert controller.logins == 2 and controller.unauthorized >= 1
        statuses = [e.data["status"] for e in await events_of(hub_log, ev.INTEGRATION_STATUS)]
        assert statuses == ["connected"]  # a re-login is not an outage


async def test_controller_restart_mid_session(hub_log: EventLog, served: Served, controller: FakeController) -> None:
    async with running(hub_log, unifi_config(served.url)) as r:
        await until(lambda: controller.ws_opened >= 1 and r.integration.polls >= 1, "connected with websocket")
        await served.stop()
        await until(lambda: r.ctx.last_status == "unavailable", "unavailable while the controller is down")
        assert state(hub_log, "device_tracker.alice_s_iphone") == "unavailable"
        await served.restart()
        await until(lambda: r.ctx.last_status == "connected", "connected again")
        await until(lambda: state(hub_log, "device_tracker.alice_s_iphone") == "home", "home again")
        await until(lambda: controller.ws_opened >= 2, "websocket again")
        assert controller.logins >= 2
        reasons = [e.data["reason"] for e in await events_of(hub_log, ev.INTEGRATION_STATUS)
                   if e.data["status"] == "unavailable"]
        assert reasons and "127.0.0.1" in reasons[0]


async def test_429_backs_off_without_an_outage(hub_log: EventLog, served: Served, controller: FakeController) -> None:
    async with running(hub_log, unifi_config(served.url, websocket=False)) as r:
        await until(lambda: r.integration.polls >= 1, "a poll")
        controller.answer_429 = 3
        polls = r.integration.polls
        await until(lambda: r.integration.polls >= polls + 2, "polls after the 429s")
        assert controller.answer_429 == 0
        statuses = [e.data["status"] for e in await events_of(hub_log, ev.INTEGRATION_STATUS)]
        assert statuses == ["connected"]


async def test_presence_follows_consider_home(hub_log: EventLog, served: Served, controller: FakeController) -> None:
    async with running(hub_log, unifi_config(served.url, consider_home="0.3s", websocket=False)) as r:
        await until(lambda: state(hub_log, "device_tracker.bobs_laptop") == "home", "laptop home")
        controller.active = [c for c in controller.active if c["mac"] != "3c:a9:f4:44:55:66"]
        controller.known.append({"mac": "3c:a9:f4:44:55:66", "hostname": "bobs-laptop", "last_seen": 0})
        await until(lambda: state(hub_log, "device_tracker.bobs_laptop") == "not_home", "laptop gone")
        assert r.integration.clients_by_mac["3c:a9:f4:44:55:66"].connected is False


async def test_websocket_events(hub_log: EventLog, served: Served, controller: FakeController) -> None:
    frames = json.loads((FIXTURES / "ws_events.json").read_text())
    async with running(hub_log, unifi_config(served.url, poll_interval="60s")) as r:
        await until(lambda: r.integration.websocket_connected and r.integration.polls >= 1, "websocket and a poll")
        assert state(hub_log, "device_tracker.kids_tv") == "not_home"
        await controller.push(frames["connected"])
        await until(lambda: state(hub_log, "device_tracker.kids_tv") == "home", "connect event")
        await controller.push(frames["roamed"])
        await until(lambda: hub_log.current_state("device_tracker.alice_s_iphone").attributes.get("ap_mac")  # type: ignore[union-attr]
                    == "78:8a:20:aa:bb:09", "roam event")
        await controller.push("<html>not json</html>")
        await controller.push({"meta": {"rc": "ok", "message": "events"}, "data": [{"no": "key"}]})
        await until(lambda: r.ctx.rejected >= 2, "bad frames rejected")
        kinds = [e.data["event_type"] for e in await events_of(hub_log, ev.DEVICE_EVENT)]
        assert kinds == ["client_connected", "client_roamed"]
        await controller.push(frames["connected"])  # the same event id again: stored once
        await controller.push(frames["disconnected"])
        await until(lambda: not r.integration.tracked["3c:a9:f4:44:55:66"].connected, "disconnect")
        rows = await events_of(hub_log, ev.DEVICE_EVENT)
        assert [e.data["event_type"] for e in rows] == ["client_connected", "client_roamed", "client_disconnected"]
        assert rows[-1].entity_id == "device_tracker.bobs_laptop"
        # within consider_home the disconnected laptop is still home
        assert state(hub_log, "device_tracker.bobs_laptop") == "home"


async def test_websocket_refused_falls_back_to_polling(hub_log: EventLog, served: Served,
                                                       controller: FakeController) -> None:
    controller.ws_refuse = True
    async with running(hub_log, unifi_config(served.url)) as r:
        await until(lambda: r.integration.polls >= 3, "polls without websocket")
        assert r.integration.websocket_connected is False
        assert r.ctx.last_status == "connected"
        assert state(hub_log, "device_tracker.alice_s_iphone") == "home"
