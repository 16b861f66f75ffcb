"""The Python work of ingest per event, stage by stage, on one thread: what the event loop spends
on each state change before SQLite sees it.

    python -m bench.core_ingest_parts [--events 300000] [--entities 500] [--rounds 3]

The same state changes as bench/core_ingest.py: validation (`Event.validate`), the fold into
projection rows (`Fold.apply`, batches of 4,000 as the writer commits them under that benchmark)
and the event's row (`event_to_row`, its JSON). Baseline, in the same run: building the events
themselves, which the benchmark does before its clock starts.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from bench.common import median
from bench.core_ingest import readings
from hub.events import Event
from hub.projections import Fold
from hub.states import State
from hub.store.base import event_to_row
from hub.times import now_us

BATCH = 4000


def build(items: list[tuple[str, str]]) -> list[Event]:
    states: dict[str, State] = {}
    events = []
    for eid, value in items:
        t = now_us()
        old = states.get(eid)
        new = State(eid, value, {"unit_of_measurement": "W"},
                    t if old is None or old.state != value else old.last_changed, t)
        states[eid] = new
        events.append(Event("state_changed", "bench", eid, {
            "old_state": old.as_data() if old else None, "new_state": new.as_data()}, time=t))
    return events


def fold_all(events: list[Event]) -> None:
    fold = Fold()
    for i in range(0, len(events), BATCH):
        ops = fold.begin()
        for event in events[i:i + BATCH]:
            fold.apply(ops, event)
        fold.commit()


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def one_round(items: list[tuple[str, str]]) -> dict[str, float]:
    events: list[Event] = []
    out = {"build the events (baseline)": timed(lambda: events.extend(build(items))),
           "validate": timed(lambda: [e.validate() for e in events])}
    for seq, event in enumerate(events, 1):
        event.seq = seq
    out["fold"] = timed(lambda: fold_all(events))
    out["row"] = timed(lambda: [event_to_row(e) for e in events])
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--entities", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    items = readings(args.events, args.entities)
    runs: dict[str, list[float]] = {"build the events (baseline)": [], "validate": [], "fold": [], "row": []}
    for _ in range(args.rounds):
        for name, seconds in one_round(items).items():
            runs[name].append(seconds)
    print(f"Python per state change, {args.events:,} over {args.entities} entities, median of {args.rounds}:")
    for name, seconds in runs.items():
        print(f"  {name:<28} {median(seconds) / args.events * 1e6:6.2f} us/event   "
              f"runs: {', '.join(f'{s / args.events * 1e6:.2f}' for s in seconds)}")


if __name__ == "__main__":
    main()
