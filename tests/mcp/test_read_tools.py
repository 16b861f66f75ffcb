"""The read tools through fastmcp's in-memory client, on a real log."""

from __future__ import annotations

from typing import Any

import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError

from tests.mcp.house import House

TOOLS = {"list_entities", "get_state", "get_history", "query_events", "explain", "list_automations",
         "send_command", "hub_status", "mqtt_topics", "network_clients", "security_overview"}


async def call(client: Client[Any], name: str, **args: Any) -> dict[str, Any]:
    result = await client.call_tool(name, args)
    assert result.structured_content is not None
    return result.structured_content


async def test_tools_have_schemas_and_annotations(client: Client[Any]) -> None:
    tools = {t.name: t for t in await client.list_tools()}
    assert set(tools) == TOOLS
    for name, tool in tools.items():
        assert tool.output_schema and tool.output_schema.get("type") == "object", name
        assert tool.description and len(tool.description) > 60, name
        assert tool.annotations is not None
        if name == "send_command":
            assert tool.annotations.destructive_hint is True
            assert tool.annotations.read_only_hint is False
        else:
            assert tool.annotations.read_only_hint is True, name


async def test_list_entities_filters_and_orders_by_recent_change(client: Client[Any]) -> None:
    everything = await call(client, "list_entities")
    ids = [e["entity_id"] for e in everything["entities"]]
    assert everything["total"] == len(ids) == 12
    assert ids[:2] == ["sensor.outdoor_temp", "light.porch"]  # most recently changed first
    lights = await call(client, "list_entities", domain="light")
    assert {e["entity_id"] for e in lights["entities"]} == {"light.porch", "light.kitchen"}
    kitchen = await call(client, "list_entities", area="kitchen")
    assert {e["entity_id"] for e in kitchen["entities"]} == {"light.kitchen", "switch.coffee"}
    by_name = await call(client, "list_entities", text="Alice")
    assert [e["entity_id"] for e in by_name["entities"]] == ["device_tracker.alice_phone"]
    unifi = await call(client, "list_entities", integration="unifi")
    assert len(unifi["entities"]) == 2


async def test_text_filters_are_literal(client: Client[Any]) -> None:
    for text in ["%", "*", "light.%' OR 1=1 --", "_"]:
        found = await call(client, "list_entities", text=text)
        assert all(text in e["entity_id"] or text.lower() in (e["name"] or "").lower()
                   for e in found["entities"]), text
    injected = await call(client, "query_events", text="' OR 1=1 --")
    assert injected["events"] == []
    wildcard = await call(client, "query_events", text="%x%")
    assert wildcard["events"] == []


async def test_list_entities_pages_with_a_cursor(client: Client[Any]) -> None:
    first = await call(client, "list_entities", limit=5)
    assert len(first["entities"]) == 5 and first["omitted"] == 7 and first["cursor"]
    seen = [e["entity_id"] for e in first["entities"]]
    cursor = first["cursor"]
    while cursor:
        page = await call(client, "list_entities", limit=5, cursor=cursor)
        assert page["total"] == 12
        seen += [e["entity_id"] for e in page["entities"]]
        cursor = page["cursor"]
    assert len(seen) == len(set(seen)) == 12


async def test_get_state_and_unknown_entity_lists_close_matches(client: Client[Any]) -> None:
    answer = await call(client, "get_state", entity_ids=["light.kitchen", "lock.front_door"])
    kitchen = answer["states"][0]
    assert kitchen["state"] == "on" and kitchen["attributes"] == {"brightness": 200}
    assert kitchen["area"] == "Kitchen" and kitchen["last_changed"].endswith(("+01:00", "+02:00"))
    assert answer["states"][1]["device"]["name"] == "Front door lock"
    with pytest.raises(ToolError, match=r"no entity light\.kichen; did you mean light\.kitchen"):
        await client.call_tool("get_state", {"entity_ids": ["light.kichen"]})
    with pytest.raises(ToolError, match="not an entity id"):
        await client.call_tool("get_state", {"entity_ids": ["Robert'); DROP TABLE events;--"]})


async def test_history_raw_and_buckets(client: Client[Any]) -> None:
    raw = await call(client, "get_history", entity_id="sensor.outdoor_temp", since="7h")
    assert raw["resolution"] == "raw" and raw["numeric"] is True and raw["unit"] == "°C"
    assert len(raw["changes"]) == 36
    assert [c["state"] for c in raw["changes"][:3]] == ["10.0", "10.5", "11.0"]
    hourly = await call(client, "get_history", entity_id="sensor.outdoor_temp", since="7h", resolution="hour")
    buckets = hourly["buckets"]
    assert 6 <= len(buckets) <= 8
    assert sum(b["count"] for b in buckets) == 36
    assert min(b["min"] for b in buckets) == 10.0 and max(b["max"] for b in buckets) == 15.5
    daily = await call(client, "get_history", entity_id="sensor.outdoor_temp", since="30d")
    assert daily["resolution"] == "day" and sum(b["count"] for b in daily["buckets"]) == 36
    motion = await call(client, "get_history", entity_id="binary_sensor.porch_motion", since="3h",
                        resolution="hour")
    assert motion["numeric"] is False
    totals: dict[str, float] = {}
    for b in motion["buckets"]:
        for state, secs in b["time_in_state"].items():
            totals[state] = totals.get(state, 0) + secs
    assert 5400 - 60 < totals["off"] < 5400 + 60  # off for 90 minutes, then on for 30
    assert 1800 - 60 < totals["on"] < 1800 + 60


async def test_history_bad_input(client: Client[Any]) -> None:
    with pytest.raises(ToolError, match="not a time"):
        await client.call_tool("get_history", {"entity_id": "sensor.outdoor_temp", "since": "yesterday-ish"})
    with pytest.raises(ToolError, match="too long.*hour or day"):
        await client.call_tool("get_history", {"entity_id": "sensor.outdoor_temp", "since": "3650d",
                                               "resolution": "raw"})
    years = await call(client, "get_history", entity_id="sensor.outdoor_temp", since="3650d")
    assert years["resolution"] == "day" and years["cursor"]  # ten years of days do not fit: paged
    with pytest.raises(ToolError, match="empty"):
        await client.call_tool("get_history", {"entity_id": "sensor.outdoor_temp", "since": "1h", "until": "2h"})


async def test_history_pages_through_long_windows(client: Client[Any]) -> None:
    answer = await call(client, "get_history", entity_id="sensor.outdoor_temp", since="3650d")
    total = sum(b["count"] for b in answer["buckets"])
    pages = 1
    while answer["cursor"]:
        answer = await call(client, "get_history", entity_id="sensor.outdoor_temp", since="3650d",
                            cursor=answer["cursor"])
        total += sum(b["count"] for b in answer["buckets"])
        pages += 1
    assert pages > 2 and total == 36


async def test_query_events_filters_and_pages(client: Client[Any], house: House) -> None:
    dings = await call(client, "query_events", types=["device_event"])
    assert [e["seq"] for e in dings["events"]] == [house.seqs["ding"]]
    assert dings["events"][0]["summary"] == "event.front_doorbell reported ding"
    failed = await call(client, "query_events", types=["command_failed"])
    assert "out of water" in failed["events"][0]["data"]["reason"]
    by_source = await call(client, "query_events", source="automation:porch_light")
    assert {e["type"] for e in by_source["events"]} == {"automation_triggered", "automation_finished",
                                                         "command_requested"}
    glob = await call(client, "query_events", entity_id="light.*", types=["state_changed"])
    assert {e["entity_id"] for e in glob["events"]} == {"light.porch", "light.kitchen"}
    text = await call(client, "query_events", text="occupancy")
    assert {e["type"] for e in text["events"]} >= {"mqtt_message", "input_rejected"}
    seqs: list[int] = []
    page = await call(client, "query_events", limit=7)
    seqs += [e["seq"] for e in page["events"]]
    while page["cursor"]:
        page = await call(client, "query_events", limit=7, cursor=page["cursor"])
        seqs += [e["seq"] for e in page["events"]]
    assert seqs == sorted(seqs, reverse=True) and seqs[-1] == 1 and len(seqs) == len(set(seqs))


async def test_query_events_bad_input(client: Client[Any]) -> None:
    with pytest.raises(ToolError, match="snake_case"):
        await client.call_tool("query_events", {"types": ["State Changed; DROP"]})
    with pytest.raises(ToolError, match="not a time"):
        await client.call_tool("query_events", {"since": "last tuesday"})
    with pytest.raises(ToolError, match="may hold only"):
        await client.call_tool("query_events", {"entity_id": "light.*'--"})
    answer = await call(client, "query_events", types=["no_such_type"])
    assert answer["events"] == [] and "not a type the hub writes" in answer["note"]


async def test_cursors_refuse_forgery_other_queries_and_other_tools(client: Client[Any]) -> None:
    page = await call(client, "query_events", limit=3)
    cursor = page["cursor"]
    body, _, sig = cursor.partition(".")
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + sig
    with pytest.raises(ToolError, match="not valid"):
        await client.call_tool("query_events", {"limit": 3, "cursor": forged})
    with pytest.raises(ToolError, match="not valid"):
        await client.call_tool("query_events", {"limit": 3, "cursor": "garbage"})
    with pytest.raises(ToolError, match="different query"):
        await client.call_tool("query_events", {"limit": 3, "types": ["device_event"], "cursor": cursor})
    with pytest.raises(ToolError, match="belongs to query_events"):
        await client.call_tool("list_entities", {"cursor": cursor})


async def test_explain_walks_back_to_the_mqtt_message(client: Client[Any], house: House) -> None:
    answer = await call(client, "explain", entity_id="light.porch")
    chain = answer["chain"]
    assert answer["seq"] == house.seqs["light"]
    assert [e["type"] for e in chain] == ["mqtt_message", "state_changed", "automation_triggered",
                                          "command_requested", "state_changed"]
    assert [e["seq"] for e in chain][0] == house.seqs["mqtt"]
    lines = answer["text"].splitlines()
    assert "MQTT message on zigbee2mqtt/porch_sensor" in lines[0]
    assert "automation Porch light on motion triggered" in answer["text"]
    assert "light.porch changed from off to on" in lines[4]
    by_seq = await call(client, "explain", seq=house.seqs["request"])
    assert [e["seq"] for e in by_seq["caused"]] == [house.seqs["light"], house.seqs["outcome"]]
    with pytest.raises(ToolError, match="no event with seq 999999"):
        await client.call_tool("explain", {"seq": 999999})
    with pytest.raises(ToolError, match="either seq"):
        await client.call_tool("explain", {})


async def test_explain_the_change_in_effect_at_a_time(client: Client[Any], house: House) -> None:
    """"Why was the porch light on 10 minutes ago?": the change in effect then, not the last one."""
    then = await call(client, "explain", entity_id="light.porch", at="10m")
    assert then["seq"] == house.seqs["light"] and then["chain"][0]["seq"] == house.seqs["mqtt"]
    before = await call(client, "explain", entity_id="light.porch", at="1h")  # off since 5 h ago, nothing caused it
    assert before["seq"] != house.seqs["light"]
    assert [e["type"] for e in before["chain"]] == ["state_changed"] and "became off" in before["text"]
    with pytest.raises(ToolError, match="had no recorded state"):
        await client.call_tool("explain", {"entity_id": "light.porch", "at": "6h"})
    with pytest.raises(ToolError, match="at goes with entity_id"):
        await client.call_tool("explain", {"seq": house.seqs["light"], "at": "1h"})
    with pytest.raises(ToolError, match="at: not a time"):
        await client.call_tool("explain", {"entity_id": "light.porch", "at": "at three"})
    with pytest.raises(ToolError, match="did you mean light.porch"):
        await client.call_tool("explain", {"entity_id": "light.proch", "at": "1h"})


async def test_list_automations_with_runs_and_traces(client: Client[Any], house: House) -> None:
    answer = await call(client, "list_automations")
    autos = {a["id"]: a for a in answer["automations"]}
    assert list(autos) == ["porch_light", "never_ran"]
    run = autos["porch_light"]["runs"][0]
    assert run["seq"] == house.seqs["run"] and run["result"] == "finished"
    assert run["trigger"] == "porch motion turned on" and run["trace"][0]["action"] == "light.turn_on"
    assert autos["never_ran"]["configured"] is True and autos["never_ran"]["runs"] == []
    with pytest.raises(ToolError, match="did you mean porch_light"):
        await client.call_tool("list_automations", {"automation_id": "porch_lihgt"})


async def test_hub_status(client: Client[Any]) -> None:
    status = await call(client, "hub_status")
    integrations = {i["id"]: i for i in status["integrations"]}
    assert integrations["unifi"]["status"] == "unavailable"
    assert integrations["unifi"]["reason"] == "poll timed out after 10s" and integrations["unifi"]["entities"] == 2
    assert integrations["demo"]["type"] == "demo" and integrations["demo"]["entities"] == 10
    assert status["events_last_day"] > 50 and status["log_bytes"] > 0 and status["last_seq"] > 50
    reasons = [e["data"].get("reason") for e in status["last_errors"]]
    assert "payload is not JSON" in reasons and any("out of water" in (r or "") for r in reasons)


async def test_mqtt_topics_from_the_log(client: Client[Any]) -> None:
    answer = await call(client, "mqtt_topics")
    assert answer["source"] == "log"
    topic = answer["topics"][0]
    assert topic["topic"] == "zigbee2mqtt/porch_sensor" and topic["messages"] == 1
    assert topic["payload_schema"] == {"occupancy": "bool", "battery": "int"}
    none = await call(client, "mqtt_topics", pattern="other/#")
    assert none["topics"] == []


async def test_network_clients_and_security_overview(client: Client[Any], house: House) -> None:
    net = await call(client, "network_clients")
    assert [c["entity_id"] for c in net["clients"]] == ["device_tracker.alice_phone", "device_tracker.tv"]
    alice = net["clients"][0]
    assert (alice["ip"], alice["mac"], alice["hostname"]) == ("10.0.0.23", "aa:bb:cc:dd:ee:01", "alice-phone")
    assert (net["home"], net["away"]) == (1, 1)
    away = await call(client, "network_clients", presence="away")
    assert [c["entity_id"] for c in away["clients"]] == ["device_tracker.tv"]
    sec = await call(client, "security_overview")
    kinds = {d["entity_id"]: d["kind"] for d in sec["devices"]}
    assert kinds == {"lock.front_door": "lock", "binary_sensor.hall_smoke": "smoke", "camera.porch": "camera",
                     "event.front_doorbell": "doorbell", "binary_sensor.porch_motion": "motion"}
    lock = next(d for d in sec["devices"] if d["kind"] == "lock")
    assert lock["battery"] == "15"
    assert "lock.front_door battery at 15%" in sec["attention"]
    assert [e["seq"] for e in sec["recent"]] == [house.seqs["ding"]]


async def test_resources_and_prompts(client: Client[Any]) -> None:
    import json

    templates = {t.uri_template for t in await client.list_resource_templates()}
    assert templates == {"entity://{entity_id}", "automation://{automation_id}"}
    entity = json.loads((await client.read_resource("entity://light.kitchen"))[0].text)
    assert entity["state"]["state"] == "on" and entity["name"] == "Kitchen light"
    auto = json.loads((await client.read_resource("automation://porch_light"))[0].text)
    assert auto["config"]["alias"] == "Porch light on motion" and auto["automations"][0]["runs"]
    recent = json.loads((await client.read_resource("events://recent"))[0].text)
    assert len(recent) == 50 and recent[0]["seq"] > recent[-1]["seq"]
    with pytest.raises(Exception, match=r"did you mean light\.kitchen"):
        await client.read_resource("entity://light.kichen")
    prompts = {p.name for p in await client.list_prompts()}
    assert prompts == {"daily_briefing", "security_review", "troubleshoot_device"}
    text = (await client.get_prompt("troubleshoot_device", {"entity_id": "light.porch"})).messages[0].content.text
    assert "light.porch" in text and "explain" in text
