"""Every answer stays within mcp.max_tokens, says what it left out, and continues with signed cursors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client

from hub.config import load_config
from hub.errors import UserError
from hub.integration import EntityInfo, IntegrationContext
from hub.log import open_log
from hub.mcp import build_server
from hub.mcp.paging import Cursors, fit, size_tokens
from hub.times import now_us
from tests.mcp.conftest import write_config
from tests.mcp.house import fill_house

CALLS: list[tuple[str, dict[str, Any]]] = [
    ("list_entities", {}),
    ("get_state", {"entity_ids": [f"sensor.big_{i}" for i in range(40)]}),
    ("get_history", {"entity_id": "sensor.big_0", "since": "2h", "resolution": "raw"}),
    ("get_history", {"entity_id": "sensor.big_0", "since": "2h", "resolution": "5m"}),
    ("get_history", {"entity_id": "sensor.big_0", "since": "365d"}),
    ("query_events", {"limit": 500}),
    ("explain", {"entity_id": "light.porch"}),
    ("list_automations", {"runs": 50}),
    ("hub_status", {}),
    ("mqtt_topics", {}),
    ("network_clients", {}),
    ("security_overview", {}),
]


@pytest.fixture
async def small_client(tmp_path: Path) -> Any:
    config = load_config(write_config(tmp_path, max_tokens=500), check_rules=False)
    async with open_log(config.database_url, synchronous="normal") as log:
        await fill_house(log)
        ctx = IntegrationContext(log, "demo")
        now = now_us()
        for i in range(60):
            await ctx.register_entity(EntityInfo(f"sensor.big_{i}", name=f"Big sensor {i}", unit="W"))
            await ctx.set_state(f"sensor.big_{i}", "1", {"note": "x" * 200}, time=now - 3_600_000_000)
        for j in range(300):
            await ctx.set_state("sensor.big_0", str(j), {"note": "x" * 200}, time=now - 3_000_000_000 + j * 1_000_000)
        async with Client(build_server(log, config)) as client:
            yield client


@pytest.mark.parametrize(("tool", "args"), CALLS, ids=[f"{t}-{i}" for i, (t, _) in enumerate(CALLS)])
async def test_answers_stay_within_the_bound(small_client: Client[Any], tool: str, args: dict[str, Any]) -> None:
    result = await small_client.call_tool(tool, args)
    content = result.structured_content
    assert content is not None
    assert size_tokens(content) <= 500, (tool, size_tokens(content))


async def test_cut_answers_say_so_and_continue(small_client: Client[Any]) -> None:
    entities = (await small_client.call_tool("list_entities", {})).structured_content
    assert entities is not None and entities["omitted"] > 0 and entities["cursor"]
    history = (await small_client.call_tool("get_history", {"entity_id": "sensor.big_0", "since": "2h",
                                                            "resolution": "raw"})).structured_content
    assert history is not None and history["cursor"]
    values = [c["state"] for c in history["changes"]]
    while history["cursor"]:
        history = (await small_client.call_tool("get_history", {
            "entity_id": "sensor.big_0", "since": "2h", "resolution": "raw", "cursor": history["cursor"]
        })).structured_content
        assert history is not None
        values += [c["state"] for c in history["changes"]]
    assert values == ["1"] + [str(j) for j in range(300)]


def test_cursors_expire_and_are_bound_to_their_key() -> None:
    now = [1000.0]
    cursors = Cursors(clock=lambda: now[0])
    cursor = cursors.issue("query_events", {"a": 1}, {"before": 10})
    assert cursors.resume("query_events", {"a": 1}, cursor) == {"before": 10}
    now[0] += 3601
    with pytest.raises(UserError, match="expired"):
        cursors.resume("query_events", {"a": 1}, cursor)
    with pytest.raises(UserError, match="earlier run"):
        Cursors().resume("query_events", {"a": 1}, cursor)


def test_fit_keeps_order_and_reports_cuts() -> None:
    items = [{"n": i, "pad": "x" * 40} for i in range(100)]
    kept, cut = fit(items, 100)
    assert cut and kept == items[:len(kept)] and 0 < len(kept) < 100
    assert fit(items[:2], 1000) == (items[:2], False)
    assert fit(items, 10_000, limit=5) == (items[:5], True)
