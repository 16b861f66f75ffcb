"""The PostgreSQL backend (asyncpg): one log shared by several hubs.

Writers serialise on the row lock of `log_head`, held from the start of the write
transaction to its commit: seqs are assigned and committed in the same order, so
readers always see a gap-free prefix of the log and never skip an event that
commits late. The commit itself sends NOTIFY, which wakes every other process
that follows the log (`wakeups()`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

import asyncpg

from hub.errors import LockedDatabase, StoreError
from hub.projections import PROJECTIONS
from hub.store.base import Backend, Tx
from hub.store.pg_admin import dump, redact, server_url
from hub.store.postgres_schema import (
    GUARDS,
    MIGRATIONS,
    NOTIFY_CHANNEL,
    PROJECTION_COLUMNS,
    PROJECTION_TABLES,
    SCHEMA_VERSION,
    V1,
)
from hub.store.postgres_tx import PgTx
from hub.store.reads import SqlReads

log = logging.getLogger(__name__)

_DAEMON_LOCK_CLASS = 0x6875  # "hu": the advisory-lock namespace of hub daemons
_SCHEMA_LOCK = 0x68756273
_POLL_SECONDS = 5.0  # wakeups() also yields this often, in case a notification was lost

DbError = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)


def _glob_regex(glob: str) -> str:
    """A shell glob (`*`, `?`, `[...]`) as an anchored PostgreSQL regular expression."""
    out, i = ["^"], 0
    while i < len(glob):
        ch = glob[i]
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "[" and "]" in glob[i + 2:] + glob[i + 1:i + 2].replace("]", ""):
            end = glob.index("]", i + 2 if glob[i + 1:i + 2] in ("!", "]") else i + 1)
            body = glob[i + 1:end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append("\\" + ch if not ch.isalnum() and ch != "_" else ch)
        i += 1
    return "".join(out) + "$"


def _like_prefix(glob: str) -> str | None:
    """The literal prefix of a glob as a LIKE pattern (lets the index narrow the scan)."""
    prefix = ""
    for ch in glob:
        if ch in "*?[":
            break
        prefix += ch
    if not prefix:
        return None
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class PostgresBackend(SqlReads, Backend):
    """The log in a PostgreSQL database; several hubs may share it."""

    shared = True  # several daemons (with different names) may run on one log

    def __init__(self, url: str, *, pool_size: int = 4) -> None:
        self.url = url
        self.safe_url = redact(url)
        self.pool_size = pool_size
        self._pool: asyncpg.Pool | None = None
        self._token = os.urandom(6).hex()

    def _error(self, exc: BaseException, doing: str = "") -> StoreError:
        text = str(exc).replace(self.url, self.safe_url) or type(exc).__name__
        return StoreError(f"database {self.safe_url}: {doing + ': ' if doing else ''}{text}")

    # --- lifecycle -----------------------------------------------------------

    async def open(self, *, create: bool = True) -> None:
        try:
            try:
                self._pool = await asyncpg.create_pool(self.url, min_size=1, max_size=self.pool_size)
            except asyncpg.InvalidCatalogNameError:
                if not create:
                    raise StoreError(f"database {self.safe_url} does not exist "
                                     "(start `hub run` once to create it)") from None
                await self._create_database()
                self._pool = await asyncpg.create_pool(self.url, min_size=1, max_size=self.pool_size)
            async with self._pool.acquire() as conn:
                await self._migrate(conn, create)
        except StoreError:
            await self.close()
            raise
        except DbError as exc:
            await self.close()
            raise self._error(exc, "cannot open") from None

    async def _create_database(self) -> None:
        admin, name = server_url(self.url)
        conn = await asyncpg.connect(admin)
        try:
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                await conn.execute(f'CREATE DATABASE "{name}"')
                log.info("created database %s", self.safe_url)
        finally:
            await conn.close()

    async def _migrate(self, conn: asyncpg.Connection, create: bool) -> None:
        async with conn.transaction():
            # Several hubs may start at once: one creates the schema, the others wait for it.
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _SCHEMA_LOCK)
            version = 0
            if await conn.fetchval("SELECT to_regclass('meta') IS NOT NULL"):
                value = await conn.fetchval("SELECT value FROM meta WHERE key = 'schema_version'")
                version = int(value) if value else 0
            if version > SCHEMA_VERSION:
                raise StoreError(f"database {self.safe_url} has schema version {version}, newer than this hub "
                                 f"({SCHEMA_VERSION}): upgrade the hub")
            if version == SCHEMA_VERSION:
                return
            if version == 0 and not create:
                raise StoreError(f"database {self.safe_url} holds no hub log (start `hub run` once to create it)")
            if version == 0:
                await conn.execute(V1)
                version = 1
            while version < SCHEMA_VERSION:
                await conn.execute(MIGRATIONS[version])
                version += 1
            await conn.executemany("INSERT INTO projection_position VALUES ($1, 0) ON CONFLICT DO NOTHING",
                                   [(name,) for name in PROJECTIONS])
            await conn.execute("INSERT INTO meta VALUES ('schema_version', $1) ON CONFLICT (key) "
                               "DO UPDATE SET value = excluded.value", str(version))

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(pool.close(), 10)
            except (TimeoutError, *DbError):
                pool.terminate()

    def _p(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreError(f"database {self.safe_url} is not open")
        return self._pool

    # --- writing -------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        pool = self._p()
        try:
            conn = await pool.acquire()
        except DbError as exc:
            raise self._error(exc) from None
        try:
            tr = conn.transaction()
            try:
                await tr.start()
                # The head row stays locked until commit: one writer at a time, seq order = commit order.
                head = int(await conn.fetchval("SELECT seq FROM log_head FOR UPDATE"))
            except DbError as exc:
                raise self._error(exc) from None
            try:
                yield PgTx(conn, head, self._token)
            except BaseException as exc:
                with contextlib.suppress(*DbError):
                    await tr.rollback()
                if isinstance(exc, DbError):
                    raise self._error(exc) from None
                raise
            try:
                await tr.commit()
            except DbError as exc:
                with contextlib.suppress(*DbError):
                    await tr.rollback()
                raise self._error(exc, "commit failed") from None
        finally:
            with contextlib.suppress(*DbError):
                await pool.release(conn)

    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        try:
            return list(await self._p().fetch(sql, *args))
        except DbError as exc:
            raise self._error(exc) from None

    async def _val(self, sql: str, *args: Any) -> Any:
        try:
            return await self._p().fetchval(sql, *args)
        except DbError as exc:
            raise self._error(exc) from None

    # --- reading -------------------------------------------------------------

    async def head(self) -> int:
        return int(await self._val("SELECT seq FROM log_head"))

    async def _rows(self, sql: str, *params: Any) -> list[Any]:
        return await self._fetch(_numbered(sql), *params)

    def _in_clause(self, column: str, values: Any) -> tuple[str, list[Any]]:
        return f"{column} = ANY(?::text[])", [list(values)]

    def _glob_clauses(self, pattern: str) -> list[tuple[str, Any]]:
        prefix = _like_prefix(pattern)
        clauses = [("entity_id LIKE ?", prefix)] if prefix is not None else []
        return clauses + [("entity_id ~ ?", _glob_regex(pattern))]

    def _text_clause(self) -> str:
        return "strpos(data::text, ?) > 0"

    # --- maintenance ---------------------------------------------------------

    async def reset_projections(self) -> None:
        async with self.transaction() as tx:
            conn = tx.conn  # type: ignore[attr-defined]
            await conn.execute(f"TRUNCATE {', '.join(PROJECTION_TABLES)}")
            await conn.execute("UPDATE projection_position SET seq = 0")

    async def replace_projections(self, tables: dict[str, AsyncIterable[tuple[Any, ...]]],
                                  positions: dict[str, int], meta: dict[str, str]) -> dict[str, int]:
        """Replace every projection row, position and the given meta keys in one transaction
        (for `hub migrate`, which brings statistics whose events retention has dropped)."""
        counts: dict[str, int] = {}
        async with self.transaction() as tx:
            conn: asyncpg.Connection = tx.conn  # type: ignore[attr-defined]
            await conn.execute(f"TRUNCATE {', '.join(PROJECTION_TABLES)}")
            for table, records in tables.items():
                status = await conn.copy_records_to_table(
                    table, records=records, columns=[c for c, _ in PROJECTION_COLUMNS[table]])
                counts[table] = int(status.rsplit(" ", 1)[-1])
            await conn.executemany("UPDATE projection_position SET seq = $2 WHERE name = $1",
                                   list(positions.items()))
            await conn.executemany("INSERT INTO meta VALUES ($1, $2) ON CONFLICT (key) DO UPDATE "
                                   "SET value = excluded.value", list(meta.items()))
        return counts

    async def apply_retention(self, entity_cutoffs: dict[str, int], default_cutoff: int) -> dict[str, int]:
        counts = {"events": 0, "history": 0, "stats_5m": 0}

        def rows(status: str) -> int:
            return int(status.rsplit(" ", 1)[-1])

        async with self.transaction() as tx:
            conn: asyncpg.Connection = tx.conn  # type: ignore[attr-defined]
            head = await tx.head()
            # The delete guard lets retention through for this transaction only.
            await conn.execute("SELECT set_config('hub.retention_upto', $1, true)", str(head))
            keep = "seq NOT IN (SELECT seq FROM states UNION ALL SELECT seq FROM entities)"
            for entity_id, cutoff in entity_cutoffs.items():
                counts["events"] += rows(await conn.execute(
                    f"DELETE FROM events WHERE entity_id=$1 AND time<$2 AND {keep}", entity_id, cutoff))
                counts["history"] += rows(await conn.execute(
                    "DELETE FROM history WHERE entity_id=$1 AND time<$2 AND seq < "
                    "(SELECT COALESCE(MAX(seq), 0) FROM history h WHERE h.entity_id=$1 AND h.time<$2)",
                    entity_id, cutoff))
                counts["stats_5m"] += rows(await conn.execute(
                    "DELETE FROM stats_5m WHERE entity_id=$1 AND bucket<$2", entity_id, cutoff))
            counts["events"] += rows(await conn.execute(
                f"DELETE FROM events WHERE time<$1 AND (entity_id IS NULL OR entity_id NOT IN "
                f"(SELECT entity_id FROM states UNION SELECT entity_id FROM entities)) AND {keep}",
                default_cutoff))
            # Below this seq the log may have gaps (integrity_problems checks continuity above it).
            await conn.execute("INSERT INTO meta VALUES ('retained_upto', $1) ON CONFLICT (key) DO UPDATE "
                               "SET value = GREATEST(meta.value::bigint, excluded.value::bigint)::text", str(head))
        return counts

    async def size_bytes(self) -> int:
        return int(await self._val("SELECT pg_database_size(current_database())"))

    async def backup(self, path: str) -> None:
        await dump(self.url, path)

    async def integrity_problems(self) -> list[str]:
        problems: list[str] = []
        try:
            async with self._p().acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
                head = int(await conn.fetchval("SELECT seq FROM log_head"))
                top, total = await conn.fetchrow("SELECT COALESCE(MAX(seq), 0), COUNT(*) FROM events")
                floor = int(await conn.fetchval(
                    "SELECT COALESCE((SELECT value FROM meta WHERE key='retained_upto'), '0')"))
                above = int(await conn.fetchval("SELECT COUNT(*) FROM events WHERE seq > $1", floor))
                triggers = {r[0]: r[1] for r in await conn.fetch(
                    "SELECT tgname, tgenabled::text FROM pg_trigger WHERE tgrelid = 'events'::regclass "
                    "AND NOT tgisinternal")}
                positions = {r[0]: r[1] for r in await conn.fetch("SELECT name, seq FROM projection_position")}
        except DbError as exc:
            return [str(self._error(exc, "integrity check"))]
        if top > head:
            problems.append(f"events go up to seq {top} but the log head says {head}")
        if floor < head and above != head - floor:
            problems.append(f"seq is not continuous: {above} events above seq {floor}, expected {head - floor} "
                            f"(up to head {head}); {total} events in all")
        for needed in GUARDS:
            if needed not in triggers:
                problems.append(f"append-only guard {needed} is missing")
            elif triggers[needed] == "D":
                problems.append(f"append-only guard {needed} is disabled")
        for name in PROJECTIONS:
            if name not in positions:
                problems.append(f"projection {name} has no tracking position")
            elif positions[name] > head:
                problems.append(f"projection {name} is at seq {positions[name]}, beyond the log head {head}")
        return problems

    # --- several daemons -----------------------------------------------------

    @contextlib.asynccontextmanager
    async def daemon_lock(self, name: str) -> AsyncIterator[None]:
        """Held on a connection of its own; another daemon may run under another name."""
        try:
            conn = await asyncpg.connect(self.url, server_settings={"application_name": f"hub daemon {name}"[:63]})
        except DbError as exc:
            raise self._error(exc, "daemon lock") from None
        try:
            got = await conn.fetchval("SELECT pg_try_advisory_lock($1, hashtext($2))", _DAEMON_LOCK_CLASS, name)
            if not got:
                raise LockedDatabase(
                    f"another hub daemon named {name!r} is already running on {self.safe_url} "
                    "(several daemons may share a PostgreSQL log, each under its own hub name; "
                    "see pg_stat_activity for `hub daemon` connections)")
            yield
        finally:
            with contextlib.suppress(*DbError):
                await asyncio.wait_for(conn.close(), 5)
            if not conn.is_closed():
                conn.terminate()

    # --- cross-process wake-ups ----------------------------------------------

    @contextlib.asynccontextmanager
    async def wakeups(self) -> AsyncIterator[AsyncIterator[None]]:
        wake = asyncio.Event()
        token = self._token

        def heard(_conn: object, _pid: int, _channel: str, payload: str) -> None:
            if not payload.startswith(token + ":"):
                wake.set()

        async def connect() -> asyncpg.Connection | None:
            try:
                conn = await asyncpg.connect(self.url)
            except DbError as exc:
                log.warning("cannot listen for new events on %s: %s", self.safe_url, self._error(exc))
                return None
            try:
                await conn.add_listener(NOTIFY_CHANNEL, heard)
            except BaseException as exc:  # cancelled or failed: never leave the connection open
                conn.terminate()
                if isinstance(exc, DbError):
                    log.warning("cannot listen for new events on %s: %s", self.safe_url, self._error(exc))
                    return None
                raise
            return conn

        state: dict[str, asyncpg.Connection | None] = {"conn": await connect()}

        async def iterate() -> AsyncIterator[None]:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), _POLL_SECONDS)
                wake.clear()
                conn = state["conn"]
                if conn is None or conn.is_closed():
                    state["conn"] = await connect()
                yield None

        try:
            yield iterate()
        finally:
            conn = state["conn"]
            if conn is not None and not conn.is_closed():
                with contextlib.suppress(*DbError):
                    await asyncio.wait_for(conn.close(), 5)
                if not conn.is_closed():
                    conn.terminate()

    async def notify(self) -> None:
        """Nothing to do: every write transaction sends NOTIFY as it commits."""


def _numbered(sql: str) -> str:
    """`?` placeholders as PostgreSQL's `$1, $2, ...` (the shared queries contain no other `?`)."""
    parts = sql.split("?")
    return "".join(part + (f"${n}" if n < len(parts) else "") for n, part in enumerate(parts, 1))
