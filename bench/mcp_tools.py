"""Benchmark: every MCP tool's latency (p50/p95) and answer size on a large log, with baselines.

    .venv/bin/python -m bench.mcp_tools                      # 200,000 events in a temporary database
    .venv/bin/python -m bench.mcp_tools --events 10000000 --db /tmp/hub-10m.db   # kept for reuse

The log is written through the hub's own append path (EventLog.append_many, which folds the projections),
then served as `hub mcp` serves it (a non-projecting log reading the projections in the database) through
fastmcp's in-memory client. Baselines in the same run: `SELECT count(*)` over the events, one event by seq,
and MCP list_prompts (the client/server round trip without the database).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fastmcp import Client

from bench.mcp_fill import fill
from hub.config import Config
from hub.log import open_log
from hub.mcp import build_server
from hub.mcp.paging import size_tokens
from hub.store import EventFilter
from hub.times import now_us, parse_duration_us, to_iso

PROPOSED_INDEXES = [
    "CREATE INDEX IF NOT EXISTS events_type_seq ON events(type, seq)",
    "CREATE INDEX IF NOT EXISTS events_entity_seq ON events(entity_id, seq) WHERE entity_id IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS events_source_seq ON events(source, seq)",
]

CALLS: list[tuple[str, str, dict[str, Any]]] = [
    ("list_entities", "all", {}),
    ("list_entities", "domain", {"domain": "sensor"}),
    ("get_state", "3 ids", {"entity_ids": ["light.lamp_1", "sensor.room_1_temperature", "lock.front_door"]}),
    ("get_history", "24h auto", {"entity_id": "sensor.room_1_temperature", "since": "24h"}),
    ("get_history", "1h raw", {"entity_id": "sensor.room_1_temperature", "since": "1h", "resolution": "raw"}),
    ("get_history", "7d auto", {"entity_id": "sensor.room_1_temperature", "since": "7d"}),
    ("get_history", "365d auto", {"entity_id": "sensor.room_1_temperature", "since": "365d"}),
    ("get_history", "7d states", {"entity_id": "binary_sensor.motion_1", "since": "7d"}),
    ("query_events", "latest", {}),
    ("query_events", "type", {"types": ["device_event"]}),
    ("query_events", "common type", {"types": ["state_changed"]}),
    ("query_events", "rare type", {"types": ["command_failed", "input_rejected"]}),
    ("query_events", "entity", {"entity_id": "light.lamp_3"}),
    ("query_events", "source", {"source": "ring"}),
    ("query_events", "text+1h", {"text": "linkquality", "since": "1h"}),
    ("explain", "entity", {"entity_id": "light.lamp_0"}),
    ("list_automations", "7d", {"since": "7d"}),
    ("hub_status", "", {}),
    ("mqtt_topics", "1h", {"since": "1h"}),
    ("network_clients", "", {}),
    ("security_overview", "24h", {"since": "24h"}),
    ("send_command", "refused", {"entity_id": "camera.porch", "command": "turn_off"}),
]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def timed(fn: Callable[[], Awaitable[Any]], repeat: int) -> tuple[list[float], Any]:
    result = await fn()  # warm-up
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = await fn()
        times.append((time.perf_counter() - started) * 1000)
    return times, result


async def ensure_log(path: Path, events: int) -> int:
    async with open_log(str(path), synchronous="normal") as log:
        have = await log.backend.count(EventFilter())
        if have < events * 0.95:
            started = time.perf_counter()
            step = max(events // 10, 1)
            mark = [step]

            def progress(done: int, total: int) -> None:
                if done >= mark[0]:
                    print(f"  appended {done:,} / {total:,} ({time.perf_counter() - started:.0f}s)", flush=True)
                    mark[0] += step

            await fill(log, events - have, progress=progress)
            print(f"appended {events - have:,} events in {time.perf_counter() - started:.1f}s")
        return await log.backend.count(EventFilter())


async def run(path: Path, events: int, repeat: int, max_tokens: int, indexes: bool) -> None:
    total = await ensure_log(path, events)
    if indexes:
        import sqlite3

        conn = sqlite3.connect(str(path))
        started = time.perf_counter()
        for stmt in PROPOSED_INDEXES:
            conn.execute(stmt)
        conn.commit()
        conn.close()
        print(f"proposed indexes in place ({time.perf_counter() - started:.1f}s)")
    config = Config.model_validate({"hub": {"database": str(path)}, "path": path.parent / "config.yaml",
                                    "mcp": {"allow": ["light.*"], "max_tokens": max_tokens},
                                    "automations": [{"id": "porch_light", "alias": "Porch light"}]})
    async with open_log(str(path), project=False) as log:
        backend = log.backend
        size = await backend.size_bytes()
        print(f"log: {total:,} events, {size / 1e9:.2f} GB, {path}; bound {max_tokens} tokens; {repeat} calls each")
        head = await backend.head()
        count_ms, _ = await timed(lambda: backend.count(EventFilter()), repeat)
        get_ms, _ = await timed(lambda: backend.get(head // 2), repeat)
        # Windows end at the newest generated event (a reused log may be older than now; the last few
        # events may be this benchmark's own refusals from an earlier run).
        newest = await backend.get(max(1, head - 1000))
        end = newest.time if newest is not None else now_us()
        calls = []
        for tool, label, args in CALLS:
            if "since" in args:
                args = {**args, "since": to_iso(end - parse_duration_us(args["since"]))}
                if tool in ("get_history", "query_events"):
                    args["until"] = to_iso(end + 1)
            calls.append((tool, label, args))
        async with Client(build_server(log, config)) as client:
            ping_ms, _ = await timed(client.list_prompts, repeat)
            print(f"{'baseline':34s} {'p50 ms':>8s} {'p95 ms':>8s}")
            for name, values in (("SELECT count(*) FROM events", count_ms), ("event by seq (backend.get)", get_ms),
                                 ("MCP list_prompts (no database)", ping_ms)):
                print(f"{name:34s} {statistics.median(values):8.2f} {pct(values, 0.95):8.2f}")
            print(f"\n{'tool':34s} {'p50 ms':>8s} {'p95 ms':>8s} {'tokens':>7s}  {'x count(*) p50':>14s}")
            worst = 0.0
            for tool, label, args in calls:
                values, result = await timed(lambda t=tool, a=args: client.call_tool_mcp(t, a), repeat)
                tokens = size_tokens(result.structured_content or [c.model_dump() for c in result.content])
                flag = "" if tokens <= max_tokens and not result.is_error else "  OVER BOUND" if tokens > max_tokens \
                    else "  ERROR " + str(result.content[0].text)[:60]
                p95 = pct(values, 0.95)
                worst = max(worst, p95)
                print(f"{tool + ' ' + label:34s} {statistics.median(values):8.2f} {p95:8.2f} {tokens:7d}  "
                      f"{statistics.median(values) / statistics.median(count_ms):14.2f}{flag}")
            print(f"\nworst p95: {worst:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000, help="events in the log (10000000 for the full run)")
    parser.add_argument("--db", type=Path, help="database to create or reuse (default: a temporary one)")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--max-tokens", type=int, default=8000)
    parser.add_argument("--proposed-indexes", action="store_true",
                        help="add the (type, seq), (entity_id, seq), (source, seq) indexes asked of the core first")
    args = parser.parse_args()
    if args.db is not None:
        asyncio.run(run(args.db, args.events, args.repeat, args.max_tokens, args.proposed_indexes))
        return
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(run(Path(folder) / "hub.db", args.events, args.repeat, args.max_tokens, args.proposed_indexes))


if __name__ == "__main__":
    main()
