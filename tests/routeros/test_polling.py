"""Polling over REST: entities from a RouterOS 7 router, rates, presence, bad values, config."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from hub import events as ev
from hub.log import EventLog
from hub.store import EventFilter
from integrations.routeros import RouterOSConfig
from tests.routeros.conftest import PASSWORD, Make
from tests.routeros.fake_router import FakeRouter


def state(hub_log: EventLog, entity_id: str) -> str | None:
    s = hub_log.current_state(entity_id)
    return None if s is None else s.state


async def test_rest_poll_reports_system_interfaces_settings(make: Make, hub_log: EventLog) -> None:
    integ = make(transport="rest")
    await integ.connect()
    try:
        await integ.poll_once()
    finally:
        await integ.disconnect()
    assert state(hub_log, "sensor.router_cpu_load") == "3"
    assert state(hub_log, "sensor.router_memory_used") == str(round(100 * (1073741824 - 872730624) / 1073741824, 1))
    assert state(hub_log, "sensor.router_uptime") == str(7 * 86400 + 2 * 86400 + 3 * 3600 + 4 * 60 + 5)
    assert state(hub_log, "sensor.router_version") == "7.14.3 (stable)"
    assert state(hub_log, "sensor.router_cpu_temperature") == "45.0"
    assert state(hub_log, "sensor.router_voltage") == "24.1"
    assert state(hub_log, "switch.router_ether1") == "on"
    assert state(hub_log, "switch.router_ether3") == "off"
    assert state(hub_log, "binary_sensor.router_ether1_running") == "on"
    assert state(hub_log, "binary_sensor.router_ether3_running") == "off"
    assert hub_log.current_state("switch.router_pppoe_user1") is None  # dynamic interfaces are left out
    assert state(hub_log, "sensor.router_dns_servers") == "1.1.1.1,9.9.9.9"
    assert state(hub_log, "sensor.router_ntp") == "synchronized"
    assert state(hub_log, "sensor.router_wireless_clients") == "1"
    assert state(hub_log, "sensor.router_address_list_blocked") == "1"
    assert state(hub_log, "sensor.router_dhcp_leases") == "2"
    registered = hub_log.registry()["switch.router_ether1"]
    assert registered["integration"] == "router"
    assert registered["info"]["capabilities"] == {"approval_required": ["turn_off"]}


async def test_rates_from_counters(make: Make, router: FakeRouter, hub_log: EventLog) -> None:
    clock = [100.0]
    integ = make(transport="rest")
    integ.entities.clock = lambda: clock[0]
    await integ.connect()
    try:
        await integ.poll_once()
        assert hub_log.current_state("sensor.router_ether1_rx_rate") is None  # one reading is no rate
        ether1 = router.lists["interface"][0]
        ether1["rx-byte"], ether1["tx-byte"] = str(1_000_000 + 125_000), str(2_000_000 + 250_000)
        clock[0] += 2.0
        await integ.poll_once()
        assert state(hub_log, "sensor.router_ether1_rx_rate") == str(125_000 * 8 // 2)
        assert state(hub_log, "sensor.router_ether1_tx_rate") == str(250_000 * 8 // 2)
        ether1["rx-byte"] = "5"  # counter reset (reboot): no rate from this pair
        clock[0] += 2.0
        await integ.poll_once()
        assert state(hub_log, "sensor.router_ether1_rx_rate") == str(125_000 * 8 // 2)
    finally:
        await integ.disconnect()


async def test_presence_with_consider_home(make: Make, router: FakeRouter, hub_log: EventLog) -> None:
    integ = make(transport="rest", consider_home="60s")
    await integ.connect()
    try:
        await integ.poll_once()
        laptop, printer = "device_tracker.router_aabbcc000001", "device_tracker.router_aabbcc000002"
        phone, stale_arp = "device_tracker.router_aabbcc000003", "device_tracker.router_aabbcc000004"
        assert state(hub_log, laptop) == "home"        # bound lease seen 1m2s ago is too old, but ARP reachable
        assert state(hub_log, printer) == "not_home"   # a static lease, waiting
        assert state(hub_log, phone) == "home"         # wireless registration (its lease is 2h old)
        assert state(hub_log, stale_arp) == "not_home"  # ARP entry gone stale
        assert hub_log.current_state(laptop).attributes["host_name"] == "laptop"  # type: ignore[union-attr]
        # The phone leaves the access point: still home within consider_home...
        router.lists["interface/wifi/registration-table"].clear()
        await integ.poll_once()
        assert state(hub_log, phone) == "home"
        # ...and away once consider_home has passed since it was last seen.
        integ.presence.clients["AA:BB:CC:00:00:03"].last_seen -= 61_000_000  # type: ignore[operator]
        await integ.poll_once()
        assert state(hub_log, phone) == "not_home"
        clients = {c["mac"]: c for c in integ.clients()}
        assert clients["AA:BB:CC:00:00:01"]["state"] == "home"
        assert clients["AA:BB:CC:00:00:01"]["sources"] == ["arp"]
        assert clients["AA:BB:CC:00:00:03"]["ssid"] == "home" and clients["AA:BB:CC:00:00:03"]["router"] == "router"
    finally:
        await integ.disconnect()


async def test_bad_values_are_rejected_once_and_the_rest_goes_on(make: Make, router: FakeRouter,
                                                                 hub_log: EventLog) -> None:
    router.singletons["system/resource"]["cpu-load"] = "lots"
    router.lists["interface"][0]["running"] = "maybe"
    router.lists["ip/arp"][0]["mac-address"] = "AA:BB:CC:00:00:01; /system reboot"
    integ = make(transport="rest")
    await integ.connect()
    try:
        await integ.poll_once()
        await integ.poll_once()
    finally:
        await integ.disconnect()
    rejected = await hub_log.read(EventFilter(types=(ev.INPUT_REJECTED,)))
    reasons = sorted(e.data["reason"] for e in rejected)
    assert len(reasons) == 3, reasons  # once each, not once per poll
    assert any("cpu-load" in r and "whole number" in r for r in reasons)
    assert any("running" in r and "maybe" in r for r in reasons)
    assert any("mac-address" in r for r in reasons)
    assert hub_log.current_state("sensor.router_cpu_load") is None
    assert state(hub_log, "switch.router_ether1") == "on"      # the same row's other fields still count
    assert state(hub_log, "sensor.router_memory_used") is not None


async def test_unknown_menus_are_skipped(make: Make, router: FakeRouter, hub_log: EventLog) -> None:
    del router.lists["interface/wifi/registration-table"]
    del router.lists["system/health"]
    router.lists["interface/wireless/registration-table"] = [
        {".id": "*1", "interface": "wlan1", "mac-address": "AA:BB:CC:00:00:09", "signal-strength": "-70dBm@6Mbps"}]
    integ = make(transport="rest")
    await integ.connect()
    try:
        await integ.poll_once()
        await integ.poll_once()
    finally:
        await integ.disconnect()
    assert integ.poller.wireless_menu == "interface/wireless/registration-table"
    assert "system/health" in integ.poller.missing
    assert state(hub_log, "device_tracker.router_aabbcc000009") == "home"
    assert state(hub_log, "sensor.router_cpu_load") == "3"


async def test_several_routers_each_their_own_instance(make: Make, ctx: object, hub_log: EventLog,
                                                       tmp_path: Path) -> None:
    from hub.integration import IntegrationContext

    first = make(transport="rest")
    second = make(transport="rest", id="office", ctx=IntegrationContext(hub_log, "office", data_dir=tmp_path))
    for integ in (first, second):
        await integ.connect()
        await integ.poll_once()
        await integ.disconnect()
    assert state(hub_log, "sensor.router_cpu_load") == "3" and state(hub_log, "sensor.office_cpu_load") == "3"
    assert hub_log.registry()["sensor.office_cpu_load"]["integration"] == "office"


def test_config_rules() -> None:
    base = {"type": "routeros", "id": "r", "url": "https://192.168.88.1", "password": "x"}
    cfg = RouterOSConfig.model_validate({**base, "poll_interval": "30s", "fingerprint": "SHA256:" + "AB" * 32})
    assert cfg.poll_interval == 30.0 and cfg.consider_home == 180.0 and cfg.fingerprint == "ab" * 32
    with pytest.raises(ValidationError, match="cannot be turned off"):
        RouterOSConfig.model_validate({**base, "verify_ssl": False})
    with pytest.raises(ValidationError, match="not in the url"):
        RouterOSConfig.model_validate({**base, "url": "https://admin:pw@192.168.88.1"})
    with pytest.raises(ValidationError, match="transport"):
        RouterOSConfig.model_validate({**base, "transport": "telnet"})
    with pytest.raises(ValidationError, match="fingerprint"):
        RouterOSConfig.model_validate({**base, "fingerprint": "md5:abc"})
    assert "x" not in repr(RouterOSConfig.model_validate(base).password)
    assert PASSWORD not in repr(RouterOSConfig.model_validate({**base, "password": PASSWORD}))
