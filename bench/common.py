"""Shared helpers for the benchmarks: percentiles, RSS, and the schema for raw baselines."""

from __future__ import annotations

import contextlib
import gc
import os
import sqlite3
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

from hub import heap
from hub.store.sqlite import WAL_CHECKPOINT_PAGES, _split_sql
from hub.store.sqlite_schema import MIGRATIONS, SCHEMA_VERSION, V1


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (0-100) by nearest rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def rss_mb(pid: int | None = None) -> float:
    """Resident set size of a process in MB (Linux /proc)."""
    path = Path(f"/proc/{pid or os.getpid()}/status")
    for line in path.read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Collector:
    """Seconds Python's cyclic garbage collector ran, by generation, while `collector_watch` was open."""

    def __init__(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds[info["generation"]] += time.perf_counter() - self._started

    def total(self) -> float:
        return sum(self.seconds)


@contextlib.contextmanager
def collector_watch(daemon: bool = True) -> Iterator[Collector]:
    """The collector as the daemon sets it once started (`hub.heap.settle`), and timed meanwhile. What
    the benchmark built before its clock starts is frozen with it: its inputs (a producer holding
    millions of events) are the harness, not the hub. Without the freeze, each full collection walks
    them: 76 of the 201 seconds of one 3,000,000-event `report_state` run (an ad-hoc watch of
    `gc.callbacks`, 2026-11-21). `daemon=False`: Python's default thresholds instead of the daemon's
    (the inputs frozen all the same)."""
    threshold = gc.get_threshold()
    heap.settle()
    if not daemon:
        gc.set_threshold(*threshold)
    watch = Collector()
    gc.callbacks.append(watch)
    try:
        yield watch
    finally:
        gc.callbacks.remove(watch)
        gc.unfreeze()
        gc.set_threshold(*threshold)


def raw_database(path: str, synchronous: str = "FULL") -> sqlite3.Connection:
    """A plain sqlite3 connection on a fresh file with the hub's schema (the raw baseline)."""
    for suffix in ("", "-wal", "-shm"):
        Path(path + suffix).unlink(missing_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")  # as the hub's writer
    for stmt in _split_sql(V1):
        conn.execute(stmt)
    for version in range(1, SCHEMA_VERSION):  # the schema the hub writes into, indexes and all
        for stmt in _split_sql(MIGRATIONS[version]):
            conn.execute(stmt)
    return conn


def set_page_cache(path: str, state: str) -> str:
    """Put a database file (and its WAL) in the OS page cache state a rebuild is to start from:
    "warm", read whole (a server that has been using its log), "cold", dropped from the cache (one
    just rebooted: fadvise DONTNEED, after an fsync so that no page is dirty), or "as-is". Says what
    it did. Page cache here is dropped readily: a log of a few GB written after another evicts it."""
    if state == "as-is":
        return "page cache as it was"
    files = [p for p in (path, path + "-wal") if os.path.exists(p)]
    started = time.perf_counter()
    for name in files:
        fd = os.open(name, os.O_RDONLY)
        try:
            if state == "cold":
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            else:
                while os.read(fd, 1 << 20):
                    pass
        finally:
            os.close(fd)
    if state == "cold":
        return "log dropped from the page cache"
    return f"log read into the page cache first ({time.perf_counter() - started:.1f} s)"
