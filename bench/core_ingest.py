"""Ingest through the hub's own append path (validated, projected, durable) beside raw sqlite3
`executemany` of the very same rows, measured in the same run.

    python bench/core_ingest.py [--events 300000] [--entities 500] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import tempfile
import time

from bench.common import median, raw_database
from hub.events import Event
from hub.log import open_log
from hub.states import State
from hub.store.base import event_to_row
from hub.times import now_us


def readings(n: int, entities: int) -> list[tuple[str, str]]:
    return [(f"sensor.meter_{i % entities}_power", f"{(i * 7919) % 5000 / 10:.1f}") for i in range(n)]


async def hub_append_many(path: str, items: list[tuple[str, str]], batch: int) -> float:
    """State changes built as an integration's bulk path would, appended in batches."""
    async with open_log(path, synchronous="full") as log:
        states: dict[str, State] = {}
        t0 = time.perf_counter()
        for start in range(0, len(items), batch):
            events = []
            for eid, value in items[start:start + batch]:
                t = now_us()
                old = states.get(eid)
                new = State(eid, value, {"unit_of_measurement": "W"}, t if old is None or old.state != value
                            else old.last_changed, t)
                states[eid] = new
                events.append(Event("state_changed", "bench", eid, {
                    "old_state": old.as_data() if old else None, "new_state": new.as_data()}, time=t))
            await log.append_many(events, supplied_ids=False)
        return time.perf_counter() - t0


async def hub_report_state(path: str, items: list[tuple[str, str]], entities: int) -> float:
    """Each entity a producer awaiting durability of every reading, as integrations do."""
    per_entity: dict[str, list[str]] = {}
    for eid, value in items:
        per_entity.setdefault(eid, []).append(value)
    async with open_log(path, synchronous="full") as log:
        async def producer(eid: str, values: list[str]) -> None:
            for value in values:
                await log.report_state(eid, value, {"unit_of_measurement": "W"}, source="bench")
        t0 = time.perf_counter()
        await asyncio.gather(*(producer(e, v) for e, v in per_entity.items()))
        return time.perf_counter() - t0


def raw_executemany(src: str, dst: str, batch: int) -> tuple[float, int]:
    """The same event rows the hub stored, inserted with sqlite3.executemany (no validation, no projections)."""
    rows = sqlite3.connect(src).execute(
        "SELECT seq, id, time, type, source, entity_id, data, causation, correlation FROM events ORDER BY seq"
    ).fetchall()
    conn = raw_database(dst)
    t0 = time.perf_counter()
    for start in range(0, len(rows), batch):
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?)", rows[start:start + batch])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    conn.close()
    return elapsed, len(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--entities", type=int, default=500)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    items = readings(args.events, args.entities)
    folder = tempfile.mkdtemp(prefix="hub-bench-")
    results: dict[str, list[float]] = {"hub append_many": [], "hub report_state": [], "raw executemany": []}
    for r in range(args.rounds):
        a = os.path.join(folder, f"many{r}.db")
        results["hub append_many"].append(args.events / asyncio.run(hub_append_many(a, items, args.batch)))
        b = os.path.join(folder, f"report{r}.db")
        results["hub report_state"].append(args.events / asyncio.run(hub_report_state(b, items, args.entities)))
        seconds, n = raw_executemany(a, os.path.join(folder, f"raw{r}.db"), args.batch)
        results["raw executemany"].append(n / seconds)
        _ = event_to_row  # the rows the hub wrote are the baseline's input
    raw = median(results["raw executemany"])
    print(f"ingest, {args.events} events over {args.entities} entities, synchronous=FULL, median of {args.rounds}:")
    for name, rates in results.items():
        print(f"  {name:<18} {median(rates):>10,.0f} events/s   ({median(rates) / raw:.2f}x raw)   "
              f"runs: {', '.join(f'{x:,.0f}' for x in rates)}")


if __name__ == "__main__":
    main()
