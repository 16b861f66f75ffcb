"""Where bench/core_ingest.py's time goes: the pipelined writer's two stages, timed batch by batch.

    python -m bench.core_ingest_timeline [--events 300000] [--entities 500]

One run of the `hub append_many` case of bench/core_ingest.py (8 appenders of 1,000 events), with the
event loop's fold of each batch (`EventLog._fold_prepared`) and SQLite's thread's commit of it
(`_commit_at`) timed. The stage that takes longer per batch sets the pace; commits far longer than
the median (WAL checkpoints, a backlog's last slice) stall the loop, which folds one batch ahead.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from typing import Any

import hub.log
import hub.store.sqlite
from bench.common import median
from bench.core_ingest import hub_append_many, readings

folds: list[tuple[float, int]] = []  # (seconds, events)
commits: list[float] = []


def instrument() -> None:
    fold, commit = hub.log.EventLog._fold_prepared, hub.store.sqlite._commit_at

    def timed_fold(self: hub.log.EventLog, items: list[Any], head: int) -> Any:
        started = time.perf_counter()
        batch = fold(self, items, head)
        folds.append((time.perf_counter() - started, len(batch.new)))
        return batch

    def timed_commit(raw: Any, head: int, statements: Any) -> bool:
        started = time.perf_counter()
        try:
            return commit(raw, head, statements)
        finally:
            commits.append(time.perf_counter() - started)

    hub.log.EventLog._fold_prepared = timed_fold  # type: ignore[method-assign]
    hub.store.sqlite._commit_at = timed_commit


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--entities", type=int, default=500)
    args = parser.parse_args()
    instrument()
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as folder:
        path = os.path.join(folder, "timeline.db")
        run = asyncio.run(hub_append_many(path, readings(args.events, args.entities), 1000, 8))
    seconds, per_commit = run.seconds, run.per_commit
    fold_s = median([s for s, _ in folds])
    commit_s = median(commits)
    long = [c for c in commits if c > 2 * commit_s]
    print(f"{args.events:,} state changes, {args.events / seconds:,.0f} events/s, {per_commit:,.0f} events/commit")
    print(f"  event loop, fold a batch        median {fold_s * 1000:6.1f} ms  "
          f"({sum(s for s, _ in folds) / args.events * 1e6:.2f} us/event, {sum(s for s, _ in folds):.2f} s in all)")
    print(f"  SQLite's thread, commit a batch median {commit_s * 1000:6.1f} ms  ({sum(commits):.2f} s in all)")
    print(f"  commits over twice the median: {len(long)}, {sum(long):.2f} s in all "
          f"({', '.join(f'{c * 1000:.0f}' for c in long)} ms)")
    print(f"  wall: {seconds:.2f} s, of which Python's garbage collector {run.collector:.2f} s")


if __name__ == "__main__":
    main()
