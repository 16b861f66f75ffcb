"""Fixtures of the PostgreSQL tests: a private server for the session, a database per test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from hub.store.pg_cluster import scratch_database, test_server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A private PostgreSQL cluster (or the machine's server on 127.0.0.1:5432)."""
    with test_server() as url:
        if url is None:
            pytest.skip("no PostgreSQL: install it (apt-get install postgresql) to run these tests")
        yield url


@pytest.fixture
async def pg_url(pg_server: str) -> AsyncIterator[str]:
    """A fresh, empty database, dropped after the test."""
    async with scratch_database(pg_server) as url:
        yield url


@pytest.fixture(autouse=True)
async def no_task_left_running() -> AsyncIterator[None]:
    yield
    await asyncio.sleep(0)
    current = asyncio.current_task()
    left = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    assert not left, f"tasks left running: {left}"
