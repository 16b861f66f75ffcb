"""SQLite and PostgreSQL side by side: ingest, history and statistics queries, rebuild, two writers.

    .venv/bin/python bench/store_postgres.py [--scale 1.0] [--duration 60] [--url postgresql://...]

Without --url it starts a private PostgreSQL (initdb into a temp folder, fsync on,
default settings) and drops it afterwards. SQLite runs with synchronous=FULL.
Both are durable at commit, so the figures compare like with like.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.events import Event  # noqa: E402
from hub.log import EventLog, open_log  # noqa: E402
from hub.store import EventFilter  # noqa: E402
from hub.store.pg_cluster import TemporaryCluster, scratch_database  # noqa: E402

MIN = 60_000_000
HOUR = 60 * MIN
DAY = 24 * HOUR
T0 = 1_672_531_200_000_000  # 2023-01-01T00:00:00Z


async def ingest_states(log: EventLog, entity: str, start: int, step: int, count: int) -> float:
    """report_state for `count` samples, many in flight at once (as integrations do); seconds taken."""
    started = time.perf_counter()
    rng = random.Random(entity)
    for chunk in range(0, count, 2000):
        await asyncio.gather(*(
            log.report_state(entity, f"{20 + rng.random() * 5:.2f}", {"unit": "°C"}, source="bench",
                             time=start + i * step)
            for i in range(chunk, min(count, chunk + 2000))))
    return time.perf_counter() - started


async def ingest_batches(log: EventLog, count: int, size: int = 100) -> float:
    started = time.perf_counter()
    for chunk in range(0, count, size * 20):
        await asyncio.gather(*(
            log.append_many([Event("device_event", "bench", "event.bell", {"i": i + k}) for k in range(size)])
            for i in range(chunk, min(count, chunk + size * 20), size)))
    return time.perf_counter() - started


async def percentiles(query: object, runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await query()  # type: ignore[operator]
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


async def measure(url: str, scale: float) -> dict[str, float]:
    year_n, dense_n, batch_n = int(52_560 * scale), int(8_640 * scale), int(50_000 * scale)
    out: dict[str, float] = {}
    async with open_log(url) as log:
        secs = await ingest_states(log, "sensor.year", T0, 10 * MIN, year_n)
        out["report_state ev/s"] = year_n / secs
        secs = await ingest_batches(log, batch_n)
        out["append_many ev/s"] = batch_n / secs
        await ingest_states(log, "sensor.dense", T0 + 300 * DAY, DAY // max(dense_n, 1), dense_n)
        rng = random.Random(1)

        async def history() -> None:
            start = T0 + 300 * DAY + rng.randrange(0, HOUR)
            await log.backend.history("sensor.dense", start, start + DAY)

        async def hourly() -> None:
            await log.backend.statistics("sensor.year", T0, T0 + 365 * DAY, "hour")

        async def recent() -> None:
            await log.read(EventFilter(types=("device_event",), descending=True, limit=100))

        out["history 24h p50 ms"], out["history 24h p99 ms"] = await percentiles(history, 100)
        out["hourly stats 1y p50 ms"], out["hourly stats 1y p99 ms"] = await percentiles(hourly, 50)
        out["last 100 events p99 ms"] = (await percentiles(recent, 100))[1]
        total = await log.backend.head()
        started = time.perf_counter()
        await log.rebuild()
        out["rebuild ev/s"] = total / (time.perf_counter() - started)
        out["events"] = total
    return out


async def two_writers(url: str, duration: float) -> dict[str, float]:
    """Two logs (two daemons' worth) append concurrently; every event must be there exactly once."""
    async with open_log(url) as a, open_log(url) as b:
        stored: list[list[Event]] = [[], []]

        async def run(i: int, log: EventLog) -> None:
            deadline = time.monotonic() + duration
            n = 0
            while time.monotonic() < deadline:
                n += 1
                stored[i] += await log.append_many(
                    [Event("device_event", f"site{i}", None, {"n": n, "k": k}) for k in range(10)])
                event = await log.report_state(f"sensor.site{i}", str(n), {}, source=f"site{i}")
                if event is not None:
                    stored[i].append(event)

        started = time.perf_counter()
        await asyncio.gather(run(0, a), run(1, b))
        elapsed = time.perf_counter() - started
        head = await a.backend.head()
        rows = []
        after = 0
        while page := await a.read(EventFilter(after=after, limit=10_000)):
            rows += page
            after = page[-1].seq or 0
    mine = {e.id: e.seq for e in stored[0] + stored[1]}
    seqs = [e.seq for e in rows]
    lost = len(set(mine) - {e.id for e in rows})
    duplicated = len(rows) - len({e.id for e in rows})
    gaps = sum(1 for x, y in zip(seqs, seqs[1:], strict=False) if y != (x or 0) + 1)
    if lost or duplicated or gaps or head != len(mine) or any(mine[e.id] != e.seq for e in rows):
        raise SystemExit(f"two writers on {url}: lost {lost}, duplicated {duplicated}, gaps {gaps}, "
                         f"head {head}, appended {len(mine)}")
    return {"two writers ev/s": len(mine) / elapsed, "two writers events": len(mine), "lost": lost,
            "duplicated": duplicated}


@contextlib.asynccontextmanager
async def postgres(url: str | None) -> AsyncIterator[str]:
    if url:
        async with scratch_database(url) as db:
            yield db
        return
    cluster = TemporaryCluster(durable=True)
    server = await asyncio.to_thread(cluster.start)
    try:
        async with scratch_database(server) as db:
            yield db
    finally:
        await asyncio.to_thread(cluster.stop)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="workload size (1.0: a year of 10-min samples)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of the two-writer run")
    parser.add_argument("--url", help="an existing PostgreSQL server (a scratch database is made on it)")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = await measure(str(Path(tmp) / "bench.db"), args.scale)
        results["sqlite"].update(await two_writers(str(Path(tmp) / "two.db"), args.duration))
    async with postgres(args.url) as db:
        results["postgresql"] = await measure(db, args.scale)
    async with postgres(args.url) as db:
        results["postgresql"].update(await two_writers(db, args.duration))
    print(f"{'figure':28} {'sqlite':>12} {'postgresql':>12} {'pg/sqlite':>10}")
    for key, value in results["sqlite"].items():
        other = results["postgresql"][key]
        ratio = f"{other / value:.2f}" if value else "-"
        print(f"{key:28} {value:12.1f} {other:12.1f} {ratio:>10}")


if __name__ == "__main__":
    asyncio.run(main())
