"""`hub migrate --to postgresql://...`: copy an SQLite log into PostgreSQL, resumably, and verify it.

Events are copied in seq order, a batch per transaction, so an interrupted run
resumes where the target's head stands. The projections (states, history,
statistics, registry) are copied as they are, in one transaction at the end:
statistics outlive the events that retention dropped, so they cannot be rebuilt
from the log. The source is read in one snapshot; a daemon may keep appending to
it, and a second run copies what came since. Finally both sides are compared:
event counts and a SHA-256 over every event row in seq order, and row counts of
every projection table.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosqlite

from hub.errors import StoreError
from hub.store.postgres import PostgresBackend
from hub.store.postgres_schema import PROJECTION_COLUMNS, PROJECTION_TABLES
from hub.store.sqlite_schema import SCHEMA_VERSION as SQLITE_SCHEMA_VERSION

log = logging.getLogger(__name__)

_COLUMNS = "seq, id, time, type, source, entity_id, data, causation, correlation"
_PG_COLUMNS = "seq, id, time, type, source, entity_id, data::text, causation, correlation"

Progress = Callable[[int, int], None]


@dataclass
class MigrationReport:
    """What a migration did and what it verified."""

    source: str
    target: str
    events: int = 0            # events in the source snapshot (and now in the target)
    copied: int = 0            # events copied by this run
    resumed_at: int = 0        # the target's head when this run started
    head: int = 0              # the source snapshot's head
    checksum: str = ""         # SHA-256 over every event row, identical on both sides
    tables: dict[str, int] = field(default_factory=dict)  # projection rows in the target

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _row_digest(digest: Any, rows: list[tuple[Any, ...]]) -> None:
    for row in rows:
        digest.update(json.dumps(list(row), ensure_ascii=False, separators=(",", ":")).encode())
        digest.update(b"\n")


async def migrate(source: str, target: str, *, batch_size: int = 5000,
                  progress: Progress | None = None) -> MigrationReport:
    """Copy the SQLite log at `source` (a path) into the PostgreSQL database at `target` (a URL).

    Safe to run again: it resumes an interrupted copy, copies events appended since, and
    refuses a target that holds a different log. Raises StoreError when verification fails.
    `progress(done, total)` is called after every batch of events.
    """
    if not Path(source).is_file():
        raise StoreError(f"source database {source} does not exist")
    backend = PostgresBackend(target)
    report = MigrationReport(source, backend.safe_url)
    try:
        src = await aiosqlite.connect(f"file:{Path(source).resolve()}?mode=ro", uri=True, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open source database {source}: {exc}") from None
    try:
        await _check_source(src, source)
        await backend.open()
        try:
            await src.execute("BEGIN")  # one snapshot for everything read below
            report.head, report.events = await _one(src, "SELECT COALESCE(MAX(seq), 0), COUNT(*) FROM events")
            report.resumed_at = await backend.head()
            await _check_target(src, backend, report)
            await _copy_events(src, backend, report, batch_size, progress)
            done = await backend._val("SELECT value FROM meta WHERE key = 'migrated_projections_at'")
            if done != str(report.head):
                await _copy_projections(src, backend, report)
            await _verify(src, backend, report)
            await src.execute("COMMIT")
        finally:
            await backend.close()
    except sqlite3.Error as exc:
        raise StoreError(f"reading source database {source} failed: {exc}") from None
    finally:
        await src.close()
    log.info("migrated %d events (%d copied now) from %s to %s; checksum %s", report.events, report.copied,
             source, report.target, report.checksum)
    return report


async def _one(src: aiosqlite.Connection, sql: str, params: Any = ()) -> tuple[Any, ...]:
    async with src.execute(sql, params) as cur:
        row = await cur.fetchone()
    return tuple(row) if row else ()


async def _check_source(src: aiosqlite.Connection, path: str) -> None:
    try:
        version = await _one(src, "SELECT value FROM meta WHERE key = 'schema_version'")
    except sqlite3.Error as exc:
        raise StoreError(f"source {path} is not a hub log ({exc})") from None
    if not version or int(version[0]) != SQLITE_SCHEMA_VERSION:
        raise StoreError(f"source {path} has schema version {version[0] if version else '?'}; this hub migrates "
                         f"version {SQLITE_SCHEMA_VERSION} (open it once with this hub's `hub run` first)")


async def _check_target(src: aiosqlite.Connection, backend: PostgresBackend, report: MigrationReport) -> None:
    """Refuse a target that is not an earlier, partial copy of this source."""
    at = report.resumed_at
    if at == 0:
        return
    if at > report.head:
        raise StoreError(f"target {report.target} is ahead of the source (seq {at} > {report.head}): "
                         "it already holds a log that is in use; migrate into an empty database")
    for seq in (await _one(src, "SELECT MIN(seq) FROM events WHERE seq <= ?", (at,)) or (None,))[0], at:
        if seq is None:
            continue
        mine = await _one(src, "SELECT id FROM events WHERE seq = ?", (seq,))
        theirs = await backend.get(seq)
        if not mine or theirs is None or theirs.id != mine[0]:
            raise StoreError(f"target {report.target} holds a different log (event {seq} differs from the "
                             "source's); migrate into an empty database")


async def _copy_events(src: aiosqlite.Connection, backend: PostgresBackend, report: MigrationReport,
                       batch_size: int, progress: Progress | None) -> None:
    position = report.resumed_at
    done = int((await _one(src, "SELECT COUNT(*) FROM events WHERE seq <= ?", (position,)))[0])
    while position < report.head:
        async with src.execute(f"SELECT {_COLUMNS} FROM events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
                               (position, report.head, batch_size)) as cur:
            rows = [tuple(r) for r in await cur.fetchall()]
        if not rows:
            break
        async with backend.transaction() as tx:
            if await tx.head() != position:
                raise StoreError(f"someone else writes to {report.target} during the migration "
                                 f"(head {await tx.head()}, expected {position}); stop every hub on it")
            await tx.insert_rows(rows)  # type: ignore[attr-defined]
        position = rows[-1][0]
        done += len(rows)
        report.copied += len(rows)
        if progress is not None:
            progress(done, report.events)


async def _source_rows(src: aiosqlite.Connection, table: str) -> AsyncIterator[tuple[Any, ...]]:
    columns = ", ".join(c for c, _ in PROJECTION_COLUMNS[table])
    async with src.execute(f"SELECT {columns} FROM {table}") as cur:
        while rows := await cur.fetchmany(5000):
            for row in rows:
                yield tuple(row)


async def _copy_projections(src: aiosqlite.Connection, backend: PostgresBackend, report: MigrationReport) -> None:
    async with src.execute("SELECT name, seq FROM projection_position") as cur:
        positions = {name: min(int(seq), report.head) for name, seq in await cur.fetchall()}
    # Below the last gap in seq, retention has dropped events: continuity is checked above it.
    gap = await _one(src, "SELECT COALESCE(MAX(seq), 1) - 1 FROM events e WHERE seq <= ? AND NOT EXISTS "
                          "(SELECT 1 FROM events p WHERE p.seq = e.seq - 1)", (report.head,))
    meta = {"migrated_projections_at": str(report.head), "retained_upto": str(max(int(gap[0]), 0)),
            "migrated_from": str(Path(report.source).resolve())}
    report.tables = await backend.replace_projections(
        {table: _source_rows(src, table) for table in PROJECTION_TABLES}, positions, meta)


async def _verify(src: aiosqlite.Connection, backend: PostgresBackend, report: MigrationReport) -> None:
    source_digest, target_digest = hashlib.sha256(), hashlib.sha256()
    counted = 0
    position = 0
    while True:
        async with src.execute(f"SELECT {_COLUMNS} FROM events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT 5000",
                               (position, report.head)) as cur:
            mine = [tuple(r) for r in await cur.fetchall()]
        theirs = [tuple(r) for r in await backend._fetch(
            f"SELECT {_PG_COLUMNS} FROM events WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT 5000",
            position, report.head)]
        if not mine and not theirs:
            break
        _row_digest(source_digest, mine)
        _row_digest(target_digest, theirs)
        counted += len(theirs)
        if len(mine) != len(theirs) or mine[-1][0] != theirs[-1][0]:
            raise StoreError(f"verification failed: events after seq {position} differ in number "
                             f"({len(mine)} in the source, {len(theirs)} in the target)")
        position = mine[-1][0]
    if counted != report.events:
        raise StoreError(f"verification failed: {report.events} events in the source, {counted} in the target")
    if source_digest.hexdigest() != target_digest.hexdigest():
        raise StoreError("verification failed: the events' checksums differ between source and target")
    report.checksum = source_digest.hexdigest()
    tables: dict[str, int] = {}
    for table in PROJECTION_TABLES:
        want = int((await _one(src, f"SELECT COUNT(*) FROM {table}"))[0])
        have = int(await backend._val(f"SELECT COUNT(*) FROM {table}"))
        if want != have:
            raise StoreError(f"verification failed: {table} has {want} rows in the source, {have} in the target")
        tables[table] = have
    report.tables = tables
