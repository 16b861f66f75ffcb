"""Ingest through the hub's own append path (validated, projected, durable) beside raw sqlite3
`executemany` of the very same rows, measured in the same run.

    python -m bench.core_ingest [--events 300000] [--entities 500] [--rounds 3] [--collector daemon|python]

Three ways in: `append_many` of events built before the clock starts (bulk appenders, 8 concurrent);
`submit_state`, the integrations' hot path (an MQTT burst: queued without waiting, acknowledged once
durable); `report_state` awaited by each of 500 producers, reading by reading.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import functools
import os
import sqlite3
import tempfile
import time
from typing import Any

from bench.common import collector_watch, median, raw_database
from hub.events import Event
from hub.log import open_log
from hub.states import State
from hub.times import now_us


def readings(n: int, entities: int) -> list[tuple[str, str]]:
    return [(f"sensor.meter_{i % entities}_power", f"{(i * 7919) % 5000 / 10:.1f}") for i in range(n)]


DAEMON_COLLECTOR = True  # the collector's thresholds as `hub run` sets them (`--collector python`: Python's)


@dataclasses.dataclass
class Run:
    seconds: float
    per_commit: float  # events per commit
    collector: float  # seconds Python's garbage collector ran meanwhile


async def hub_append_many(path: str, items: list[tuple[str, str]], batch: int, producers: int) -> Run:
    """State changes built as integrations' bulk paths would (MQTT bursts, backfills): `producers`
    concurrent appenders, each awaiting durability of its batch before sending the next."""
    states: dict[str, State] = {}

    def build(chunk: list[tuple[str, str]]) -> list[Event]:
        events = []
        for eid, value in chunk:
            t = now_us()
            old = states.get(eid)
            new = State(eid, value, {"unit_of_measurement": "W"}, t if old is None or old.state != value
                        else old.last_changed, t)
            states[eid] = new
            events.append(Event("state_changed", "bench", eid, {
                "old_state": old.as_data() if old else None, "new_state": new.as_data()}, time=t))
        return events

    # Built before the clock starts: what is timed is the append path, not the producer.
    chunks = [build(items[i:i + batch]) for i in range(0, len(items), batch)]
    with collector_watch(DAEMON_COLLECTOR) as collector:
        async with open_log(path, synchronous="full") as log:
            t0 = time.perf_counter()

            async def producer(k: int) -> None:
                for chunk in chunks[k::producers]:
                    await log.append_many(chunk, supplied_ids=False)

            await asyncio.gather(*(producer(k) for k in range(producers)))
            elapsed = time.perf_counter() - t0
            return Run(elapsed, log.metrics.appended / max(1, log.metrics.commits), collector.total())


async def hub_report_state(path: str, items: list[tuple[str, str]], entities: int) -> Run:
    """Each entity a producer awaiting durability of every reading, as integrations do."""
    per_entity: dict[str, list[str]] = {}
    for eid, value in items:
        per_entity.setdefault(eid, []).append(value)
    with collector_watch(DAEMON_COLLECTOR) as collector:
        async with open_log(path, synchronous="full") as log:
            async def producer(eid: str, values: list[str]) -> None:
                for value in values:
                    await log.report_state(eid, value, {"unit_of_measurement": "W"}, source="bench")
            t0 = time.perf_counter()
            await asyncio.gather(*(producer(e, v) for e, v in per_entity.items()))
            elapsed = time.perf_counter() - t0
            return Run(elapsed, log.metrics.appended / max(1, log.metrics.commits), collector.total())


async def hub_submit_state(path: str, items: list[tuple[str, str]]) -> Run:
    """The integrations' hot path (an MQTT burst): `submit_state` queues each reading without waiting,
    and a callback takes its result once durable, as the MQTT integration acknowledges a message; when
    the queue is full, `report_state` waits for room. The clock stops when every reading is durable."""
    done = 0
    every = asyncio.Event()

    def count() -> None:
        nonlocal done
        done += 1
        if done == len(items):
            every.set()

    failed: list[BaseException] = []

    def durable(future: asyncio.Future[Any]) -> None:
        if future.exception() is not None:
            failed.append(future.exception())  # type: ignore[arg-type]
            every.set()
        else:
            count()

    with collector_watch(DAEMON_COLLECTOR) as collector:
        async with open_log(path, synchronous="full") as log:
            t0 = time.perf_counter()
            for eid, value in items:
                future = log.submit_state(eid, value, {"unit_of_measurement": "W"}, source="bench")
                if future is None:
                    await log.report_state(eid, value, {"unit_of_measurement": "W"}, source="bench")
                    count()
                else:
                    future.add_done_callback(durable)
            await every.wait()
            elapsed = time.perf_counter() - t0
            if failed:
                raise failed[0]
            return Run(elapsed, log.metrics.appended / max(1, log.metrics.commits), collector.total())


def stored_rows(path: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT seq, id, time, type, source, entity_id, data, causation, correlation "
                            "FROM events ORDER BY seq").fetchall()
    finally:
        conn.close()


def remove_database(path: str) -> None:
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(path + suffix)


def raw_executemany(rows: list[tuple[Any, ...]], dst: str, batch: int, *, lean: bool = False) -> float:
    """The same event rows the hub stored, inserted with sqlite3.executemany (no validation, no projections).
    `lean`: rows without causation or correlation inserted without those two NULL columns, as the hub
    does (binding None costs Python's sqlite3 about as much as the rest of the row)."""
    conn = raw_database(dst)
    if lean:
        assert all(row[7] is None and row[8] is None for row in rows)  # true of every state change here
        rows = [row[:7] for row in rows]
        sql = "INSERT INTO events (seq, id, time, type, source, entity_id, data) VALUES (?,?,?,?,?,?,?)"
    else:
        sql = "INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?)"
    t0 = time.perf_counter()
    for start in range(0, len(rows), batch):
        conn.execute("BEGIN")
        conn.executemany(sql, rows[start:start + batch])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    conn.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--entities", type=int, default=500)
    parser.add_argument("--batch", type=int, default=1000, help="events per append_many call")
    parser.add_argument("--producers", type=int, default=8, help="concurrent append_many callers")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--collector", choices=("daemon", "python"), default="daemon",
                        help="the garbage collector's thresholds: as `hub run` sets them (hub.heap), or Python's")
    args = parser.parse_args()
    global DAEMON_COLLECTOR
    DAEMON_COLLECTOR = args.collector == "daemon"
    items = readings(args.events, args.entities)
    folder = tempfile.mkdtemp(prefix="hub-bench-")
    cases = ("hub append_many", "hub submit_state", "hub report_state")
    rates: dict[str, list[float]] = {name: [] for name in (*cases, "raw executemany", "raw, NULLs left out")}
    per_commit: dict[str, list[float]] = {name: [] for name in cases}
    collected: dict[str, list[float]] = {name: [] for name in cases}  # the collector's share of the run
    for r in range(args.rounds):
        # Each run starts with no dirty pages of the runs before waiting to be written back: the
        # kernel's writeback of earlier databases would compete with this run's fsyncs.
        a, b = os.path.join(folder, f"many{r}.db"), os.path.join(folder, f"state{r}.db")
        for name, case in (("hub append_many", functools.partial(hub_append_many, a, items, args.batch,
                                                                  args.producers)),
                           ("hub submit_state", functools.partial(hub_submit_state, b, items)),
                           ("hub report_state", functools.partial(hub_report_state, b, items, args.entities))):
            os.sync()
            run = asyncio.run(case())
            rates[name].append(args.events / run.seconds)
            per_commit[name].append(run.per_commit)
            collected[name].append(run.collector / run.seconds)
            if name != "hub append_many":
                remove_database(b)
        # The very rows the hub stored, in transactions as large as the hub's own commits.
        raw = os.path.join(folder, f"raw{r}.db")
        rows = stored_rows(a)
        remove_database(a)
        os.sync()
        seconds = raw_executemany(rows, raw, round(commit_size_of(per_commit)))
        rates["raw executemany"].append(len(rows) / seconds)
        remove_database(raw)
        os.sync()
        seconds = raw_executemany(rows, raw, round(commit_size_of(per_commit)), lean=True)
        rates["raw, NULLs left out"].append(len(rows) / seconds)
        remove_database(raw)
    raw = median(rates["raw executemany"])
    print(f"ingest, {args.events:,} state changes over {args.entities} entities, synchronous=FULL, "
          f"the collector's thresholds {'as the daemon sets them' if DAEMON_COLLECTOR else 'Python defaults'}, "
          f"median of {args.rounds} rounds:")
    for name, values in rates.items():
        size = f"{median(per_commit[name]):,.0f} events/commit" if name in per_commit else \
            f"{commit_size_of(per_commit):,.0f} rows/commit"
        gc_share = f"; collector {median(collected[name]):.0%} of the run" if name in collected else ""
        print(f"  {name:<18} {median(values):>10,.0f} events/s  ({median(values) / raw:.2f}x raw; {size}{gc_share})  "
              f"runs: {', '.join(f'{x:,.0f}' for x in values)}")
    print("  (hub: validated, folded into state/history/statistics/registry, committed with fsync; "
          "raw: the same event rows only, into the same schema; 'NULLs left out': without the two columns "
          "that are NULL in every row, as the hub inserts them)")
    print("  (the benchmark's pre-built inputs are frozen out of the collector's sight before the clock starts, "
          "as the daemon freezes its start-up heap)")


def commit_size_of(per_commit: dict[str, list[float]]) -> float:
    return per_commit["hub append_many"][-1]


if __name__ == "__main__":
    main()
