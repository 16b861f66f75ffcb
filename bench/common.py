"""Shared helpers for the benchmarks: percentiles, RSS, and the schema for raw baselines."""

from __future__ import annotations

import os
import sqlite3
import statistics
from pathlib import Path

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
