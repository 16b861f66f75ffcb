"""SSH: RouterOS 6 console output, host key pinning, partial output, silence, REST failover."""

from __future__ import annotations

import asyncio

import pytest

from hub import events as ev
from hub.log import EventLog
from hub.store import EventFilter
from integrations.routeros.errors import HostKeyChanged, Unreachable
from tests.routeros.conftest import PASSWORD, Make, running, wait_for
from tests.routeros.fake_rest import FakeRestServer
from tests.routeros.fake_router import FakeRouter
from tests.routeros.fake_ssh import FakeSshServer


def state(hub_log: EventLog, entity_id: str) -> str | None:
    s = hub_log.current_state(entity_id)
    return None if s is None else s.state


async def test_routeros6_over_ssh_from_recorded_output(make: Make, hub_log: EventLog,
                                                       ros6_recorded: dict[str, str]) -> None:
    empty = FakeRouter("empty.json")
    server = await FakeSshServer(empty, password=PASSWORD, recorded=ros6_recorded).start()
    try:
        integ = make(transport="ssh", ssh_port=server.port)
        await integ.connect()
        try:
            await integ.poll_once()
        finally:
            await integ.disconnect()
    finally:
        await server.stop()
    assert state(hub_log, "sensor.router_version") == "6.49.7 (long-term)"
    assert state(hub_log, "sensor.router_uptime") == str(17 * 86400 + 3723)
    assert state(hub_log, "sensor.router_temperature") == "41.0"
    assert state(hub_log, "sensor.router_voltage") == "23.9"
    assert state(hub_log, "switch.router_ether1") == "on"
    assert state(hub_log, "switch.router_wlan1") == "off"
    assert state(hub_log, "binary_sensor.router_wlan1_running") == "off"
    ether1 = hub_log.current_state("switch.router_ether1")
    assert ether1 is not None and ether1.attributes["comment"] == "uplink"
    assert state(hub_log, "sensor.router_dns_servers") == "8.8.8.8"
    assert state(hub_log, "sensor.router_ntp") == "enabled"
    assert integ.poller.wireless_menu == "interface/wireless/registration-table"
    assert state(hub_log, "device_tracker.router_aabbcc000007") == "home"   # wireless
    assert state(hub_log, "device_tracker.router_aabbcc000001") == "home"   # ARP complete (C flag)
    assert state(hub_log, "device_tracker.router_aabbcc000002") == "not_home"
    assert state(hub_log, "sensor.router_address_list_blocked") == "1"
    assert any(c.startswith("/interface wifi ") for c in server.commands)  # the newer menus were tried first


async def test_host_key_pinned_on_first_use_and_a_changed_key_refused(make: Make, ssh: FakeSshServer,
                                                                      hub_log: EventLog) -> None:
    integ = make(transport="ssh")
    await integ.connect()
    await integ.disconnect()
    pinned = integ.known_hosts.lookup("127.0.0.1", ssh.port)
    assert pinned is not None
    assert pinned.export_public_key() == ssh.host_key.export_public_key()
    # Same key: accepted again.
    await integ.connect()
    await integ.disconnect()
    # The router (or someone in between) now presents another key: refused before the password is sent.
    port = ssh.port
    await ssh.stop()
    impostor = FakeSshServer(FakeRouter(), password=PASSWORD)
    await impostor.start(port)
    try:
        with pytest.raises(HostKeyChanged, match="not the one pinned"):
            await make(transport="ssh").connect()
        assert impostor.commands == []
    finally:
        await impostor.stop()
    statuses = await hub_log.read(EventFilter(types=(ev.INTEGRATION_STATUS,)))
    assert statuses[-1].data["status"] == "auth_failed"
    assert PASSWORD not in str([e.data for e in statuses])


async def test_partial_ssh_output_keeps_the_complete_lines(make: Make, ssh: FakeSshServer, hub_log: EventLog) -> None:
    integ = make(transport="ssh")
    await integ.connect()
    try:
        ssh.mode = "partial"
        rows = await integ.link.print("interface")  # type: ignore[union-attr]
    finally:
        await integ.disconnect()
    names = [row["name"] for row in rows]
    assert names and names == ["ether1", "ether2", "ether3", "bridge", "<pppoe-user1>"][: len(names)]
    assert len(names) < 5
    rejected = await hub_log.read(EventFilter(types=(ev.INPUT_REJECTED,)))
    assert rejected and "ends in the middle" in rejected[-1].data["reason"]


async def test_a_router_that_never_answers_times_out(make: Make, rest: FakeRestServer, ssh: FakeSshServer,
                                                     hub_log: EventLog) -> None:
    rest.mode = "silent"
    ssh.mode = "silent"
    integ = make(transport="auto", timeout="0.3s")
    with pytest.raises(Unreachable) as caught:
        await integ.connect()
    assert "no answer" in str(caught.value)
    statuses = await hub_log.read(EventFilter(types=(ev.INTEGRATION_STATUS,)))
    assert statuses[-1].data["status"] == "unavailable"


async def test_a_silent_tcp_listener_times_out() -> None:
    """A port that accepts and says nothing (not even the SSH banner)."""
    from integrations.routeros import RouterOSConfig
    from integrations.routeros.ssh import KnownHosts, SshClient

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        config = RouterOSConfig.model_validate({"type": "routeros", "id": "r", "url": "https://127.0.0.1",
                                                "ssh_port": port, "timeout": "0.3s", "password": "x"})
        import tempfile
        from pathlib import Path

        with tempfile.TemporaryDirectory() as tmp:
            client = SshClient(config, KnownHosts(Path(tmp) / "known_hosts"))
            with pytest.raises(Unreachable, match="SSH connection failed"):
                await client.connect()
            await client.close()
    finally:
        server.close()
        await server.wait_closed()


async def test_rest_fails_over_to_ssh(make: Make, rest: FakeRestServer, ssh: FakeSshServer, router: FakeRouter,
                                      hub_log: EventLog) -> None:
    integ = make(transport="auto")
    async with running(integ):
        await wait_for(lambda: hub_log.current_state("sensor.router_cpu_load") is not None)
        assert integ.link is not None and integ.link.name == "rest"
        rest.mode = "silent"  # the web service stops answering
        router.singletons["system/resource"]["cpu-load"] = "42"
        await wait_for(lambda: state(hub_log, "sensor.router_cpu_load") == "42")
        assert integ.link is not None and integ.link.name == "ssh"
    statuses = [e.data for e in await hub_log.read(EventFilter(types=(ev.INTEGRATION_STATUS,)))]
    assert [s["status"] for s in statuses] == ["connected", "unavailable", "connected"]
    assert statuses[0]["reason"].startswith("rest") and statuses[2]["reason"].startswith("ssh")


async def test_auto_uses_ssh_when_rest_is_not_served(make: Make, rest: FakeRestServer, hub_log: EventLog) -> None:
    rest.mode = "html"  # RouterOS 6: WebFig answers, /rest does not exist
    integ = make(transport="auto")
    await integ.connect()
    try:
        assert integ.link is not None and integ.link.name == "ssh"
    finally:
        await integ.disconnect()


async def test_wrong_password_is_auth_failed_and_does_not_fall_back(make: Make, ssh: FakeSshServer) -> None:
    from hub.errors import AuthFailed

    with pytest.raises(AuthFailed, match="HTTP 401"):
        await make(transport="auto", password="wrong").connect()
    assert ssh.commands == []
    with pytest.raises(AuthFailed, match="SSH login"):
        await make(transport="ssh", password="wrong").connect()

