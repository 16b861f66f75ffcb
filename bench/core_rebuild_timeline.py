"""Where a rebuild's time goes (SQLite): the writer's steps timed on one rebuild of an existing log.

    python -m bench.core_rebuild_timeline --db PATH [--reader-sqlite stdlib] [--cache warm|cold|as-is]
                                          [--writer-alone]
    (PATH: a log made by bench/core_queries.py --db PATH)

The writer empties the old projections, folds each chunk the reader processes hand it (waiting when
the next chunk is not extracted yet), folds the registry and current states in Python, and commits
(the commit runs the WAL checkpoint that copies the rebuilt pages into the database). Printed: the
CPU of the writer's process and of the readers, their peak RSS, each step's share of the wall time,
and the waits between the chunks' folds, which show whether the readers (waits) or the writer (no
waits) set the pace. `--reader-sqlite stdlib` runs the readers on Python's SQLite, not pysqlite3's.
`--cache` sets the log's state in the OS page cache first (`bench.common.set_page_cache`): the
emptying of the old projections reads every page of theirs, at random offsets, so a log not in memory
rebuilds far slower. `--writer-alone` holds the writer back until the readers have extracted every
chunk, then times its own work alone: the rebuild's rate if the readers cost nothing, the ceiling the
writer's half (which cannot be shared out) sets on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import resource
import time
from collections.abc import Callable
from typing import Any

import hub.projections
import hub.store.sqlite
from bench.common import set_page_cache
from hub.log import open_log
from hub.store import sqlite_fold

spans: dict[str, list[tuple[float, float]]] = {}
marks: dict[str, float] = {}


def timed(owner: Any, name: str, label: str) -> None:
    original: Callable[..., Any] = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spans.setdefault(label, []).append((started, time.perf_counter()))

    setattr(owner, name, wrapper)


def hold_writer_back() -> None:
    """The writer starts folding only once every chunk is extracted (the readers may run ahead all the way)."""
    hub.store.sqlite.REBUILD_AHEAD = 1_000_000
    original = hub.store.sqlite.SqliteBackend._fold_chunks_piped

    async def alone(self: Any, conn: Any, chunks: Any, head: int, progress: Any) -> bool:
        chunks.known_head.set_result(head)
        items, done = [], 0
        while done < head:
            item = await chunks.ready.get()
            if isinstance(item, Exception):
                raise item
            items.append(item)
            done = item[0]
        await asyncio.wait([extracted for _, extracted in items])
        marks["readers done"] = time.perf_counter()
        chunks.known_head = asyncio.get_running_loop().create_future()
        for item in items:
            chunks.ready.put_nowait(item)
        return bool(await original(self, conn, chunks, head, progress))

    hub.store.sqlite.SqliteBackend._fold_chunks_piped = alone  # type: ignore[method-assign]


async def rebuild(path: str) -> tuple[int, float, float, dict[str, float]]:
    """The rebuild's events, start and end, and the CPU seconds and peak RSS (MB) of this process
    (the writer) and of the reader processes (CPU: all of them; RSS: the largest)."""
    async with open_log(path, synchronous="normal") as log:
        mine, theirs = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        n = await log.rebuild()
        t1 = time.perf_counter()
        mine2, theirs2 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    use = {"writer_cpu": mine2.ru_utime + mine2.ru_stime - mine.ru_utime - mine.ru_stime,
           "readers_cpu": theirs2.ru_utime + theirs2.ru_stime - theirs.ru_utime - theirs.ru_stime,
           "writer_rss": mine2.ru_maxrss / 1024, "reader_rss": theirs2.ru_maxrss / 1024}
    return n, t0, t1, use


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--reader-sqlite", choices=("default", "stdlib"), default="default",
                        help="the readers' SQLite: pysqlite3's where installed, or Python's own")
    parser.add_argument("--cache", choices=("warm", "cold", "as-is"), default="as-is",
                        help="the log read into the OS page cache first, dropped from it, or left as it is")
    parser.add_argument("--writer-alone", action="store_true",
                        help="the writer waits until every chunk is extracted, then its own work is timed alone")
    args = parser.parse_args()
    if args.writer_alone:
        hold_writer_back()
    timed(hub.store.sqlite, "_rebuild_begin", "empty the old projections")
    timed(sqlite_fold, "fold", "fold the chunks")
    timed(hub.projections.Fold, "apply_rows", "fold registry and states (Python)")
    timed(hub.store.sqlite, "_finish", "commit, with its checkpoint")
    if args.reader_sqlite == "stdlib":
        os.environ["HUB_EXTRACT_SQLITE"] = "stdlib"  # the reader processes inherit it
    # Asked without importing it: only the reader processes load pysqlite3.
    on_stdlib = args.reader_sqlite == "stdlib" or importlib.util.find_spec("pysqlite3") is None
    library = "Python's" if on_stdlib else "pysqlite3's"
    cache = set_page_cache(args.db, args.cache)
    n, t0, t1, use = asyncio.run(rebuild(args.db))
    wall = t1 - t0
    print(f"rebuild of {n:,} events: {wall:.2f} s, {n / wall:,.0f} events/s (readers on {library} SQLite; {cache})")
    print(f"  CPU: writer process {use['writer_cpu']:.2f} s, readers {use['readers_cpu']:.2f} s; "
          f"peak RSS: writer process {use['writer_rss']:.0f} MB, largest reader {use['reader_rss']:.0f} MB")
    for label, done in spans.items():
        total = sum(b - a for a, b in done)
        count = f"  {len(done)} chunks" if len(done) > 1 else ""
        print(f"  {label:<36} {total:6.2f} s  ({total / wall:4.0%}){count}")
    folds = spans.get("fold the chunks", [])
    if folds:
        waits = [later[0] - earlier[1] for earlier, later in zip(folds, folds[1:], strict=False)]
        print(f"  first fold began after {folds[0][0] - t0:.2f} s; waits for the reader between folds: "
              f"{sum(waits):.2f} s in all, longest {max(waits, default=0):.2f} s")
    if "readers done" in marks:
        emptying = sum(b - a for a, b in spans.get("empty the old projections", []))
        alone = t1 - marks["readers done"] + emptying
        print(f"  the writer alone (emptying, then every fold, registry and commit with all chunks extracted): "
              f"{alone:.2f} s, so at most {n / alone:,.0f} events/s were the readers free")


if __name__ == "__main__":
    main()
