"""Shared fixtures: a real log on a temporary SQLite file, free ports, and a guard that fails
any test leaving tasks running."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from hub.log import EventLog, open_log


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
async def hub_log(tmp_path: Path) -> AsyncIterator[EventLog]:
    """A projecting log (what the daemon runs) on a fresh SQLite file."""
    async with open_log(str(tmp_path / "hub.db"), synchronous="normal") as log:
        yield log


@pytest.fixture(autouse=True)
async def _no_leftover_tasks() -> AsyncIterator[None]:
    """Fail a test that leaves tasks running (copied from aioesphomeapi's habit)."""
    yield
    current = asyncio.current_task()
    for _ in range(20):
        left = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
        if not left:
            return
        await asyncio.sleep(0.01)
    names = ", ".join(sorted(t.get_name() + ":" + getattr(t.get_coro(), "__qualname__", "?") for t in left))
    pytest.fail(f"test left {len(left)} task(s) running: {names}")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A private PostgreSQL cluster for the session (or the machine's server on 127.0.0.1:5432)."""
    from hub.store.pg_cluster import test_server

    with test_server() as url:
        if url is None:
            pytest.skip("no PostgreSQL: install it (apt-get install postgresql) to run these tests")
        yield url


@pytest.fixture
async def pg_url(pg_server: str) -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database, dropped after the test."""
    from hub.store.pg_cluster import scratch_database

    async with scratch_database(pg_server) as url:
        yield url
