"""The SQLite backend: one WAL database, a writer connection and a reader connection."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import itertools
import logging
import mmap
import os
import socket
import sqlite3
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiosqlite

from hub.errors import CorruptDatabase, LockedDatabase, StoreError
from hub.events import Event
from hub.projections import PROJECTIONS, Ops
from hub.states import as_number
from hub.store import sqlite_fold
from hub.store.base import Backend, Tx, event_to_row, row_to_event
from hub.store.reads import COLUMNS as _COLUMNS
from hub.store.reads import NOT_STATE_CHANGE, SqlReads
from hub.store.sqlite_extract import CANONICAL
from hub.store.sqlite_schema import MIGRATIONS, PROJECTION_TABLES, SCHEMA_VERSION, V1
from hub.store.sqlite_wal import Checkpointer

log = logging.getLogger(__name__)

WAL_CHECKPOINT_PAGES = 10_000
ROWS_PER_STATEMENT = 500
LISTENERS_SETTLE_NS = 100_000_000  # see SqliteBackend.notify
REBUILD_CHUNK = 250_000  # events a rebuild folds in SQL at a time: its temp tables (in memory) stay ~100 MB
REBUILD_TAIL = 25_000  # the first chunk, and the smallest but the last (see _tail_chunk)
REBUILD_AHEAD = 6  # chunks the rebuild's reader processes may extract ahead of the writer (~15 MB each)
REBUILD_READERS = 2  # reader processes: each extracts every other chunk (see `_chunks`)
READER_STOP_SECONDS = 5.0  # a reader asked to stop (SIGTERM) is killed after this
CACHE_KIB = 8192  # each connection's page cache
REBUILD_CACHE_KIB = 131_072  # the writer's during a rebuild: its B-trees' hot pages stay in memory



def _store_error(exc: sqlite3.Error, path: str) -> StoreError:
    text = str(exc)
    if isinstance(exc, sqlite3.DatabaseError) and ("malformed" in text or "not a database" in text):
        return CorruptDatabase(
            f"database {path} is corrupt ({text}). Run `hub verify`; restore a copy made with "
            f"`hub backup`, or move the file away to start a new log. The hub will not start on it."
        )
    for cause, advice in _ADVICE:
        if cause in text:
            return StoreError(f"database {path}: {text} ({advice}; what waits is retried meanwhile)")
    return StoreError(f"database {path}: {text}")


# What to do about a write the database refused (SQLite's messages, then the advice appended).
_ADVICE = (
    ("full", "free space on the disk that holds it"),
    ("readonly", "let the hub's user write the file, its folder and its -wal and -shm files"),
    ("disk I/O error", "check the disk: free space, the file system, and the kernel's log for errors"),
)


class _SqliteTx(Tx):
    """A write transaction whose writes are buffered and sent to SQLite's thread in one hop
    at commit: a group commit costs two thread hand-offs, not one per statement."""

    def __init__(self, conn: aiosqlite.Connection, head: int) -> None:
        self.conn = conn
        self._head = head
        self.statements: list[tuple[str, list[tuple[Any, ...]] | tuple[Any, ...], bool]] = []

    async def head(self) -> int:
        return self._head

    async def projected(self) -> int:
        async with self.conn.execute("SELECT COALESCE(MIN(seq), 0) FROM projection_position") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def read_range(self, after: int, upto: int) -> list[Event]:
        async with self.conn.execute(
            f"SELECT {_COLUMNS} FROM events WHERE seq > ? AND seq <= ? ORDER BY seq", (after, upto)
        ) as cur:
            return [row_to_event(tuple(r)) for r in await cur.fetchall()]

    async def existing(self, ids: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            marks = ",".join("?" * len(chunk))
            async with self.conn.execute(f"SELECT id, seq FROM events WHERE id IN ({marks})", chunk) as cur:
                for id_, seq in await cur.fetchall():
                    found[id_] = seq
        return found

    def _many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            self.statements.append((sql, rows, True))

    def _rows(self, head: str, width: int, rows: list[tuple[Any, ...]], tail: str = "") -> None:
        self.statements.extend(_row_statements(head, width, rows, tail))

    async def insert(self, events: list[Event]) -> None:
        self.statements.extend(_event_statements(events))

    async def apply(self, ops: Ops, position: int | None) -> None:
        many, rows = self._many, self._rows
        rows("INSERT OR IGNORE INTO history", 6, ops.history)
        rows("INSERT INTO states", 6, ops.state_rows(),
             " ON CONFLICT(entity_id) DO UPDATE SET state=excluded.state, attributes=excluded.attributes, "
             "last_changed=excluded.last_changed, last_updated=excluded.last_updated, seq=excluded.seq")
        many("DELETE FROM states WHERE entity_id=?", [(e,) for e in ops.removed_states])
        for table, acc in (("stats_5m", ops.stats_5m), ("stats_hour", ops.stats_hour)):
            rows(f"INSERT INTO {table}", 7, [(k[0], k[1], *v) for k, v in acc.items()],
                 " ON CONFLICT(entity_id, bucket) DO UPDATE SET min=min(min, excluded.min), "
                 "max=max(max, excluded.max), sum=sum+excluded.sum, count=count+excluded.count, last=excluded.last")
        many("INSERT INTO state_time VALUES (?,?,?,?) ON CONFLICT(entity_id, bucket, state) DO UPDATE SET "
             "seconds=seconds+excluded.seconds", [(*k, v) for k, v in ops.state_time.items()])
        many("INSERT INTO entities VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(entity_id) DO UPDATE SET "
             "integration=excluded.integration, name=COALESCE(excluded.name, name), "
             "area=COALESCE(excluded.area, area), device_id=COALESCE(excluded.device_id, device_id), "
             "info=CASE WHEN excluded.info='{}' THEN info ELSE excluded.info END, "
             "seq=CASE WHEN excluded.info='{}' THEN seq ELSE excluded.seq END",
             list(ops.entities.values()))
        many("INSERT INTO devices VALUES (?,?,?,?,?) ON CONFLICT(device_id) DO UPDATE SET "
             "integration=excluded.integration, name=excluded.name, area=excluded.area, info=excluded.info",
             list(ops.devices.values()))
        many("DELETE FROM entities WHERE entity_id=?", [(e,) for e in ops.removed_entities])
        many("INSERT OR IGNORE INTO entity_events VALUES (?,?)", ops.unhistoried)
        if position is not None:
            self.statements.append(("UPDATE projection_position SET seq=?", (position,), False))


def _row_statements(head: str, width: int, rows: list[tuple[Any, ...]], tail: str = "") -> list[tuple[str, Any, bool]]:
    """`head VALUES (...)` for many rows, ROWS_PER_STATEMENT rows to a statement: SQLite's thread
    then takes Python's GIL once per statement to bind, not once per row, so the writer's thread
    keeps inserting while the event loop folds the next batch."""
    if not rows:
        return []
    statements: list[tuple[str, Any, bool]] = []
    one = "(" + ",".join("?" * width) + ")"
    full = len(rows) - len(rows) % ROWS_PER_STATEMENT
    if full:
        flat = list(itertools.chain.from_iterable(rows[:full]))
        step = ROWS_PER_STATEMENT * width
        statements.append((f"{head} VALUES {','.join([one] * ROWS_PER_STATEMENT)}{tail}",
                           [flat[i:i + step] for i in range(0, len(flat), step)], True))
    if full < len(rows):
        statements.append((f"{head} VALUES {one}{tail}", rows[full:], True))
    return statements


def _event_statements(events: list[Event]) -> list[tuple[str, Any, bool]]:
    """The events' rows, those of the usual shape (an entity, no causation, no correlation) without
    their two NULL columns: Python's sqlite3 (3.11) binds None through its adapter protocol, about
    0.5 µs a parameter under the GIL, which is as much as the rest of the row's binding; a column the
    INSERT leaves out is NULL for nothing."""
    usual, other = [], []
    for e in events:
        if e.causation is None and e.correlation is None and e.entity_id is not None:
            usual.append((e.seq, e.id, e.time, e.type, e.source, e.entity_id, e.data_json()))
        else:
            other.append(event_to_row(e))
    return [*_row_statements(f"INSERT INTO events ({_USUAL_COLUMNS})", 7, usual),
            *_row_statements(f"INSERT INTO events ({_COLUMNS})", 9, other)]


_USUAL_COLUMNS = "seq, id, time, type, source, entity_id, data"


async def _in_thread(conn: aiosqlite.Connection, fn: Any) -> Any:
    """Run `fn(sqlite3.Connection)` on aiosqlite's own thread, the one that owns the connection.
    (aiosqlite has no public call for this; `_execute` is its one seam for it.)"""
    return await conn._execute(lambda: fn(conn._conn))


def _begin(raw: sqlite3.Connection) -> int:
    raw.execute("BEGIN IMMEDIATE")
    try:
        return int(raw.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0])
    except BaseException:
        raw.execute("ROLLBACK")
        raise


def _finish(raw: sqlite3.Connection, statements: list[tuple[str, Any, bool]]) -> None:
    try:
        for sql, params, many in statements:
            if many:
                raw.executemany(sql, params)
            else:
                raw.execute(sql, params)
        raw.execute("COMMIT")
    except BaseException:
        _rollback(raw)
        raise


def _commit_at(raw: sqlite3.Connection, head: int, statements: list[tuple[str, Any, bool]]) -> bool:
    """One hop for a whole pipelined commit: begin, check the head, write, commit."""
    if _begin(raw) != head:
        raw.execute("ROLLBACK")
        return False
    try:
        _finish(raw, statements)
    except sqlite3.IntegrityError as exc:
        if "events.id" in str(exc):
            return False  # an id stored already: the writer's careful path answers with the stored event
        raise
    return True


def _rebuild_begin(raw: sqlite3.Connection) -> int:
    raw.execute(f"PRAGMA cache_size=-{REBUILD_CACHE_KIB}")
    head = _begin(raw)
    try:
        for table in PROJECTION_TABLES:
            raw.execute(f"DELETE FROM {table}")
        sqlite_fold.start_fold(raw)
        sqlite_fold.attach_rows(raw)
    except BaseException:
        raw.execute("ROLLBACK")
        raise
    return head


def _rebuild_end(raw: sqlite3.Connection) -> None:
    _rollback(raw)
    raw.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    sqlite_fold.finish(raw)
    with contextlib.suppress(sqlite3.OperationalError):  # not attached: the rebuild failed before
        raw.execute("DETACH DATABASE fold_x")


def _rebuild_rows(raw: sqlite3.Connection, head: int) -> list[tuple[Any, ...]]:
    """The rows `Fold` folds for the registry and the current states after a rebuild in SQL:
    every registration and removal, and the state changes `sqlite_fold` picked."""
    rows = raw.execute(
        "SELECT seq, type, source, entity_id, time, CASE WHEN type = 'state_changed' THEN "
        "json_extract(data, '$.new_state') ELSE data END FROM events "
        "WHERE seq IN (SELECT seq FROM temp.fold_subset) "
        f"UNION ALL SELECT seq, type, source, entity_id, time, data FROM events WHERE {NOT_STATE_CHANGE} "
        "AND type IN ('entity_registered', 'entity_removed') AND seq <= ?", (head,)).fetchall()
    return sorted(rows)


def _fold_chunks_here(raw: sqlite3.Connection, chunks: list[tuple[int, int]]) -> bool:
    """Extract and fold each chunk on the writer's own connection (a log of one chunk)."""
    for after, upto in chunks:
        sqlite_fold.clear_rows(raw)
        if not sqlite_fold.extract(raw, after, upto, as_number):
            return False
        sqlite_fold.fold(raw)
    return True


def _tail_chunk(left: int) -> int:
    """The next chunk's size with `left` events to go: whole chunks, then halves of what is left, so
    that the writer's fold of the last chunk, which nothing overlaps, is short. (The first chunks
    grow from the smallest for the same reason: nothing overlaps the extraction of the first.)"""
    if left >= 2 * REBUILD_CHUNK:
        return REBUILD_CHUNK
    return min(left, max(left // 2, REBUILD_TAIL))


class _Chunks:
    """What a rebuild's reader processes hand the writer, in the log's order: (upto, the chunk's
    extraction: the descriptor of its fold_x file, or None when it is not canonical) as each chunk
    is asked for, or the exception that stopped the asking."""

    def __init__(self) -> None:
        self.known_head: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.ready: asyncio.Queue[tuple[int, asyncio.Future[int | None]] | Exception] = asyncio.Queue(REBUILD_AHEAD)
        self.pending: set[asyncio.Future[int | None]] = set()  # asked for, not yet taken by the writer


async def _answer(sock: socket.socket) -> tuple[bytes, list[int]]:
    """The next message of a reader process on its (non-blocking) socket, and the descriptors it carries."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            message, fds, _flags, _address = socket.recv_fds(sock, 16, 1)
            return message, fds
        except BlockingIOError:
            readable = loop.create_future()
            loop.add_reader(sock.fileno(), lambda r=readable: r.done() or r.set_result(None))
            try:
                await readable
            finally:
                loop.remove_reader(sock.fileno())


def _load_chunk(raw: sqlite3.Connection, fd: int) -> None:
    """A reader's fold_x file, loaded as the in-memory fold_x (mapped: one copy, into SQLite), and
    closed: its memory goes with the last descriptor (the reader closed its own)."""
    try:
        with mmap.mmap(fd, 0, prot=mmap.PROT_READ) as image:
            raw.deserialize(image, name="fold_x")
    finally:
        os.close(fd)


async def _settled(future: asyncio.Future[Any]) -> None:
    """Cancel `future` if it is still running and wait for it to end (its outcome is not wanted)."""
    if not future.done():
        future.cancel()
    await asyncio.wait([future])
    if not future.cancelled():
        future.exception()  # retrieved: no "exception was never retrieved" warning


def _rollback(raw: sqlite3.Connection) -> None:
    if raw.in_transaction:
        raw.execute("ROLLBACK")


def _notify_dir(path: str) -> Path:
    digest = hashlib.sha1(os.path.realpath(path).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"hub-{digest}"


class SqliteBackend(SqlReads, Backend):
    """The log in one SQLite file (WAL)."""

    def __init__(self, path: str, *, synchronous: str = "full") -> None:
        self.path = path
        self.url = path
        self.synchronous = synchronous.upper()
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()
        self._sock: socket.socket | None = None
        self._notify_folder = Path()
        self._listeners: list[str] = []  # the notify folder's sockets, read at _listed_when (time.time_ns)
        self._listed_at = self._listed_when = -1  # and under this mtime of the folder
        self._own: set[str] = set()
        self._wal: Checkpointer | None = None
        self.check_on_open = False  # the daemon sets it: PRAGMA quick_check before anything starts

    # --- lifecycle -----------------------------------------------------------

    async def open(self, *, create: bool = True) -> None:
        p = Path(self.path)
        if not create and not p.exists():
            raise StoreError(f"database {self.path} does not exist (start `hub run` once to create it)")
        p.parent.mkdir(parents=True, exist_ok=True)
        if p.exists() and p.stat().st_size > 0:
            with p.open("rb") as fh:  # noqa: ASYNC230 (16 bytes, before any connection)
                if fh.read(16) != b"SQLite format 3\x00":
                    raise CorruptDatabase(
                        f"database {self.path} is not an SQLite database (its header is wrong). Run `hub verify`; "
                        "restore a copy made with `hub backup`, or move the file away to start a new log."
                    )
        try:
            self._writer = await aiosqlite.connect(self.path, isolation_level=None)
            await self._pragmas(self._writer, CACHE_KIB)
            # The WAL's pages are copied into the database by a thread of its own past 4 MB
            # (hub.store.sqlite_wal); the writer checkpoints only at ~40 MB, what little is left then,
            # and its next transaction starts the WAL over: the file stays bounded by this.
            await self._writer.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
            self._wal = Checkpointer(self.path, writer_pages=WAL_CHECKPOINT_PAGES)
            await self._migrate(self._writer)
            self._reader = await aiosqlite.connect(self.path, isolation_level=None)
            await self._pragmas(self._reader, CACHE_KIB)
            await self._reader.execute("PRAGMA query_only=ON")
            if self.check_on_open:
                async with self._reader.execute("PRAGMA quick_check") as cur:
                    found = [r[0] for r in await cur.fetchall() if r[0] != "ok"]
                if found:
                    raise CorruptDatabase(
                        f"database {self.path} is corrupt ({'; '.join(found[:3])}). Run `hub verify`; restore a "
                        "copy made with `hub backup`, or move the file away to start a new log. "
                        "The hub will not start on it.")
        except sqlite3.Error as exc:
            await self.close()
            raise _store_error(exc, self.path) from None
        except StoreError:
            await self.close()
            raise

    async def _pragmas(self, conn: aiosqlite.Connection, cache_kib: int) -> None:
        await conn.execute("PRAGMA busy_timeout=10000")
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute(f"PRAGMA synchronous={self.synchronous}")
        # Bounded page caches keep the daemon's memory flat however large the log grows.
        await conn.execute(f"PRAGMA cache_size=-{cache_kib}")
        await conn.execute("PRAGMA temp_store=MEMORY")
        # This build zeroes every page it frees (secure_delete ON), writing each once more to the WAL
        # and then to the database: emptying the projections for a rebuild wrote them all twice. FAST
        # zeroes deleted content only where the page is written anyway.
        await conn.execute("PRAGMA secure_delete=FAST")

    async def _migrate(self, conn: aiosqlite.Connection) -> None:
        async with conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name='meta'") as cur:
            has_meta = await cur.fetchone() is not None
        version = 0
        if has_meta:
            async with conn.execute("SELECT value FROM meta WHERE key='schema_version'") as cur:
                row = await cur.fetchone()
            version = int(row[0]) if row else 0
        if version > SCHEMA_VERSION:
            raise StoreError(f"database {self.path} has schema version {version}, newer than this hub "
                             f"({SCHEMA_VERSION}): upgrade the hub")
        if version == SCHEMA_VERSION:
            return
        await conn.execute("BEGIN IMMEDIATE")
        try:
            if version == 0:
                for stmt in _split_sql(V1):
                    await conn.execute(stmt)
                version = 1
            while version < SCHEMA_VERSION:
                for stmt in _split_sql(MIGRATIONS[version]):
                    await conn.execute(stmt)
                version += 1
            await conn.executemany("INSERT OR IGNORE INTO projection_position VALUES (?, 0)",
                                   [(name,) for name in PROJECTIONS])
            await conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(version),))
            await conn.execute("COMMIT")
        except BaseException:
            await conn.execute("ROLLBACK")
            raise

    async def close(self) -> None:
        if self._wal is not None:
            await asyncio.to_thread(self._wal.close)  # a checkpoint under way finishes first
            self._wal = None
        for conn in (self._reader, self._writer):
            if conn is not None:
                with contextlib.suppress(sqlite3.Error, ValueError):
                    await conn.close()
        self._reader = self._writer = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    # --- writing -------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        conn = self._conn(self._writer)
        async with self._write_lock:
            try:
                head = await _in_thread(conn, _begin)
            except sqlite3.Error as exc:
                raise _store_error(exc, self.path) from None
            tx = _SqliteTx(conn, head)
            try:
                yield tx
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    await conn.execute("ROLLBACK")
                raise
            try:
                await _in_thread(conn, lambda raw: _finish(raw, tx.statements))
            except sqlite3.Error as exc:
                raise _store_error(exc, self.path) from None
            self._committed()

    commit_batch_supported = True

    def prepare_events(self, events: list[Event]) -> Any:
        return _event_statements(events)

    async def commit_batch(self, head: int, prepared: Any, ops: Ops | None, position: int | None) -> bool:
        tx = _SqliteTx(self._conn(self._writer), head)
        tx.statements.extend(prepared)
        if ops is not None:  # with no events of its own, it writes the rows of earlier commits
            await tx.apply(ops, position)
        return bool(await self._write(lambda raw: _commit_at(raw, head, tx.statements)))

    async def _write(self, fn: Any) -> Any:
        """`fn(sqlite3.Connection)` in the writer's thread, one hop, under the write lock."""
        conn = self._conn(self._writer)
        async with self._write_lock:
            try:
                result = await _in_thread(conn, fn)
            except sqlite3.Error as exc:
                raise _store_error(exc, self.path) from None
            self._committed()
            return result

    def _committed(self) -> None:
        if self._wal is not None:
            self._wal.poke()

    state_changes_by_history = True
    time_index_hint = " INDEXED BY events_time"

    async def rows_to_fold(self, after: int, upto: int) -> list[tuple[Any, ...]]:
        # On the reading connection (its own thread, a WAL snapshot), so that the next chunk is read
        # while the event loop folds this one and the writer stores the one before. SQLite extracts
        # new_state itself, and rows the projections do not fold are not read at all.
        return await self._fetch(
            "SELECT seq, type, source, entity_id, time, CASE WHEN type = 'state_changed' THEN "
            "json_extract(data, '$.new_state') ELSE data END FROM events WHERE seq > ? AND seq <= ? "
            "AND type IN ('state_changed', 'entity_registered', 'entity_removed') ORDER BY seq", (after, upto))

    async def commit_projection(self, ops: Ops, position: int) -> None:
        tx = _SqliteTx(self._conn(self._writer), 0)
        await tx.apply(ops, position)
        await self._write(lambda raw: _finish(raw, [("BEGIN IMMEDIATE", (), False), *tx.statements]))

    def _conn(self, conn: aiosqlite.Connection | None) -> aiosqlite.Connection:
        if conn is None:
            raise StoreError(f"database {self.path} is not open")
        return conn

    async def _fetch(self, sql: str, params: Any = ()) -> list[Any]:
        try:
            async with self._conn(self._reader).execute(sql, params) as cur:
                return list(await cur.fetchall())
        except sqlite3.Error as exc:
            raise _store_error(exc, self.path) from None

    # --- reading -------------------------------------------------------------

    async def head(self) -> int:
        rows = await self._fetch("SELECT COALESCE(MAX(seq), 0) FROM events")
        return int(rows[0][0])

    async def _rows(self, sql: str, *params: Any) -> list[Any]:
        return await self._fetch(sql, params)

    def _glob_clauses(self, pattern: str) -> list[tuple[str, Any]]:
        return [("entity_id GLOB ?", pattern.replace("[!", "[^"))]  # fnmatch's negation in GLOB's spelling

    def _text_clause(self) -> str:
        return "instr(data, ?) > 0"

    def _no_limit(self) -> Any:
        return -1

    # --- maintenance ---------------------------------------------------------

    async def rebuild_projections(self, fold_rows: Callable[[list[tuple[Any, ...]], int], Ops],
                                  progress: Callable[[int, int], None] | None = None) -> int | None:
        # One transaction over several hops of the writer's thread (the write lock held): per chunk
        # of the log, its rows extracted and ordered (`sqlite_fold.extract`), then folded into the
        # projections (`sqlite_fold.fold`); then the registry and states folded here, then commit.
        # With more than one chunk, processes of their own extract the chunks ahead of the writer,
        # which folds them as they come: the log is append-only and the transaction writes
        # projections only, so what those processes read of `events` up to the head is what the
        # writer would.
        conn = self._conn(self._writer)
        async with self._write_lock, contextlib.AsyncExitStack() as stack:
            try:
                # The head before the transaction is a lower bound of the head in it (the log only
                # grows): past one chunk, the reader process starts on the chunks below it while the
                # writer empties the old projections (seconds, on a large log).
                chunks: _Chunks | None = None
                below = await self.head()
                if below > REBUILD_CHUNK:
                    chunks = await stack.enter_async_context(self._chunks(below))
                head: int = await _in_thread(conn, _rebuild_begin)
                try:
                    if head > REBUILD_CHUNK:
                        if chunks is None:
                            chunks = await stack.enter_async_context(self._chunks(head))
                        folded = await self._fold_chunks_piped(conn, chunks, head, progress)
                    else:
                        whole = [(0, head)] if head else []
                        folded = await _in_thread(conn, lambda raw: _fold_chunks_here(raw, whole))
                        if folded and progress is not None:
                            progress(head, head)
                    if not folded:
                        return None
                    rows = await _in_thread(conn, lambda raw: _rebuild_rows(raw, head))
                    tx = _SqliteTx(conn, head)
                    await tx.apply(fold_rows(rows, head), head)
                    await _in_thread(conn, lambda raw: _finish(raw, tx.statements))
                finally:
                    await asyncio.shield(_in_thread(conn, _rebuild_end))
            except sqlite3.Error as exc:
                raise _store_error(exc, self.path) from None
        return head

    @contextlib.asynccontextmanager
    async def _chunks(self, below: int) -> AsyncIterator[_Chunks]:
        """REBUILD_READERS `hub.store.sqlite_extract` processes extracting the log's chunks in turn,
        up to REBUILD_AHEAD chunks ahead of the writer: first the whole chunks below `below`, then,
        once `_Chunks.known_head` is set, the rest. A chunk's extraction needs no other chunk's (the
        writer carries what crosses a boundary), so the processes work side by side."""
        loop = asyncio.get_running_loop()
        chunks = _Chunks()
        procs: list[asyncio.subprocess.Process] = []
        asked: list[asyncio.Queue[tuple[int, int, asyncio.Future[int | None]]]] = []
        sockets: list[socket.socket] = []

        async def extract(proc: asyncio.subprocess.Process, answers: socket.socket,
                          queue: asyncio.Queue[tuple[int, int, asyncio.Future[int | None]]]) -> None:
            assert proc.stdin is not None
            while True:
                after, upto, future = await queue.get()
                try:
                    proc.stdin.write(f"{after} {upto}\n".encode())
                    await proc.stdin.drain()
                    message, fds = await _answer(answers)
                except ConnectionError:
                    message, fds = b"", []
                if not message:  # it ended: its socket and stdin are closed
                    future.set_exception(StoreError(f"database {self.path}: a rebuild's reader process ended "
                                                    f"(exit status {await proc.wait()})"))
                    return
                future.set_result(fds[0] if message == CANONICAL and fds else None)

        async def produce() -> None:
            after, size, turn = 0, min(REBUILD_TAIL, REBUILD_CHUNK), 0
            try:
                while True:
                    upto = after + size
                    if after + 2 * REBUILD_CHUNK > below:
                        head = await chunks.known_head
                        if after >= head:
                            return
                        upto = after + min(size, _tail_chunk(head - after))
                    size = min(REBUILD_CHUNK, size * 2)
                    future = loop.create_future()
                    chunks.pending.add(future)
                    asked[turn % len(asked)].put_nowait((after, upto, future))
                    turn += 1
                    await chunks.ready.put((upto, future))
                    after = upto
            except Exception as exc:  # the writer raises it where it waits for the next chunk
                await chunks.ready.put(exc)

        tasks: list[asyncio.Future[None]] = []
        try:
            for _ in range(REBUILD_READERS):
                mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                sockets.append(mine)
                mine.setblocking(False)
                with theirs:
                    procs.append(await asyncio.create_subprocess_exec(
                        sys.executable, "-m", "hub.store.sqlite_extract", os.path.abspath(self.path),
                        str(theirs.fileno()), stdin=asyncio.subprocess.PIPE, pass_fds=(theirs.fileno(),)))
                asked.append(asyncio.Queue())
                tasks.append(asyncio.ensure_future(extract(procs[-1], mine, asked[-1])))
            tasks.append(asyncio.ensure_future(produce()))
            yield chunks
        finally:
            for task in tasks:
                await _settled(task)
            for future in list(chunks.pending):
                await _settled(future)
                if not future.cancelled() and future.exception() is None and future.result() is not None:
                    os.close(future.result())  # a chunk extracted and never folded
            for proc in procs:
                assert proc.stdin is not None
                proc.stdin.close()
                if proc.returncode is None:
                    proc.terminate()  # it removes its scratch file, within a statement's time
            for proc in procs:
                try:
                    await asyncio.wait_for(asyncio.shield(proc.wait()), READER_STOP_SECONDS)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
            for sock in sockets:
                sock.close()

    async def _fold_chunks_piped(self, conn: aiosqlite.Connection, chunks: _Chunks, head: int,
                                 progress: Callable[[int, int], None] | None) -> bool:
        """Fold the chunks up to `head` as the reader process hands them over; False when a chunk
        is not canonical."""
        chunks.known_head.set_result(head)
        done = 0
        while done < head:
            item = await chunks.ready.get()
            if isinstance(item, Exception):
                raise item
            done, extracted = item
            fd = await extracted
            chunks.pending.discard(extracted)
            if fd is None:
                return False
            await _in_thread(conn, lambda raw, fd=fd: _load_chunk(raw, fd))
            del item, extracted
            await _in_thread(conn, sqlite_fold.fold)
            if progress is not None:
                progress(done, head)
        return True

    async def reset_projections(self) -> None:
        async with self.transaction() as tx:
            assert isinstance(tx, _SqliteTx)
            for table in PROJECTION_TABLES:
                tx.statements.append((f"DELETE FROM {table}", (), False))
            tx.statements.append(("UPDATE projection_position SET seq=0", (), False))

    async def apply_retention(self, entity_cutoffs: dict[str, int], default_cutoff: int) -> dict[str, int]:
        counts = {"events": 0, "history": 0, "stats_5m": 0}
        async with self.transaction() as tx:
            conn = self._conn(self._writer)
            await conn.execute("INSERT INTO retention_gate VALUES (?)", (await tx.head(),))
            keep = "seq NOT IN (SELECT seq FROM states) AND seq NOT IN (SELECT seq FROM entities)"
            for entity_id, cutoff in entity_cutoffs.items():
                # State changes are found through history and entity_events (schema 3), the rest
                # through the partial entity index.
                cur = await conn.execute(
                    f"DELETE FROM events WHERE entity_id=? AND {NOT_STATE_CHANGE} AND time<? AND {keep}",
                    (entity_id, cutoff))
                counts["events"] += cur.rowcount
                cur = await conn.execute(
                    "DELETE FROM events WHERE seq IN (SELECT seq FROM history WHERE entity_id=? AND time<? "
                    "UNION ALL SELECT seq FROM entity_events WHERE entity_id=?) "
                    f"AND entity_id=? AND time<? AND {keep}", (entity_id, cutoff, entity_id, entity_id, cutoff))
                counts["events"] += cur.rowcount
                await conn.execute("DELETE FROM entity_events WHERE entity_id=? AND "
                                   "NOT EXISTS (SELECT 1 FROM events WHERE seq=entity_events.seq)", (entity_id,))
                cur = await conn.execute(
                    "DELETE FROM history WHERE entity_id=? AND time<? AND seq < "
                    "(SELECT COALESCE(MAX(seq), 0) FROM history h WHERE h.entity_id=? AND h.time<?)",
                    (entity_id, cutoff, entity_id, cutoff))
                counts["history"] += cur.rowcount
                cur = await conn.execute("DELETE FROM stats_5m WHERE entity_id=? AND bucket<?", (entity_id, cutoff))
                counts["stats_5m"] += cur.rowcount
            cur = await conn.execute(
                f"DELETE FROM events WHERE time<? AND (entity_id IS NULL OR entity_id NOT IN "
                f"(SELECT entity_id FROM states UNION SELECT entity_id FROM entities)) AND {keep}",
                (default_cutoff,))
            counts["events"] += cur.rowcount
            await conn.execute("DELETE FROM retention_gate")
        return counts

    async def size_bytes(self) -> int:
        total = 0
        for suffix in ("", "-wal"):
            with contextlib.suppress(OSError):
                total += os.path.getsize(self.path + suffix)
        return total

    async def backup(self, path: str) -> None:
        target = Path(path)
        if target.exists():
            raise StoreError(f"backup target {path} exists already")
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            async with aiosqlite.connect(str(target)) as dst:
                await self._conn(self._writer).backup(dst)
        except sqlite3.Error as exc:
            raise _store_error(exc, self.path) from None

    async def integrity_problems(self) -> list[str]:
        try:
            rows = await self._fetch("PRAGMA integrity_check")
        except CorruptDatabase as exc:
            return [str(exc)]
        problems = [r[0] for r in rows if r[0] != "ok"]
        trig = await self._fetch("SELECT name FROM sqlite_master WHERE type='trigger'")
        names = {r[0] for r in trig}
        for needed in ("events_no_update", "events_no_delete"):
            if needed not in names:
                problems.append(f"append-only guard {needed} is missing")
        return problems

    # --- one daemon at a time ------------------------------------------------

    @contextlib.asynccontextmanager
    async def daemon_lock(self, name: str) -> AsyncIterator[None]:
        lock_path = self.path + ".lock"
        Path(lock_path).parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                other = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
                raise LockedDatabase(
                    f"another hub daemon (pid {other}) is already running on {self.path}; stop it first "
                    "(two daemons on one SQLite log would execute every command twice)"
                ) from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            yield
        finally:
            os.close(fd)

    # --- cross-process wake-ups ----------------------------------------------

    @contextlib.asynccontextmanager
    async def wakeups(self) -> AsyncIterator[AsyncIterator[None]]:
        folder = _notify_dir(self.path)
        folder.mkdir(mode=0o700, exist_ok=True)
        sock_path = folder / f"{os.getpid()}-{os.urandom(3).hex()}.sock"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.bind(str(sock_path))
        self._own.add(str(sock_path))
        wake = asyncio.Event()
        loop = asyncio.get_running_loop()

        def readable() -> None:
            with contextlib.suppress(BlockingIOError, InterruptedError):
                while True:
                    sock.recv(64)
            wake.set()

        loop.add_reader(sock.fileno(), readable)

        async def iterate() -> AsyncIterator[None]:
            while True:
                await wake.wait()
                wake.clear()
                yield None

        try:
            yield iterate()
        finally:
            loop.remove_reader(sock.fileno())
            sock.close()
            self._own.discard(str(sock_path))
            with contextlib.suppress(OSError):
                sock_path.unlink()

    async def notify(self) -> None:
        if self._sock is None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._sock.setblocking(False)
            # realpath stats every component of the path: ~0.1 ms a commit, for a constant
            self._notify_folder = _notify_dir(self.path)
        folder = self._notify_folder
        # The listeners' sockets, listed again only when the folder changed (a socket made or removed
        # changes its mtime): one stat a commit instead of reading the folder, on every commit's path.
        # The kernel stamps mtimes with a coarse clock (a few ms), so changes close together can share
        # one stamp: a listing is trusted only if it began well after the stamp it was read under.
        try:
            changed = os.stat(folder).st_mtime_ns
            if changed != self._listed_at or self._listed_when - changed < LISTENERS_SETTLE_NS:
                began = time.time_ns()
                self._listeners = [e.path for e in os.scandir(folder) if e.name.endswith(".sock")]
                self._listed_at, self._listed_when = changed, began
        except FileNotFoundError:
            return
        for path in self._listeners:
            if path in self._own:
                continue
            try:
                self._sock.sendto(b"1", path)
            except (ConnectionRefusedError, FileNotFoundError):
                with contextlib.suppress(OSError):
                    os.unlink(path)  # its process is gone
            except (BlockingIOError, OSError):
                pass  # its queue is full: it has a wake-up pending already


def _split_sql(script: str) -> list[str]:
    """Statements of a schema script (triggers keep their inner semicolons)."""
    out, buf = [], []
    for line in script.strip().splitlines():
        buf.append(line)
        joined = "\n".join(buf).strip()
        upper = joined.upper()
        if joined.endswith(";") and (not upper.startswith("CREATE TRIGGER") or upper.endswith("END;")):
            out.append(joined)
            buf = []
    if buf and "\n".join(buf).strip():
        out.append("\n".join(buf).strip())
    return out
