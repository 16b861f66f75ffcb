"""The PostgreSQL write transaction: events in with one statement, projection rows as upserts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from hub.events import Event
from hub.projections import Ops
from hub.store.base import Tx, event_to_row, row_to_event
from hub.store.postgres_schema import NOTIFY_CHANNEL, PROJECTION_COLUMNS

COLUMNS = "seq, id, time, type, source, entity_id, data::text, causation, correlation"
_EVENT_TYPES = ("bigint", "text", "bigint", "text", "text", "text", "text", "bigint", "text")
_EVENTS_INSERT = (
    "INSERT INTO events (seq, id, time, type, source, entity_id, data, causation, correlation) "
    "SELECT u.seq, u.id, u.time, u.type, u.source, u.entity_id, u.data::json, u.causation, u.correlation "
    "FROM unnest(" + ", ".join(f"${i + 1}::{t}[]" for i, t in enumerate(_EVENT_TYPES)) + ") "
    "AS u(seq, id, time, type, source, entity_id, data, causation, correlation)")


def _unnest(table: str, rows: Sequence[Sequence[Any]], types: Sequence[str], columns: Sequence[str],
            suffix: str = "") -> tuple[str, list[list[Any]]]:
    """One INSERT ... SELECT FROM unnest(arrays) statement for many rows (one round trip)."""
    marks = ", ".join(f"${i + 1}::{t}[]" for i, t in enumerate(types))
    sql = f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({marks}) {suffix}"
    return sql, [list(col) for col in zip(*rows, strict=True)]


def _upsert(table: str, rows: Sequence[Sequence[Any]], suffix: str) -> tuple[str, list[list[Any]]]:
    cols = PROJECTION_COLUMNS[table]
    return _unnest(table, rows, [t for _, t in cols], [c for c, _ in cols], suffix)


class PgTx(Tx):
    """Holds the head row lock from start to commit (taken by PostgresBackend.transaction)."""

    def __init__(self, conn: asyncpg.Connection, head: int, token: str) -> None:
        self.conn = conn
        self._head = head
        self._token = token

    async def head(self) -> int:
        return self._head

    async def projected(self) -> int:
        return int(await self.conn.fetchval("SELECT COALESCE(MIN(seq), 0) FROM projection_position"))

    async def read_range(self, after: int, upto: int) -> list[Event]:
        rows = await self.conn.fetch(f"SELECT {COLUMNS} FROM events WHERE seq > $1 AND seq <= $2 ORDER BY seq",
                                     after, upto)
        return [row_to_event(tuple(r)) for r in rows]

    async def existing(self, ids: list[str]) -> dict[str, int]:
        rows = await self.conn.fetch("SELECT id, seq FROM events WHERE id = ANY($1::text[])", ids)
        return {r[0]: r[1] for r in rows}

    async def insert(self, events: list[Event]) -> None:
        await self.insert_rows([event_to_row(e) for e in events])

    async def insert_rows(self, rows: list[tuple[Any, ...]]) -> None:
        """Store rows shaped like `event_to_row` (data as JSON text, kept verbatim)."""
        if not rows:
            return
        await self.conn.execute(_EVENTS_INSERT, *[list(col) for col in zip(*rows, strict=True)])
        top = max(int(r[0]) for r in rows)
        if top > self._head:
            await self.conn.execute("UPDATE log_head SET seq = $1", top)
            self._head = top
        # Delivered at commit, and only if the transaction commits.
        await self.conn.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, f"{self._token}:{top}")

    async def apply(self, ops: Ops, position: int | None) -> None:
        c = self.conn
        statements: list[tuple[str, list[list[Any]]]] = []
        if ops.history:
            statements.append(_upsert("history", ops.history, "ON CONFLICT DO NOTHING"))
        if ops.states:
            statements.append(_upsert("states", ops.state_rows(),
                                      "ON CONFLICT (entity_id) DO UPDATE SET state=excluded.state, "
                                      "attributes=excluded.attributes, last_changed=excluded.last_changed, "
                                      "last_updated=excluded.last_updated, seq=excluded.seq"))
        if ops.removed_states:
            statements.append(("DELETE FROM states WHERE entity_id = ANY($1::text[])", [list(ops.removed_states)]))
        for table, acc in (("stats_5m", ops.stats_5m), ("stats_hour", ops.stats_hour)):
            if acc:
                statements.append(_upsert(
                    table, [(k[0], k[1], *v) for k, v in acc.items()],
                    f"ON CONFLICT (entity_id, bucket) DO UPDATE SET min=LEAST({table}.min, excluded.min), "
                    f"max=GREATEST({table}.max, excluded.max), sum={table}.sum+excluded.sum, "
                    f"count={table}.count+excluded.count, last=excluded.last"))
        if ops.state_time:
            statements.append(_upsert("state_time", [(*k, v) for k, v in ops.state_time.items()],
                                      "ON CONFLICT (entity_id, bucket, state) DO UPDATE SET "
                                      "seconds=state_time.seconds+excluded.seconds"))
        if ops.entities:
            statements.append(_upsert(
                "entities", list(ops.entities.values()),
                "ON CONFLICT (entity_id) DO UPDATE SET integration=excluded.integration, "
                "name=COALESCE(excluded.name, entities.name), area=COALESCE(excluded.area, entities.area), "
                "device_id=COALESCE(excluded.device_id, entities.device_id), "
                "info=CASE WHEN excluded.info='{}' THEN entities.info ELSE excluded.info END, "
                "seq=CASE WHEN excluded.info='{}' THEN entities.seq ELSE excluded.seq END"))
        if ops.devices:
            statements.append(_upsert("devices", list(ops.devices.values()),
                                      "ON CONFLICT (device_id) DO UPDATE SET integration=excluded.integration, "
                                      "name=excluded.name, area=excluded.area, info=excluded.info"))
        if ops.removed_entities:
            statements.append(("DELETE FROM entities WHERE entity_id = ANY($1::text[])",
                                [list(ops.removed_entities)]))
        for sql, args in statements:
            await c.execute(sql, *args)
        if position is not None:
            await c.execute("UPDATE projection_position SET seq = $1", position)
