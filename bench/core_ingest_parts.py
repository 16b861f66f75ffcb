"""The Python work of ingest per event, stage by stage, on one thread: what the event loop spends
on each state change before SQLite sees it.

    python -m bench.core_ingest_parts [--events 300000] [--entities 500] [--rounds 3] [--beside-writer]

The same state changes as bench/core_ingest.py: validation (`Event.validate`), the fold into
projection rows (`Fold.apply`, batches of 4,000 as the writer commits them under that benchmark)
and the event's row (`event_to_row`, its JSON). Baseline, in the same run: building the events
themselves, which the benchmark does before its clock starts.

`--beside-writer` measures every stage again while another process inserts the same rows with
sqlite3 `executemany` (4,000 to a commit, fsync'd) without pause, as SQLite's thread does beside the
event loop during ingest: what the machine's other core costs this one.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

from bench.common import median, raw_database
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


def write_forever(folder: str, items: list[tuple[str, str]]) -> None:
    """Insert the events' rows into a fresh raw database, again and again, until killed."""
    rows = [event_to_row(e) for e in build(items)]
    for seq, row in enumerate(rows, 1):
        rows[seq - 1] = (seq, *row[1:])
    path = os.path.join(folder, "writer.db")
    while True:
        conn = raw_database(path)
        for start in range(0, len(rows), BATCH):
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?)", rows[start:start + BATCH])
            conn.execute("COMMIT")
        conn.close()


def measure(items: list[tuple[str, str]], rounds: int) -> dict[str, list[float]]:
    runs: dict[str, list[float]] = {}
    for _ in range(rounds):
        for name, seconds in one_round(items).items():
            runs.setdefault(name, []).append(seconds)
    return runs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--entities", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--beside-writer", action="store_true", help="measure again beside a writing process")
    parser.add_argument("--writer", metavar="FOLDER", help=argparse.SUPPRESS)
    args = parser.parse_args()
    items = readings(args.events, args.entities)
    if args.writer:
        write_forever(args.writer, items)
        return
    settings = [("alone", None)]
    if args.beside_writer:
        settings.append(("beside a process writing rows", tempfile.mkdtemp(prefix="hub-bench-")))
    results = {}
    for label, folder in settings:
        writer = None
        if folder is not None:
            writer = subprocess.Popen([sys.executable, "-m", "bench.core_ingest_parts", "--writer", folder,
                                       "--events", str(args.events), "--entities", str(args.entities)])
            while not os.path.exists(os.path.join(folder, "writer.db")):  # it builds its rows first
                time.sleep(0.1)
        try:
            results[label] = measure(items, args.rounds)
        finally:
            if writer is not None:
                writer.kill()
                writer.wait()
    print(f"Python per state change, {args.events:,} over {args.entities} entities, median of {args.rounds}:")
    for label, runs in results.items():
        if len(results) > 1:
            print(f" {label}:")
        for name, seconds in runs.items():
            print(f"  {name:<28} {median(seconds) / args.events * 1e6:6.2f} us/event   "
                  f"runs: {', '.join(f'{s / args.events * 1e6:.2f}' for s in seconds)}")


if __name__ == "__main__":
    main()
