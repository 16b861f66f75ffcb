"""Durable-commit latency at a steady rate: time from append to committed, p50/p99, beside
the latency of a bare sqlite3 commit of the same number of rows in the same run.

    python -m bench.core_latency [--rate 5000] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time

from bench.common import median, pct, raw_database
from hub.events import Event
from hub.log import open_log
from hub.store.base import event_to_row


async def hub_latency(path: str, rate: int, seconds: float, tick: float) -> list[float]:
    latencies: list[float] = []
    per_tick = max(1, round(rate * tick))
    async with open_log(path, synchronous="full") as log:
        async def one(i: int) -> None:
            t0 = time.perf_counter()
            await log.report_state(f"sensor.s{i % 200}", str(i % 1000), {}, source="bench")
            latencies.append(time.perf_counter() - t0)

        async with asyncio.TaskGroup() as tg:
            start = time.perf_counter()
            i = 0
            while time.perf_counter() - start < seconds:
                for _ in range(per_tick):
                    tg.create_task(one(i))
                    i += 1
                next_tick = start + (i / per_tick) * tick
                await asyncio.sleep(max(0.0, next_tick - time.perf_counter()))
    return latencies


def raw_latency(path: str, rows_per_commit: int, commits: int) -> list[float]:
    conn = raw_database(path)
    out = []
    for c in range(commits):
        rows = [event_to_row(Event("state_changed", "bench", "sensor.x", {"v": c}, seq=c * rows_per_commit + j + 1))
                for j in range(rows_per_commit)]
        t0 = time.perf_counter()
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?)", rows)
        conn.execute("COMMIT")
        out.append(time.perf_counter() - t0)
    conn.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--tick", type=float, default=0.01, help="producers fire every tick seconds")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="hub-bench-")
    lat = asyncio.run(hub_latency(os.path.join(folder, "h.db"), args.rate, args.seconds, args.tick))
    raw = raw_latency(os.path.join(folder, "raw.db"), max(1, round(args.rate * args.tick)), 300)
    ms = [x * 1000 for x in lat]
    raw_ms = [x * 1000 for x in raw]
    achieved = len(lat) / args.seconds
    print(f"durable-commit latency at {args.rate}/s for {args.seconds:g}s ({achieved:,.0f} events/s achieved, "
          f"synchronous=FULL):")
    print(f"  hub append -> committed   p50 {median(ms):6.2f} ms   p99 {pct(ms, 99):6.2f} ms   max {max(ms):6.2f} ms")
    print(f"  raw sqlite3 commit of {max(1, round(args.rate * args.tick))} rows  p50 {median(raw_ms):6.2f} ms   "
          f"p99 {pct(raw_ms, 99):6.2f} ms")


if __name__ == "__main__":
    main()
