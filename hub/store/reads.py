"""The read side the SQL backends share: one set of queries, written with `?` placeholders,
and the decoding of their rows. A backend supplies `_rows` and its dialect's few clauses."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any

from hub.events import STATE_CHANGED, Event, decode_json
from hub.projections import registry_row
from hub.states import State
from hub.store.base import EventFilter, row_to_event

COLUMNS = "seq, id, time, type, source, entity_id, data, causation, correlation"
NOT_STATE_CHANGE = "type != 'state_changed'"  # written as the partial indexes' WHERE is (schema 3)
TIME_PROBE = 300_000  # events; see SqlReads.time_index_hint


class SqlReads:
    """Queries on the log and its projections, shared by SQLite and PostgreSQL."""

    @abstractmethod
    async def _rows(self, sql: str, *params: Any) -> list[Sequence[Any]]:
        """Run a query written with `?` placeholders on the reading connection."""

    # --- dialect -------------------------------------------------------------------

    def _in_clause(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        return f"{column} IN ({','.join('?' * len(values))})", list(values)

    @abstractmethod
    def _glob_clauses(self, pattern: str) -> list[tuple[str, Any]]:
        """Clauses matching entity_id against an fnmatch glob, as (clause, value) pairs."""

    @abstractmethod
    def _text_clause(self) -> str:
        """A clause true when the event's data contains the text bound to `?`."""

    # --- the log -------------------------------------------------------------------

    # True when state changes are left out of the log's entity and type indexes (SQLite, schema 3):
    # a state change is then found by entity through the history projection.
    state_changes_by_history = False

    # Where the planner does not know how the log's events spread over time (SQLite keeps no such
    # statistics), a filter by type or source with a time window can walk that index through every
    # such event ever logged (MQTT messages of the last hour on a 10M log: a second), or the whole
    # table in seq order. Such a read first counts, up to TIME_PROBE, the events in the window and
    # those of the type (or source); if the window holds fewer, it goes through the time index
    # (this hint, which names it), at a fraction of a microsecond per event in the window.
    time_index_hint = ""

    async def _by_time(self, flt: EventFilter) -> bool:
        if not self.time_index_hint or not (flt.types or flt.source is not None) \
                or (flt.since is None and flt.until is None) or flt.entity_id is not None \
                or flt.entity_glob is not None:
            return False
        bounds = [(c, v) for c, v in (("time >= ?", flt.since), ("time < ?", flt.until)) if v is not None]
        window = await self._count_upto(" AND ".join(c for c, _ in bounds), [v for _, v in bounds], TIME_PROBE)
        if window >= TIME_PROBE:
            return False
        if flt.types and STATE_CHANGED in flt.types:
            return True  # state changes are in no type index (schema 3): the time index or the whole table
        if flt.types:
            clause, values = self._in_clause("type", flt.types)
            indexed = await self._count_upto(f"{clause} AND {NOT_STATE_CHANGE}", values, window + 1)
        else:
            indexed = await self._count_upto("source = ?", [flt.source], window + 1)
        return window < indexed

    async def _count_upto(self, where: str, values: list[Any], limit: int) -> int:
        """How many events match, counted no further than `limit`."""
        rows = await self._rows(f"SELECT COUNT(*) FROM (SELECT 1 FROM events WHERE {where} LIMIT {int(limit)})",
                                *values)
        return int(rows[0][0])

    def _where(self, flt: EventFilter) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []

        def add(clause: str, *values: Any) -> None:
            clauses.append(clause)
            params.extend(values)

        bounds: list[tuple[str, Any]] = []
        if flt.after:
            bounds.append(("seq > ?", flt.after))
        if flt.before is not None:
            bounds.append(("seq < ?", flt.before))
        for clause, value in bounds:
            add(clause, value)
        by_history = self.state_changes_by_history
        if flt.types:
            clause, values = self._in_clause("type", flt.types)
            add(clause, *values)
            if by_history and STATE_CHANGED not in flt.types:
                add(NOT_STATE_CHANGE)  # lets the partial indexes answer
        on_entity: list[tuple[str, Any]] = []
        if flt.entity_id is not None:
            on_entity.append(("entity_id = ?", flt.entity_id))
        if flt.entity_glob is not None:
            on_entity.extend(self._glob_clauses(flt.entity_glob))
        for clause, value in on_entity:
            add(clause, value)
        if on_entity and by_history and (not flt.types or STATE_CHANGED in flt.types):
            clause, values = self._entity_seqs(on_entity, bounds)
            add(clause, *values)
        if flt.source is not None:
            add("source = ?", flt.source)
        if flt.since is not None:
            add("time >= ?", flt.since)
        if flt.until is not None:
            add("time < ?", flt.until)
        if flt.correlation is not None:
            add("correlation = ?", flt.correlation)
        if flt.causation is not None:
            add("causation = ?", flt.causation)
        if flt.text:
            add(self._text_clause(), flt.text)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def _entity_seqs(self, on_entity: list[tuple[str, Any]], bounds: list[tuple[str, Any]]) -> tuple[str, list[Any]]:
        """`seq IN (...)`: the seqs of an entity's events, from the partial entity index for all but
        state changes, from history and entity_events for state changes, and the unprojected tail."""
        where = " AND ".join(["entity_id IS NOT NULL"] + [c for c, _ in on_entity] + [c for c, _ in bounds])
        values = [v for _, v in on_entity] + [v for _, v in bounds]
        tail = " AND ".join(["seq > (SELECT COALESCE(MIN(seq), 0) FROM projection_position)"]
                            + [c for c, _ in bounds])
        sql = (f"seq IN (SELECT seq FROM events WHERE {where} AND {NOT_STATE_CHANGE}"
               f" UNION ALL SELECT seq FROM history WHERE {where}"
               f" UNION ALL SELECT seq FROM entity_events WHERE {where}"
               f" UNION ALL SELECT seq FROM events WHERE {tail})")
        return sql, values * 3 + [v for _, v in bounds]

    async def read(self, flt: EventFilter) -> list[Event]:
        where, params = self._where(flt)
        hint = self.time_index_hint if await self._by_time(flt) else ""
        order = "DESC" if flt.descending else "ASC"
        rows = await self._rows(f"SELECT {COLUMNS} FROM events{hint}{where} ORDER BY seq {order} LIMIT ?",
                                *params, flt.limit)
        return [row_to_event(tuple(r)) for r in rows]

    async def count(self, flt: EventFilter) -> int:
        where, params = self._where(flt)
        hint = self.time_index_hint if await self._by_time(flt) else ""
        return int((await self._rows(f"SELECT COUNT(*) FROM events{hint}{where}", *params))[0][0])

    async def get(self, seq: int) -> Event | None:
        rows = await self._rows(f"SELECT {COLUMNS} FROM events WHERE seq = ?", seq)
        return row_to_event(tuple(rows[0])) if rows else None

    async def get_by_id(self, event_id: str) -> Event | None:
        rows = await self._rows(f"SELECT {COLUMNS} FROM events WHERE id = ?", event_id)
        return row_to_event(tuple(rows[0])) if rows else None

    async def positions(self) -> dict[str, int]:
        return {r[0]: r[1] for r in await self._rows("SELECT name, seq FROM projection_position")}

    # --- projections -----------------------------------------------------------------

    async def load_states(self) -> list[State]:
        rows = await self._rows("SELECT entity_id, state, attributes, last_changed, last_updated FROM states")
        return [State(r[0], r[1], decode_json(r[2]), r[3], r[4]) for r in rows]

    async def load_registry(self) -> dict[str, dict[str, Any]]:
        rows = await self._rows("SELECT entity_id, integration, name, area, device_id, info, seq FROM entities")
        return {r[0]: registry_row(r[0], r[1], r[2], r[3], r[4], decode_json(r[5]), r[6]) for r in rows}

    async def devices(self) -> dict[str, dict[str, Any]]:
        rows = await self._rows("SELECT device_id, integration, name, area, info FROM devices")
        return {r[0]: {"device_id": r[0], "integration": r[1], "name": r[2], "area": r[3],
                       "info": decode_json(r[4])} for r in rows}

    async def entity_ids(self) -> list[str]:
        rows = await self._rows("SELECT entity_id FROM states UNION SELECT entity_id FROM entities")
        return [r[0] for r in rows]

    async def history(self, entity_id: str, start: int, end: int, limit: int | None = None,
                      *, include_start_state: bool = True) -> list[State]:
        out: list[State] = []
        if include_start_state:
            rows = await self._rows(
                "SELECT state, attributes, last_changed, time FROM history WHERE entity_id=? AND time<? "
                "ORDER BY time DESC, seq DESC LIMIT 1", entity_id, start)
            out.extend(State(entity_id, r[0], decode_json(r[1]), r[2], r[3]) for r in rows)
        rows = await self._rows(
            "SELECT state, attributes, last_changed, time FROM history WHERE entity_id=? AND time>=? AND time<? "
            "ORDER BY time, seq LIMIT ?", entity_id, start, end, self._no_limit() if limit is None else limit)
        out.extend(State(entity_id, r[0], decode_json(r[1]), r[2], r[3]) for r in rows)
        return out

    def _no_limit(self) -> Any:
        return None

    async def change_seq(self, entity_id: str, at: int | None = None) -> int | None:
        if at is None:
            rows = await self._rows("SELECT seq FROM states WHERE entity_id=?", entity_id)
        else:
            rows = await self._rows("SELECT seq FROM history WHERE entity_id=? AND time<=? "
                                    "ORDER BY time DESC, seq DESC LIMIT 1", entity_id, at)
        return int(rows[0][0]) if rows else None

    async def statistics(self, entity_id: str, start: int, end: int, period: str) -> list[dict[str, Any]]:
        table = {"5m": "stats_5m", "hour": "stats_hour"}[period]
        rows = await self._rows(
            f"SELECT bucket, min, max, sum, count, last FROM {table} WHERE entity_id=? AND bucket>=? AND bucket<? "
            "ORDER BY bucket", entity_id, start, end)
        return [{"bucket": r[0], "min": r[1], "max": r[2], "mean": r[3] / r[4] if r[4] else None,
                 "sum": r[3], "count": r[4], "last": r[5]} for r in rows]

    async def state_time(self, entity_id: str, start: int, end: int) -> list[dict[str, Any]]:
        rows = await self._rows(
            "SELECT bucket, state, seconds FROM state_time WHERE entity_id=? AND bucket>=? AND bucket<? "
            "ORDER BY bucket, state", entity_id, start, end)
        return [{"bucket": r[0], "state": r[1], "seconds": r[2]} for r in rows]
