"""The storage seam: what a backend must do for the log, its projections and its readers.

Every backend passes the shared contract suite in tests/contract/store_contract.py.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from hub.events import Event, decode_json, encode_json
from hub.projections import Ops
from hub.states import State

SCHEMA_VERSION = 1


@dataclass(slots=True)
class EventFilter:
    """A query on the log; every field is optional and all given fields must match."""

    after: int = 0                  # seq strictly greater than
    before: int | None = None       # seq strictly less than
    types: tuple[str, ...] = ()
    entity_id: str | None = None
    entity_glob: str | None = None  # glob over entity_id (`light.*`)
    source: str | None = None
    since: int | None = None        # time >= (microseconds)
    until: int | None = None        # time < (microseconds)
    correlation: str | None = None
    causation: int | None = None
    text: str | None = None         # substring of data (parameterized, never SQL)
    descending: bool = False
    limit: int = 1000


def row_to_event(row: tuple[Any, ...]) -> Event:
    seq, id_, time, type_, source, entity_id, data, causation, correlation = row
    return Event(type_, source, entity_id, decode_json(data), id_, time, causation, correlation, seq)


def event_to_row(e: Event) -> tuple[Any, ...]:
    return (e.seq, e.id, e.time, e.type, e.source, e.entity_id,
            e.data_json(), e.causation, e.correlation)


class Tx(ABC):
    """One write transaction that holds the log's head for its whole length."""

    @abstractmethod
    async def head(self) -> int:
        """The highest seq stored, read under the write lock."""

    @abstractmethod
    async def projected(self) -> int:
        """The seq the stored projections have applied (their common tracking position)."""

    @abstractmethod
    async def read_range(self, after: int, upto: int) -> list[Event]:
        """Events with after < seq <= upto, in order."""

    @abstractmethod
    async def existing(self, ids: list[str]) -> dict[str, int]:
        """Which of these ids are stored already, with their seq."""

    @abstractmethod
    async def insert(self, events: list[Event]) -> None:
        """Store events whose seq the caller assigned (head+1, head+2, ...)."""

    @abstractmethod
    async def apply(self, ops: Ops, position: int | None) -> None:
        """Write projection rows and move every projection's tracking position to `position`
        (None: leave it, for rows of a position a later transaction reaches; hub.backlog)."""


class Backend(ABC):
    """A place to keep the log and its projections."""

    url: str
    # True when several daemons may run on this log, each owning its own entities (PostgreSQL).
    shared: bool = False

    @abstractmethod
    async def open(self, *, create: bool = True) -> None:
        """Open (creating or migrating the schema); raise CorruptDatabase on a bad file."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[Tx]:
        """An exclusive write transaction; commits on normal exit, rolls back on error."""

    # True when `commit_batch` stores a batch in one step (the writer then pipelines).
    commit_batch_supported: bool = False

    def prepare_events(self, events: list[Event]) -> Any:
        """The events (seqs assigned) as `commit_batch` takes them: made while the commit before
        theirs is in flight, so that the commit after it starts at once."""
        raise NotImplementedError

    async def commit_batch(self, head: int, prepared: Any, ops: Ops | None, position: int | None) -> bool:
        """Store events (seqs head+1..., as `prepare_events` made them) and projection rows in one
        transaction, but only if the log's head is still `head` and no event id is stored
        already; False (nothing written) when either assumption is wrong. The rows need not be
        the events' own (hub.backlog): `ops` None writes none, and `position` None leaves the
        projections' position where it is."""
        raise NotImplementedError

    async def rows_to_fold(self, after: int, upto: int) -> list[tuple[Any, ...]]:
        """The events after < seq <= upto that the projections fold, as (seq, type, source,
        entity_id, time, payload) rows: payload is the JSON text of `new_state` for a state
        change and of `data` otherwise (Fold.apply_rows)."""
        async with self.transaction() as tx:
            events = await tx.read_range(after, upto)
        return [(e.seq, e.type, e.source, e.entity_id, e.time,
                 encode_json(e.data.get("new_state") if e.type == "state_changed" else e.data)) for e in events]

    async def commit_projection(self, ops: Ops, position: int) -> None:
        """Write projection rows and move the positions (catch-up and rebuild)."""
        async with self.transaction() as tx:
            await tx.apply(ops, position)

    @abstractmethod
    async def head(self) -> int: ...

    @abstractmethod
    async def positions(self) -> dict[str, int]:
        """Each projection's tracking position."""

    @abstractmethod
    async def read(self, flt: EventFilter) -> list[Event]: ...

    @abstractmethod
    async def count(self, flt: EventFilter) -> int: ...

    @abstractmethod
    async def get(self, seq: int) -> Event | None: ...

    @abstractmethod
    async def get_by_id(self, event_id: str) -> Event | None: ...

    @abstractmethod
    async def load_states(self) -> list[State]:
        """Every current state (the states projection)."""

    @abstractmethod
    async def load_registry(self) -> dict[str, dict[str, Any]]:
        """entity_id -> registry row (integration, name, area, device_id, domain, info)."""

    @abstractmethod
    async def devices(self) -> dict[str, dict[str, Any]]: ...

    @abstractmethod
    async def history(self, entity_id: str, start: int, end: int, limit: int | None = None,
                      *, include_start_state: bool = True) -> list[State]:
        """State changes of one entity in [start, end), preceded by the state in force at start."""

    @abstractmethod
    async def change_seq(self, entity_id: str, at: int | None = None) -> int | None:
        """The seq of the state change behind an entity's state: its current one (the states
        projection), or with `at` the one in force at that time (history); None if it had none."""

    @abstractmethod
    async def statistics(self, entity_id: str, start: int, end: int, period: str) -> list[dict[str, Any]]:
        """Numeric buckets (`5m` or `hour`) in [start, end): bucket, min, max, mean, last, count."""

    @abstractmethod
    async def state_time(self, entity_id: str, start: int, end: int) -> list[dict[str, Any]]:
        """Hourly time-in-state rows in [start, end): bucket, state, seconds."""

    async def rebuild_projections(self, fold_rows: Callable[[list[tuple[Any, ...]], int], Ops],
                                  progress: Callable[[int, int], None] | None = None) -> int | None:
        """Drop the projections and fold the whole log again in one transaction, the bulk of it
        inside the database; `fold_rows(rows, head)` folds the few rows (in `rows_to_fold`'s
        shape) the registry and the current states need. Returns the head folded, or None when
        this backend cannot (the log then folds every event itself)."""
        return None

    @abstractmethod
    async def reset_projections(self) -> None:
        """Drop every projection row and position (for rebuild)."""

    @abstractmethod
    async def apply_retention(self, entity_cutoffs: dict[str, int], default_cutoff: int) -> dict[str, int]:
        """Delete events older than their entity's cutoff (µs; events without an entity use the
        default), sparing each entity's latest state_changed and entity_registered rows, and
        the matching history and 5-minute statistics rows. Returns counts by table."""

    @abstractmethod
    async def entity_ids(self) -> list[str]:
        """Every entity id that has a state or a registry entry."""

    @abstractmethod
    def daemon_lock(self, name: str) -> AbstractAsyncContextManager[None]:
        """Held while a daemon named `name` runs; raises LockedDatabase if another holds it."""

    @abstractmethod
    async def size_bytes(self) -> int: ...

    @abstractmethod
    async def backup(self, path: str) -> None: ...

    @abstractmethod
    async def integrity_problems(self) -> list[str]:
        """The database's own integrity check, as messages (empty when sound)."""

    @abstractmethod
    def wakeups(self) -> AbstractAsyncContextManager[AsyncIterator[None]]:
        """An iterator that yields whenever another process may have appended (LISTEN/NOTIFY)."""

    @abstractmethod
    async def notify(self) -> None:
        """Tell other processes following this log that new events are stored."""

