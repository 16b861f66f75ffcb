"""Commands through the log: block/unblock/kick, the block switch, restart, speed test, refusals."""

from __future__ import annotations

from conftest import Served, running, state, unifi_config, until
from unifi_fake import FakeController

from hub import events as ev
from hub.commands import send_command
from hub.log import EventLog
from hub.store import EventFilter


async def test_block_unblock_and_switch(hub_log: EventLog, served: Served, controller: FakeController) -> None:
    async with running(hub_log, unifi_config(served.url, websocket=False)) as r:
        await until(lambda: r.integration.polls >= 1, "a poll")
        request, outcome = await send_command(hub_log, "unifi.block_client", "device_tracker.alice_s_iphone",
                                              source="cli")
        assert outcome is not None and outcome.type == ev.COMMAND_SUCCEEDED, outcome
        assert controller.commands[-1] == {"path": "cmd/stamgr", "cmd": "block-sta", "mac": "a4:83:e7:11:22:33"}
        assert state(hub_log, "switch.alice_s_iphone_network") == "off"
        change = (await hub_log.read(EventFilter(types=(ev.STATE_CHANGED,), entity_id="switch.alice_s_iphone_network",
                                                 descending=True, limit=1)))[0]
        assert change.causation == request.seq  # the switch went off because of the command
        _, outcome = await send_command(hub_log, "switch.turn_on", "switch.alice_s_iphone_network", source="cli")
        assert outcome is not None and outcome.type == ev.COMMAND_SUCCEEDED
        assert controller.commands[-1]["cmd"] == "unblock-sta"
        assert state(hub_log, "switch.alice_s_iphone_network") == "on"
        _, outcome = await send_command(hub_log, "toggle", "switch.alice_s_iphone_network", source="cli")
        assert controller.commands[-1]["cmd"] == "block-sta"
        # the poll agrees with what the controller now stores
        polls = r.integration.polls
        await until(lambda: r.integration.polls >= polls + 2, "polls")
        assert state(hub_log, "switch.alice_s_iphone_network") == "off"
        assert controller.csrf_refused == 0


async def test_kick_restart_and_instance_target(hub_log: EventLog, served: Served, controller: FakeController) -> None:
    async with running(hub_log, unifi_config(served.url, websocket=False)) as r:
        await until(lambda: r.integration.polls >= 1, "a poll")
        _, outcome = await send_command(hub_log, "unifi.kick_client", "switch.nas_network", source="cli")
        assert outcome is not None and outcome.type == ev.COMMAND_SUCCEEDED
        assert controller.commands[-1] == {"path": "cmd/stamgr", "cmd": "kick-sta", "mac": "00:11:32:aa:bb:cc"}
        _, outcome = await send_command(hub_log, "unifi.restart_device", "sensor.hallway_ap_cpu", source="cli")
        assert outcome is not None and outcome.type == ev.COMMAND_SUCCEEDED
        assert controller.commands[-1] == {"path": "cmd/devmgr", "cmd": "restart", "mac": "78:8a:20:aa:bb:01",
                                           "reboot_type": "soft"}
        _, outcome = await send_command(hub_log, "unifi.block_client", "unifi", {"mac": "D8:EB:46:77:88:99"},
                                        source="cli")
        assert outcome is not None and outcome.type == ev.COMMAND_SUCCEEDED
        assert controller.commands[-1]["mac"] == "d8:eb:46:77:88:99"


async def test_refusals_are_command_failed(hub_log: EventLog, served: Served, controller: FakeController) -> None:
    async with running(hub_log, unifi_config(served.url, websocket=False)) as r:
        await until(lambda: r.integration.polls >= 1, "a poll")
        _, outcome = await send_command(hub_log, "unifi.block_client", "unifi", {"mac": "00:00:00:00:00:99"},
                                        source="cli")
        assert outcome is not None and outcome.type == ev.COMMAND_FAILED
        assert "api.err.UnknownStation" in outcome.data["reason"]
        _, outcome = await send_command(hub_log, "unifi.restart_device", "device_tracker.nas", source="cli")
        assert outcome is not None and outcome.type == ev.COMMAND_FAILED
        assert "does not apply" in outcome.data["reason"]
        _, outcome = await send_command(hub_log, "unifi.block_client", "unifi", {"mac": "not-a-mac"}, source="cli")
        assert outcome is not None and "not a MAC address" in outcome.data["reason"]
        _, outcome = await send_command(hub_log, "turn_off", "device_tracker.nas", source="cli")
        assert outcome is not None and outcome.type == ev.COMMAND_FAILED


async def test_command_after_session_expiry(hub_log: EventLog, served: Served, controller: FakeController) -> None:
    async with running(hub_log, unifi_config(served.url, poll_interval="60s", websocket=False)) as r:
        await until(lambda: r.integration.polls >= 1, "a poll")
        controller.expire_sessions()
        _, outcome = await send_command(hub_log, "unifi.block_client", "device_tracker.nas", source="cli")
        assert outcome is not None and outcome.type == ev.COMMAND_SUCCEEDED, outcome
        assert controller.logins == 2 and controller.csrf_refused == 0


async def test_speedtest_records_its_result(hub_log: EventLog, served: Served, controller: FakeController) -> None:
    async with running(hub_log, unifi_config(served.url, websocket=False)) as r:
        await until(lambda: r.integration.polls >= 1, "a poll")
        assert state(hub_log, "sensor.unifi_speedtest_download") == "231.78"  # from stat/health
        request, outcome = await send_command(hub_log, "unifi.speedtest", "unifi", source="cli")
        assert outcome is not None and outcome.type == ev.COMMAND_SUCCEEDED
        assert outcome.data["result"] == {"unifi": {"started": True}}

        async def finished() -> list[ev.Event]:
            return await hub_log.read(EventFilter(types=(ev.DEVICE_EVENT,), text="speedtest_finished"))

        rows = await until(finished, "speedtest_finished")
        assert rows[0].causation == request.seq and rows[0].correlation == request.correlation
        assert rows[0].data["download_mbps"] == 245.3 and rows[0].data["ping_ms"] == 11
        assert state(hub_log, "sensor.unifi_speedtest_download") == "245.3"
        assert state(hub_log, "sensor.unifi_speedtest_upload") == "41.2"
        assert r.integration.health()["speedtest"]["download_mbps"] == 245.3
        assert controller.api_requests("cmd/devmgr") >= 4  # status, start, then status until done
