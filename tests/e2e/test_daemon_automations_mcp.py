"""The daemon with automations and MCP over HTTP, driven as a user and Claude would."""

from __future__ import annotations

import asyncio
import time

import httpx
from fastmcp import Client

from tests.e2e.conftest import HubProcess

AUTOMATION = """
automations:
  - id: doorbell_porch_light
    alias: Porch light when someone rings
    triggers:
      - trigger: state
        entity_id: event.front_doorbell
        not_from: [null, unavailable]   # not when the entity first appears (old state none)
    actions:
      - action: light.turn_on
        target: {entity_id: light.porch}
        data: {brightness: 200}
mcp:
  token: e2e-secret-token
  allow: ["light.*", "switch.*"]
"""


def wait_for(predicate: object, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


def test_an_automation_runs_and_explain_tells_why(make_hub: object) -> None:
    hub: HubProcess = make_hub(AUTOMATION, interval=60)  # type: ignore[operator]
    hub.start()
    hub.cli("send", "demo", "demo.ring_doorbell")
    wait_for(lambda: hub.cli_json("state", "light.porch")["states"][0]["state"] == "on")
    porch = hub.cli_json("state", "light.porch")["states"][0]
    assert porch["attributes"]["brightness"] == 200
    change = [e for e in hub.cli_json("events", "--entity", "light.porch", "--type", "state_changed")["events"]
              if e["data"]["new_state"]["state"] == "on"][-1]
    chain = hub.cli_json("explain", str(change["seq"]))["chain"]
    types = [c["type"] for c in chain]
    why = [(c["seq"], c["summary"], c["causation"]) for c in chain]
    assert types[0] == "command_requested" and chain[0]["source"] == "cli", why  # the first cause: `hub send`
    assert "automation_triggered" in types and types[-1] == "state_changed"
    finished = hub.cli_json("events", "--type", "automation_finished")["events"]
    assert finished and finished[-1]["source"] == "automation:doorbell_porch_light"


def test_claude_over_http_needs_the_token_and_can_act(make_hub: object) -> None:
    hub: HubProcess = make_hub(AUTOMATION, interval=60)  # type: ignore[operator]
    hub.start()
    assert httpx.post(hub.url + "/mcp", json={}).status_code == 401
    assert httpx.post(hub.url + "/mcp", json={}, headers={"Authorization": "Bearer wrong"}).status_code == 401

    async def claude() -> tuple[object, object, object]:
        async with Client(hub.url + "/mcp", auth="e2e-secret-token") as client:
            names = {t.name for t in await client.list_tools()}
            state = await client.call_tool("get_state", {"entity_ids": ["light.kitchen"]})
            sent = await client.call_tool("send_command", {"entity_id": "light.kitchen", "command": "turn_on"})
            return names, state, sent

    names, state, sent = asyncio.run(claude())
    assert {"get_state", "get_history", "query_events", "explain", "send_command", "hub_status"} <= names  # type: ignore[operator]
    assert "light.kitchen" in str(state.structured_content)  # type: ignore[attr-defined]
    assert sent.structured_content["status"] == "succeeded"  # type: ignore[attr-defined]
    assert hub.cli_json("state", "light.kitchen")["states"][0]["state"] == "on"
    requests = hub.cli_json("events", "--type", "command_requested", "--source", "mcp")["events"]
    assert requests and requests[-1]["entity_id"] == "light.kitchen"
    # The MCP sessions started on the first request stop with the daemon.
    import signal

    assert hub.stop(signal.SIGTERM) == 0
    assert hub.cli_json("events", "--type", "hub_stopped")["events"]
