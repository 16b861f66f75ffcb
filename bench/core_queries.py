"""Queries and rebuild on a large log (default 10,000,000 events over a year), written through
the hub's own append path; each figure beside a raw sqlite3 baseline on the same file.

    python -m bench.core_queries [--events 10000000] [--db PATH] [--cache warm|cold|as-is]

Figures: one-entity 24-hour history p99; hourly statistics of one entity over a year p99;
rebuild of all projections in events/s (beside a raw read of every row), from the page cache as the
queries left it, or (`--cache`) with the log read into it first or dropped from it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import tempfile
import time
from collections import deque

from bench.common import median, pct, set_page_cache
from hub.events import Event
from hub.log import open_log
from hub.projections import HOUR
from hub.states import State
from hub.store import backend_for

YEAR = 365 * 24 * HOUR
START = 1_767_225_600_000_000  # 2026-01-01T00:00Z


def entity(i: int) -> str:
    kinds = ("sensor.meter_{}_power", "sensor.room_{}_temperature", "binary_sensor.motion_{}", "light.lamp_{}")
    return kinds[i % 4].format(i // 4)


async def generate(path: str, n: int, entities: int, days: float = 365) -> float:
    """n state changes spread evenly over `days` (a year), through EventLog.append_many (validated,
    projected). A shorter span with fewer events keeps the 10M log's density at a tenth of the size."""
    rng = random.Random(1)
    step = int(days * 24 * HOUR) // n
    states: dict[str, State] = {}
    t0 = time.perf_counter()
    async with open_log(path, synchronous="normal") as log:
        batch: list[Event] = []
        outstanding: deque[asyncio.Future[list[Event]]] = deque()
        for k in range(n):
            eid = entity(rng.randrange(entities))
            t = START + k * step
            if eid.startswith(("binary_sensor", "light")):
                value = "on" if rng.random() < 0.5 else "off"
            else:
                value = f"{rng.uniform(0, 3000) if 'power' in eid else rng.uniform(15, 25):.1f}"
            old = states.get(eid)
            new = State(eid, value, {}, t if old is None or old.state != value else old.last_changed, t)
            states[eid] = new
            batch.append(Event("state_changed", "bench", eid,
                               {"old_state": old.as_data() if old else None, "new_state": new.as_data()}, time=t))
            if len(batch) == 5000:
                # Two batches outstanding, as concurrent producers keep the writer's pipeline full.
                outstanding.append(asyncio.ensure_future(log.append_many(batch, supplied_ids=False)))
                if len(outstanding) > 2:
                    await outstanding.popleft()
                batch = []
                if k % 1_000_000 < 5000:
                    print(f"  generated {k:,} events ({k / (time.perf_counter() - t0):,.0f}/s)", flush=True)
        if batch:
            outstanding.append(asyncio.ensure_future(log.append_many(batch, supplied_ids=False)))
        for task in outstanding:
            await task
    return time.perf_counter() - t0


async def queries(path: str, entities: int, count: int, days: float = 365) -> dict[str, list[float]]:
    rng = random.Random(2)
    backend = backend_for(path)
    await backend.open(create=False)
    out: dict[str, list[float]] = {"history_24h": [], "stats_year": [], "raw_24h": []}
    raw = sqlite3.connect(path)
    try:
        for _ in range(count):
            eid = entity(rng.randrange(entities))
            day = START + rng.randrange(max(1, int(days) - 1)) * 24 * HOUR  # a day the events cover
            t0 = time.perf_counter()
            rows = await backend.history(eid, day, day + 24 * HOUR)
            out["history_24h"].append(time.perf_counter() - t0)
            assert rows is not None
            t0 = time.perf_counter()
            await backend.statistics(eid, START, START + YEAR, "hour")
            out["stats_year"].append(time.perf_counter() - t0)
            # Baseline: the same window read from the log itself, JSON decoded (its time index: schema 3
            # leaves state changes out of the entity index).
            t0 = time.perf_counter()
            for (data,) in raw.execute("SELECT data FROM events WHERE entity_id=? AND time>=? AND time<?",
                                       (eid, day, day + 24 * HOUR)):
                json.loads(data)
            out["raw_24h"].append(time.perf_counter() - t0)
    finally:
        raw.close()
        await backend.close()
    return out


async def rebuild(path: str) -> tuple[int, float]:
    async with open_log(path, synchronous="normal") as log:
        t0 = time.perf_counter()
        n = await log.rebuild()
        return n, time.perf_counter() - t0


def raw_read(path: str) -> tuple[int, float]:
    conn = sqlite3.connect(path)
    t0 = time.perf_counter()
    n = 0
    for row in conn.execute("SELECT seq, id, time, type, source, entity_id, data FROM events"):
        json.loads(row[6])
        n += 1
    conn.close()
    return n, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--entities", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--days", type=float, default=365, help="the span the events cover")
    parser.add_argument("--db", help="reuse (or create) this database")
    parser.add_argument("--no-rebuild", action="store_true")
    parser.add_argument("--cache", choices=("warm", "cold", "as-is"), default="as-is",
                        help="before the rebuild: the log read into the OS page cache, dropped from it, or as it is")
    args = parser.parse_args()
    path = args.db or os.path.join(tempfile.mkdtemp(prefix="hub-bench-"), "big.db")
    if not os.path.exists(path):
        print(f"generating {args.events:,} events into {path} ...", flush=True)
        seconds = asyncio.run(generate(path, args.events, args.entities, args.days))
        print(f"  generated in {seconds:.0f}s ({args.events / seconds:,.0f} events/s, synchronous=NORMAL)")
    size = os.path.getsize(path) / 1e9
    q = asyncio.run(queries(path, args.entities, args.queries, args.days))
    ms = {k: [x * 1000 for x in v] for k, v in q.items()}
    print(f"queries on {path} ({size:.2f} GB), {args.queries} random entities and days:")
    print(f"  history, one entity, 24 h        p50 {median(ms['history_24h']):7.2f} ms   "
          f"p99 {pct(ms['history_24h'], 99):7.2f} ms")
    print(f"  raw log rows, same window        p50 {median(ms['raw_24h']):7.2f} ms   "
          f"p99 {pct(ms['raw_24h'], 99):7.2f} ms   (baseline: the events table, JSON decoded)")
    print(f"  hourly statistics, one entity, 1 year  p50 {median(ms['stats_year']):7.2f} ms   "
          f"p99 {pct(ms['stats_year'], 99):7.2f} ms")
    if not args.no_rebuild:
        cache = set_page_cache(path, args.cache)
        n, secs = asyncio.run(rebuild(path))
        rn, rsecs = raw_read(path)
        print(f"  rebuild ({cache}): {n:,} events in {secs:.1f}s = {n / secs:,.0f} events/s   "
              f"(raw read + JSON decode of every row: {rn / rsecs:,.0f} rows/s)")


if __name__ == "__main__":
    main()
