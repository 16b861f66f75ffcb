"""A throwaway PostgreSQL server in a temporary folder, for tests and benchmarks.

`TemporaryCluster` runs initdb and starts `postgres` on a free loopback port
(as the `postgres` OS user when run as root, since PostgreSQL refuses root);
`stop()` shuts it down and deletes the folder. `scratch_database()` creates a
database with a random name on any server and drops it afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from hub.errors import StoreError
from hub.store.pg_admin import pg_binary

log = logging.getLogger(__name__)

SHARED_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TemporaryCluster:
    """initdb + postgres on 127.0.0.1:<free port>; `url` points at its `postgres` database."""

    def __init__(self, *, durable: bool = False) -> None:
        self.durable = durable  # False: fsync off, for tests; True: the defaults, for benchmarks
        self.port = 0
        self.folder: Path | None = None
        self._as_postgres = os.geteuid() == 0

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        cmd = (["runuser", "-u", "postgres", "--"] if self._as_postgres else []) + list(args)
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise StoreError(f"{Path(args[0]).name} failed (exit {done.returncode}): "
                             f"{(done.stderr or done.stdout).strip()[-800:]}")

    def start(self) -> str:
        folder = Path(tempfile.mkdtemp(prefix="hub-pg-"))
        self.folder = folder
        if self._as_postgres:
            pw = pwd.getpwnam("postgres")
            os.chown(folder, pw.pw_uid, pw.pw_gid)
        data = folder / "data"
        try:
            self._run(pg_binary("initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                      "--locale=C", "--no-sync")
            self.port = _free_port()
            options = [f"-p {self.port}", f"-k {folder}", "-c listen_addresses=127.0.0.1", "-c max_connections=200"]
            if not self.durable:
                options += ["-c fsync=off", "-c full_page_writes=off", "-c synchronous_commit=off"]
            self._run(pg_binary("pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-w", "-t", "60",
                      "-o", " ".join(options), "start")
        except BaseException:
            self.stop()
            raise
        log.info("temporary PostgreSQL cluster on port %d in %s", self.port, folder)
        return self.url

    def stop(self) -> None:
        folder, self.folder = self.folder, None
        if folder is None:
            return
        if (folder / "data" / "postmaster.pid").exists():
            with contextlib.suppress(StoreError, subprocess.TimeoutExpired):
                self._run(pg_binary("pg_ctl"), "-D", str(folder / "data"), "-m", "fast", "-w", "-t", "60", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def with_database(url: str, name: str) -> str:
    """The same server's URL for another database."""
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


@contextlib.asynccontextmanager
async def scratch_database(server: str) -> AsyncIterator[str]:
    """A new empty database on `server` (any database URL of it), dropped when the block exits."""
    name = "hub_test_" + os.urandom(5).hex()
    admin = with_database(server, "postgres")
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield with_database(server, name)
    finally:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


async def reachable(url: str) -> bool:
    """True when a server answers at `url`."""
    try:
        conn = await asyncpg.connect(url, timeout=5)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return False
    await conn.close()
    return True


_shared: dict[str, object] = {"cluster": None, "url": None, "users": 0}


@contextlib.contextmanager
def test_server() -> Iterator[str | None]:
    """A server URL for a test session: a private cluster shared by every user of this context
    (started by the first, stopped by the last), else the machine's server on 127.0.0.1:5432,
    else None."""
    if not _shared["users"]:
        cluster = TemporaryCluster()
        try:
            _shared["url"], _shared["cluster"] = cluster.start(), cluster
        except (StoreError, OSError, KeyError, subprocess.TimeoutExpired) as exc:
            log.warning("cannot start a private PostgreSQL (%s); trying %s", exc, SHARED_SERVER)
            _shared["url"] = SHARED_SERVER if asyncio.run(reachable(SHARED_SERVER)) else None
    _shared["users"] = int(_shared["users"]) + 1  # type: ignore[call-overload]
    try:
        yield _shared["url"]  # type: ignore[misc]
    finally:
        _shared["users"] = int(_shared["users"]) - 1  # type: ignore[call-overload]
        if not _shared["users"]:
            cluster = _shared["cluster"]
            _shared["cluster"] = _shared["url"] = None
            if isinstance(cluster, TemporaryCluster):
                cluster.stop()
