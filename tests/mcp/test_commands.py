"""send_command under the mcp.allow / mcp.confirm policy, executed by a real CommandRouter through the log."""

from __future__ import annotations

from typing import Any

import pytest
from fastmcp import Client

from hub import events as ev
from hub.log import EventLog
from hub.mcp.tools_commands import ConfirmTokens
from hub.store import EventFilter


async def send(client: Client[Any], **args: Any) -> dict[str, Any]:
    result = await client.call_tool("send_command", args)
    assert result.structured_content is not None
    return result.structured_content


async def rejected(log: EventLog) -> list[dict[str, Any]]:
    found = await log.read(EventFilter(types=(ev.INPUT_REJECTED,), source="mcp", descending=True, limit=10))
    return [e.data for e in found]


async def test_allowed_command_runs_through_the_log(client: Client[Any], log: EventLog, router: Any) -> None:
    answer = await send(client, entity_id="light.kitchen", command="turn_off")
    assert answer["status"] == "succeeded" and answer["current_state"] == "off"
    request = await log.get(answer["request_seq"])
    assert request is not None and request.source == "mcp" and request.type == ev.COMMAND_REQUESTED
    assert request.data == {"command": "turn_off", "target": ["light.kitchen"], "data": {}}
    outcome = await log.get(answer["outcome_seq"])
    assert outcome is not None and outcome.type == ev.COMMAND_SUCCEEDED and outcome.causation == request.seq
    change = await log.read(EventFilter(types=(ev.STATE_CHANGED,), entity_id="light.kitchen", descending=True,
                                        limit=1))
    assert change[0].causation == request.seq


async def test_failure_is_reported(client: Client[Any], router: Any) -> None:
    answer = await send(client, entity_id="switch.coffee", command="toggle")
    assert answer["status"] == "failed" and "toggle is not supported" in answer["message"]


async def test_commands_outside_the_allow_list_are_refused_and_recorded(client: Client[Any], log: EventLog,
                                                                        router: Any) -> None:
    head = log.head
    answer = await send(client, entity_id="camera.porch", command="turn_off")
    assert answer["status"] == "refused" and "not in mcp.allow" in answer["message"]
    assert (await rejected(log))[0]["origin"] == "mcp.send_command"
    assert "camera.porch" in (await rejected(log))[0]["excerpt"]
    requests = await log.read(EventFilter(types=(ev.COMMAND_REQUESTED,), after=head))
    assert requests == []
    unknown = await send(client, entity_id="light.kichen", command="turn_on")
    assert unknown["status"] == "refused" and "did you mean light.kitchen" in unknown["message"]
    wrong = await send(client, entity_id="light.kitchen", command="unlock")
    assert wrong["status"] == "refused" and "turn_on, turn_off, toggle" in wrong["message"]
    assert len(await rejected(log)) == 3


async def test_confirm_needs_a_second_call_with_the_token(client: Client[Any], log: EventLog, router: Any) -> None:
    head = log.head
    plan = await send(client, entity_id="lock.front_door", command="unlock")
    assert plan["status"] == "needs_confirmation" and plan["current_state"] == "locked"
    assert "unlock on lock.front_door" in plan["plan"] and plan["confirm_token"]
    assert await log.read(EventFilter(types=(ev.COMMAND_REQUESTED,), after=head)) == []
    other = await send(client, entity_id="lock.front_door", command="lock", confirm_token=plan["confirm_token"])
    assert other["status"] == "refused" and "issued for unlock" in other["message"]
    plan = await send(client, entity_id="lock.front_door", command="unlock")
    done = await send(client, entity_id="lock.front_door", command="unlock", confirm_token=plan["confirm_token"])
    assert done["status"] == "succeeded" and done["current_state"] == "unlocked"
    again = await send(client, entity_id="lock.front_door", command="unlock", confirm_token=plan["confirm_token"])
    assert again["status"] == "refused" and "used already" in again["message"]
    forged = await send(client, entity_id="lock.front_door", command="unlock", confirm_token="made-up")
    assert forged["status"] == "refused"
    requests = await log.read(EventFilter(types=(ev.COMMAND_REQUESTED,), after=head))
    assert [r.data["command"] for r in requests] == ["unlock"]


async def test_without_a_daemon_the_command_stays_pending(log: EventLog, config: Any, house: Any) -> None:
    from hub.mcp import build_server

    config.hub.command_timeout = "0.2s"
    async with Client(build_server(log, config)) as client:
        answer = await send(client, entity_id="light.kitchen", command="turn_on")
    assert answer["status"] == "pending" and "hub run" in answer["message"]
    request = await log.get(answer["request_seq"])
    assert request is not None and request.source == "mcp"


def test_confirm_tokens_expire_after_two_minutes() -> None:
    now = [1000.0]
    tokens = ConfirmTokens(clock=lambda: now[0])
    token, ttl = tokens.issue("lock.front_door", "unlock", "{}")
    assert ttl == 120
    now[0] += 121
    assert "expired" in (tokens.redeem(token, "lock.front_door", "unlock", "{}") or "")
    token, _ = tokens.issue("lock.front_door", "unlock", "{}")
    now[0] += 119
    assert tokens.redeem(token, "lock.front_door", "unlock", "{}") is None
    assert "used already" in (tokens.redeem(token, "lock.front_door", "unlock", "{}") or "")


@pytest.mark.parametrize("data", [{"brightness": "x" * 5000}])
async def test_oversized_data_is_refused(client: Client[Any], log: EventLog, data: dict[str, Any]) -> None:
    answer = await send(client, entity_id="light.kitchen", command="turn_on", data=data)
    assert answer["status"] == "refused" and "4 KiB" in answer["message"]
