"""Where a rebuild's time goes (SQLite): the writer's steps timed on one rebuild of an existing log.

    python -m bench.core_rebuild_timeline --db PATH   (a log made by bench/core_queries.py --db PATH)

The writer empties the old projections, folds each chunk the reader process hands it (waiting when
the next chunk is not extracted yet), folds the registry and current states in Python, and commits
(the commit runs the WAL checkpoint that copies the rebuilt pages into the database). Printed: each
step's share of the wall time, and the waits between the chunks' folds, which show whether the
reader process (waits) or the writer (no waits) sets the pace.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from typing import Any

import hub.projections
import hub.store.sqlite
from hub.log import open_log
from hub.store import sqlite_fold

spans: dict[str, list[tuple[float, float]]] = {}


def timed(owner: Any, name: str, label: str) -> None:
    original: Callable[..., Any] = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spans.setdefault(label, []).append((started, time.perf_counter()))

    setattr(owner, name, wrapper)


async def rebuild(path: str) -> tuple[int, float, float]:
    async with open_log(path, synchronous="normal") as log:
        t0 = time.perf_counter()
        n = await log.rebuild()
        return n, t0, time.perf_counter()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    args = parser.parse_args()
    timed(hub.store.sqlite, "_rebuild_begin", "empty the old projections")
    timed(sqlite_fold, "fold", "fold the chunks")
    timed(hub.projections.Fold, "apply_rows", "fold registry and states (Python)")
    timed(hub.store.sqlite, "_finish", "commit, with its checkpoint")
    n, t0, t1 = asyncio.run(rebuild(args.db))
    wall = t1 - t0
    print(f"rebuild of {n:,} events: {wall:.2f} s, {n / wall:,.0f} events/s")
    for label, done in spans.items():
        total = sum(b - a for a, b in done)
        count = f"  {len(done)} chunks" if len(done) > 1 else ""
        print(f"  {label:<36} {total:6.2f} s  ({total / wall:4.0%}){count}")
    folds = spans.get("fold the chunks", [])
    if folds:
        waits = [later[0] - earlier[1] for earlier, later in zip(folds, folds[1:], strict=False)]
        print(f"  first fold began after {folds[0][0] - t0:.2f} s; waits for the reader between folds: "
              f"{sum(waits):.2f} s in all, longest {max(waits, default=0):.2f} s")


if __name__ == "__main__":
    main()
