"""Commands: address lists, scripts, ping/traceroute, switches, approvals and rollback,
injection attempts; all through a real log (and once through the CommandRouter)."""

from __future__ import annotations

import pytest

from hub import events as ev
from hub.commands import CommandRouter, send_command
from hub.errors import CommandError
from hub.integration import Command
from hub.log import EventLog
from hub.store import EventFilter
from integrations.routeros import RouterOSIntegration
from integrations.routeros.console import quote
from tests.routeros.conftest import PASSWORD, Make
from tests.routeros.fake_router import FakeRouter
from tests.routeros.fake_ssh import FakeSshServer, tokenize

HOSTILE = ['blocked" ; /system reset-configuration', "x\n/system reboot", "$(/system reboot)",
           "a]; /user add name=evil", "x\\", "[/system reboot]", "l\u00e4nder", "a b", "", "-x"]


def cmd(command: str, entity_id: str | None = None, **data: object) -> Command:
    return Command(command, entity_id, dict(data), seq=0, source="test")


async def connected(make: Make, transport: str, **config: object) -> RouterOSIntegration:
    integ = make(transport=transport, **config)
    await integ.connect()
    await integ.poll_once()
    return integ


async def device_events(hub_log: EventLog, kind: str) -> list[dict[str, object]]:
    return [e.data for e in await hub_log.read(EventFilter(types=(ev.DEVICE_EVENT,)))
            if e.data.get("event_type") == kind]


@pytest.mark.parametrize("transport", ["rest", "ssh"])
async def test_address_list_add_and_remove(make: Make, router: FakeRouter, hub_log: EventLog, transport: str) -> None:
    integ = await connected(make, transport)
    try:
        result = await integ.handle_command(cmd("routeros.add_address_list", list="blocked", address="10.0.0.5"))
        assert result == {"added": True}
        entries = [(r["list"], r["address"]) for r in router.lists["ip/firewall/address-list"]]
        assert ("blocked", "10.0.0.5") in entries
        assert hub_log.current_state("sensor.router_address_list_blocked").state == "2"  # type: ignore[union-attr]
        again = await integ.handle_command(cmd("routeros.add_address_list", list="blocked", address="10.0.0.5"))
        assert again is not None and again["added"] is False
        assert await integ.handle_command(cmd("remove_address_list", list="blocked", address="10.0.0.5")) == {
            "removed": 1}
        assert ("blocked", "10.0.0.5") not in [(r["list"], r["address"]) for r in router.lists[
            "ip/firewall/address-list"]]
        with pytest.raises(CommandError, match="not on list"):
            await integ.handle_command(cmd("remove_address_list", list="blocked", address="10.0.0.5"))
    finally:
        await integ.disconnect()
    writes = await device_events(hub_log, "routeros_write")
    assert [("added" in w, "removed" in w) for w in writes] == [(True, False), (False, True)]
    assert all(w["via"] == transport for w in writes)


@pytest.mark.parametrize("transport", ["rest", "ssh"])
async def test_console_syntax_in_names_is_refused_and_recorded(make: Make, router: FakeRouter, ssh: FakeSshServer,
                                                               hub_log: EventLog, transport: str) -> None:
    integ = await connected(make, transport)
    before = [dict(r) for r in router.lists["ip/firewall/address-list"]]
    sent_before = list(ssh.commands)
    try:
        for hostile in HOSTILE:
            with pytest.raises(CommandError, match="list must be"):
                await integ.handle_command(cmd("routeros.add_address_list", list=hostile, address="10.0.0.5"))
            with pytest.raises(CommandError, match="address must be"):
                await integ.handle_command(cmd("routeros.add_address_list", list="blocked", address=hostile))
            with pytest.raises(CommandError, match="name must be"):
                await integ.handle_command(cmd("routeros.run_script", name=hostile))
        with pytest.raises(CommandError, match="address must be an IP"):
            await integ.handle_command(cmd("routeros.ping", address="8.8.8.8 count=100000"))
        with pytest.raises(CommandError, match="count must be"):
            await integ.handle_command(cmd("routeros.ping", address="8.8.8.8", count="3;/system reboot"))
    finally:
        await integ.disconnect()
    assert router.lists["ip/firewall/address-list"] == before and router.scripts_run == []
    assert ssh.commands[len(sent_before):] == [] or transport == "ssh"
    if transport == "ssh":  # nothing that reached the console carried the hostile text
        assert not any("reset-configuration" in c or "reboot" in c for c in ssh.commands)
    rejected = await hub_log.read(EventFilter(types=(ev.INPUT_REJECTED,)))
    assert len(rejected) == 3 * len(HOSTILE) + 2
    assert rejected[0].data["origin"] == "command routeros.add_address_list"


def test_quoting_reads_back_exactly_through_an_independent_console_reader() -> None:
    for value in HOSTILE + ['"', "\\\"", "?", "$x", "\t\r\n", "\x00\x1f\x7f", "😀"]:
        tokens = tokenize(f"/ip firewall address-list add list={quote(value)} address=\"10.0.0.1\"")
        assert len(tokens) == 6, (value, tokens)  # one command, one argument: nothing escaped the string
        assert tokens[4] == "list=\0" + value


async def test_ssh_commands_are_quoted(make: Make, ssh: FakeSshServer, router: FakeRouter) -> None:
    router.lists["system/script"].append({".id": "*2", "name": "night-mode.v2", "invalid": "false"})
    integ = await connected(make, "ssh")
    try:
        await integ.handle_command(cmd("routeros.run_script", name="night-mode.v2"))
        await integ.handle_command(cmd("routeros.add_address_list", list="guest.v2", address="10.1.0.0/16"))
    finally:
        await integ.disconnect()
    assert router.scripts_run == ["night-mode.v2"]
    assert '/system script run [find where name="night-mode.v2"]' in ssh.commands
    assert '/ip firewall address-list add list="guest.v2" address="10.1.0.0/16"' in ssh.commands


async def test_run_script_ping_traceroute_record_events(make: Make, router: FakeRouter, hub_log: EventLog) -> None:
    integ = await connected(make, "rest")
    try:
        assert await integ.handle_command(cmd("routeros.run_script", name="backup")) == {"ran": "backup"}
        with pytest.raises(CommandError, match="no script named 'nothere'"):
            await integ.handle_command(cmd("routeros.run_script", name="nothere"))
        ping = await integ.handle_command(cmd("routeros.ping", address="192.168.88.254", count="4"))
        assert ping == {"address": "192.168.88.254", "sent": 4, "received": 4, "packet_loss": 0, "avg_rtt_ms": 1.45}
        lost = await integ.handle_command(cmd("routeros.ping", address="10.9.9.99"))
        assert lost is not None and lost["received"] == 0 and lost["packet_loss"] == 100
        trace = await integ.handle_command(cmd("routeros.traceroute", address="1.1.1.1"))
        assert trace is not None and [h["address"] for h in trace["hops"]] == ["192.168.88.1", "1.1.1.1"]
    finally:
        await integ.disconnect()
    assert router.scripts_run == ["backup"]
    pings = await device_events(hub_log, "routeros_ping")
    assert [p["received"] for p in pings] == [4, 0]
    assert (await device_events(hub_log, "routeros_traceroute"))[0]["hops"]  # type: ignore[index]


async def test_turn_on_applies_turn_off_waits_for_approval(make: Make, router: FakeRouter, hub_log: EventLog) -> None:
    integ = await connected(make, "rest")
    try:
        assert await integ.handle_command(cmd("turn_on", "switch.router_ether3")) == {"changed": True}
        assert hub_log.current_state("switch.router_ether3").state == "on"  # type: ignore[union-attr]
        result = await integ.handle_command(cmd("turn_off", "switch.router_ether3"))
        assert result is not None and result["approval_required"] is True
        assert result["plan"]["current"] == {"disabled": False} and result["plan"]["intended"] == {"disabled": True}
        assert router.item("interface", "*3")["disabled"] == "false"  # nothing executed yet
        approved = await integ.handle_command(cmd("routeros.approve", token=result["approval_token"]))
        assert approved is not None and approved["applied"] and approved["reachable"]
        assert router.item("interface", "*3")["disabled"] == "true"
        assert hub_log.current_state("switch.router_ether3").state == "off"  # type: ignore[union-attr]
    finally:
        await integ.disconnect()


async def test_tokens_forged_expired_reused_or_stale_are_refused(make: Make, router: FakeRouter,
                                                                 hub_log: EventLog) -> None:
    integ = await connected(make, "rest")
    try:
        plan = await integ.handle_command(cmd("routeros.set_dns", servers="192.0.2.1, 192.0.2.2"))
        assert plan is not None and plan["plan"]["current"] == {"servers": "1.1.1.1,9.9.9.9"}
        assert plan["plan"]["intended"] == {"servers": "192.0.2.1,192.0.2.2"}
        token = plan["approval_token"]
        payload, signature = token.split(".")
        forged = payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
        with pytest.raises(CommandError, match="signature does not verify"):
            await integ.handle_command(cmd("routeros.approve", token=forged))
        other = make(transport="rest")  # another process, another key
        foreign = other.approvals.issue("x", "x", integ.approvals._pending[next(iter(integ.approvals._pending))]
                                        .change)[1]
        with pytest.raises(CommandError, match="signature"):
            await integ.handle_command(cmd("routeros.approve", token=foreign))
        with pytest.raises(CommandError, match="malformed"):
            await integ.handle_command(cmd("routeros.approve", token=None))
        assert router.singletons["ip/dns"]["servers"] == "1.1.1.1,9.9.9.9"
        assert (await integ.handle_command(cmd("routeros.approve", token=token)))["applied"]  # type: ignore[index]
        assert router.singletons["ip/dns"]["servers"] == "192.0.2.1,192.0.2.2"
        with pytest.raises(CommandError, match="already used"):
            await integ.handle_command(cmd("routeros.approve", token=token))
        integ.approvals.ttl_us = -1
        expired = (await integ.handle_command(cmd("routeros.set_dns", servers="192.0.2.9")))["approval_token"]  # type: ignore[index]
        with pytest.raises(CommandError, match="expired"):
            await integ.handle_command(cmd("routeros.approve", token=expired))
        integ.approvals.ttl_us = 60_000_000
        stale = (await integ.handle_command(cmd("routeros.set_dns", servers="192.0.2.9")))["approval_token"]  # type: ignore[index]
        router.singletons["ip/dns"]["servers"] = "8.8.8.8"  # someone changed it meanwhile
        with pytest.raises(CommandError, match="changed since the plan"):
            await integ.handle_command(cmd("routeros.approve", token=stale))
        assert router.singletons["ip/dns"]["servers"] == "8.8.8.8"
    finally:
        await integ.disconnect()
    rejected = await hub_log.read(EventFilter(types=(ev.INPUT_REJECTED,)))
    assert len(rejected) == 6 and all(token not in str(e.data) for e in rejected)


async def test_a_write_that_cuts_the_router_off_is_rolled_back(make: Make, router: FakeRouter, hub_log: EventLog,
                                                               ssh: FakeSshServer) -> None:
    router.management = {"ether2"}  # the hub reaches the REST API through ether2
    integ = await connected(make, "rest", verify_timeout="1.5s")
    try:
        plan = await integ.handle_command(cmd("turn_off", "switch.router_ether2"))
        assert plan is not None
        with pytest.raises(CommandError, match="rolled back"):
            await integ.handle_command(cmd("routeros.approve", token=plan["approval_token"]))
    finally:
        await integ.disconnect()
    assert router.item("interface", "*2")["disabled"] == "false"
    assert [w[2] for w in router.writes] == [{".id": "*2", "disabled": "true"}, {".id": "*2", "disabled": "no"}]
    write = (await device_events(hub_log, "routeros_write"))[0]
    rollback = (await device_events(hub_log, "routeros_rollback"))[0]
    assert write["intended"] == {"disabled": True} and write["via"] == "rest"
    assert rollback["rolled_back"] is True and rollback["via"] == "ssh" and rollback["reachable"] is False


async def test_a_rollback_that_cannot_reach_the_router_says_so(make: Make, router: FakeRouter, hub_log: EventLog,
                                                               ssh: FakeSshServer) -> None:
    router.management = {"ether2"}
    integ = await connected(make, "rest")
    ssh.mode = "silent"
    try:
        plan = await integ.handle_command(cmd("turn_off", "switch.router_ether2"))
        with pytest.raises(CommandError, match="rollback failed.*restore by hand"):
            await integ.handle_command(cmd("routeros.approve", token=plan["approval_token"]))  # type: ignore[index]
    finally:
        await integ.disconnect()
    rollback = (await device_events(hub_log, "routeros_rollback"))[0]
    assert rollback["rolled_back"] is False


async def test_through_the_command_router(make: Make, router: FakeRouter, hub_log: EventLog) -> None:
    """`hub send router routeros.add_address_list ...`: the instance id as target, outcome in the log."""
    integ = await connected(make, "rest")
    commands = CommandRouter(hub_log)
    commands.add_owner("router", lambda t: t == "router" or t in integ.ctx.owned, integ.handle_command)
    import asyncio

    task = asyncio.create_task(commands.run())
    try:
        await asyncio.sleep(0)
        _, outcome = await send_command(hub_log, "routeros.set_dns", "router", {"servers": "192.0.2.1"}, source="cli")
        assert outcome is not None and outcome.type == ev.COMMAND_SUCCEEDED
        result = outcome.data["result"]["router"]
        assert result["approval_required"] is True and router.singletons["ip/dns"]["servers"] == "1.1.1.1,9.9.9.9"
        _, done = await send_command(hub_log, "routeros.approve", "router", {"token": result["approval_token"]},
                                     source="cli")
        assert done is not None and done.type == ev.COMMAND_SUCCEEDED
        assert router.singletons["ip/dns"]["servers"] == "192.0.2.1"
        _, bad = await send_command(hub_log, "routeros.add_address_list", "router",
                                    {"list": "x\";/system reboot", "address": "10.0.0.1"}, source="cli")
        assert bad is not None and bad.type == ev.COMMAND_FAILED and "list must be" in bad.data["reason"]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await integ.disconnect()
    every = await hub_log.read(EventFilter())
    assert PASSWORD not in str([e.data for e in every])
    write = [e for e in every if e.type == ev.DEVICE_EVENT and e.data["event_type"] == "routeros_write"][0]
    assert write.causation is not None  # the approve request caused it
