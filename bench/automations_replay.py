"""`replay` over 1,000,000 recorded events (target: at most 30 s), with the corpus's 47 automations.

Baseline in the same run: reading the same events from the log with no rules (the floor).
The generated database is kept (default /tmp/hub_replay_bench.db) so that reruns skip generation.

    .venv/bin/python bench/automations_replay.py [--events 1000000] [--db PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from datetime import datetime, timezone
from pathlib import Path

from automations.config import load_rules_file
from automations.replay import replay
from hub.events import Event
from hub.log import open_log
from hub.store import EventFilter
from hub.times import from_datetime, to_iso

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "automations" / "corpus"
START = from_datetime(datetime(2026, 6, 1, tzinfo=timezone.utc))
STEP_US = 600_000  # one event every 0.6 s: 1M events span about a week


def _state(value: str, t: int) -> dict[str, object]:
    iso = to_iso(t)
    return {"state": value, "attributes": {}, "last_changed": iso, "last_updated": iso}


async def generate(db: str, count: int) -> None:
    rng = random.Random(4)
    binary = ["binary_sensor.porch_motion", "binary_sensor.hallway_motion", "binary_sensor.bathroom_motion",
              "binary_sensor.front_door", "binary_sensor.bedroom_window"] + [f"binary_sensor.b{i}" for i in range(45)]
    numeric = ["sensor.house_power", "sensor.washer_power", "sensor.tv_power", "sensor.bathroom_humidity",
               "sensor.freezer_temperature", "sensor.outdoor_temperature"] + [f"sensor.s{i}" for i in range(144)]
    current: dict[str, str] = {}
    async with open_log(db, synchronous="normal", project=False) as log:
        batch: list[Event] = []
        for n in range(count):
            t = START + n * STEP_US
            if n % 10 == 0:
                batch.append(Event("mqtt_message", "mqtt", None, {"topic": f"zigbee2mqtt/dev{n % 40}",
                                                                  "payload": '{"action": "single"}'}, time=t))
            else:
                if rng.random() < 0.3:
                    eid = rng.choice(binary)
                    value = "off" if current.get(eid) == "on" else "on"
                else:
                    eid = rng.choice(numeric)
                    value = f"{rng.uniform(0, 4000 if 'power' in eid else 100):.1f}"
                old = current.get(eid)
                current[eid] = value
                batch.append(Event("state_changed", "bench", eid, {
                    "old_state": _state(old, t - STEP_US) if old is not None else None,
                    "new_state": _state(value, t)}, time=t))
            if len(batch) >= 20_000:
                await log.append_many(batch, supplied_ids=False)
                batch = []
        if batch:
            await log.append_many(batch, supplied_ids=False)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--db", default="/tmp/hub_replay_bench.db")
    args = parser.parse_args()
    db = args.db
    async with open_log(db, project=False) as log:
        have = log.head
    if have != args.events:
        for suffix in ("", "-wal", "-shm"):
            Path(db + suffix).unlink(missing_ok=True)
        started = time.perf_counter()
        await generate(db, args.events)
        print(f"generated {args.events} events in {time.perf_counter() - started:.1f}s")
    rules_file = Path("/tmp/hub_replay_bench_rules.yaml")
    rules_file.write_text("\n".join(p.read_text() for p in sorted(CORPUS.glob("*.yaml"))))
    rules = load_rules_file(rules_file)
    until = START + args.events * STEP_US + 1
    async with open_log(db, project=False) as log:
        started = time.perf_counter()
        position, read = 0, 0
        while True:
            page = await log.read(EventFilter(after=position, since=START, until=until, limit=10_000))
            if not page:
                break
            position = page[-1].seq or position
            read += len(page)
        baseline = time.perf_counter() - started
        report = await replay(log, rules, START, until_us=until)
    commands = sum(len(r.get("commands", [])) for r in report.runs)
    print(f"baseline: read {read} events with no rules: {baseline:.1f}s")
    print(f"replay: {len(rules.automations)} automations over {report.events} events "
          f"({to_iso(START)} .. {to_iso(until)}): {report.elapsed_s:.1f}s, "
          f"{report.events / report.elapsed_s:,.0f} events/s, {len(report.runs)} runs, {commands} commands")
    print(f"replay / baseline: {report.elapsed_s / baseline:.2f}x; target <= 30 s: "
          f"{'met' if report.elapsed_s <= 30 else 'NOT met'}")


if __name__ == "__main__":
    asyncio.run(main())
