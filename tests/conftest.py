"""Shared fixtures: a real log on a temporary SQLite file, free ports, and a guard that fails
any test leaving tasks running."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
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
