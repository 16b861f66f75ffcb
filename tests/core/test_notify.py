"""Other processes learn of commits through datagrams to their sockets in a folder per database
(SQLite). The writer lists that folder again only when its mtime moved, and distrusts a listing read
within moments of the mtime it was read under: the kernel stamps mtimes with a coarse clock, so a
listener that joins in the same tick as the change before it leaves the mtime as it was."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub.store import sqlite as sqlite_store
from hub.store.sqlite import SqliteBackend, _notify_dir


@pytest.fixture
async def writer(tmp_path: Path) -> AsyncIterator[SqliteBackend]:
    backend = SqliteBackend(str(tmp_path / "hub.db"))
    await backend.open()
    try:
        yield backend
    finally:
        await backend.close()


async def woken(wakeups: AsyncIterator[None], timeout: float = 2.0) -> bool:
    try:
        await asyncio.wait_for(anext(wakeups), timeout)
    except TimeoutError:
        return False
    return True


def stamp(folder: Path, ns: int) -> None:
    os.utime(folder, ns=(ns, ns))


async def test_a_listener_joining_within_the_same_mtime_tick_is_woken(writer: SqliteBackend) -> None:
    listener = SqliteBackend(writer.path)
    async with listener.wakeups() as first:
        await writer.notify()
        assert await woken(first)
        folder = _notify_dir(writer.path)
        unchanged = os.stat(folder).st_mtime_ns
        second_listener = SqliteBackend(writer.path)
        async with second_listener.wakeups() as second:
            stamp(folder, unchanged)  # the join left the folder's mtime as the writer last read it
            await writer.notify()
            assert await woken(second)
            assert await woken(first)


async def test_a_settled_folder_is_not_read_again_until_it_changes(writer: SqliteBackend,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[str] = []
    scandir = os.scandir

    def counted(path: str | os.PathLike[str]) -> object:
        reads.append(str(path))
        return scandir(path)

    monkeypatch.setattr(sqlite_store.os, "scandir", counted)
    listener = SqliteBackend(writer.path)
    async with listener.wakeups() as first:
        folder = _notify_dir(writer.path)
        stamp(folder, time.time_ns() - 2 * sqlite_store.LISTENERS_SETTLE_NS)  # changed long ago
        for _ in range(3):
            await writer.notify()
            assert await woken(first)
        assert len(reads) == 1
        joined = SqliteBackend(writer.path)
        async with joined.wakeups() as second:  # a new socket moves the folder's mtime
            await writer.notify()
            assert await woken(second)
        assert len(reads) == 2


async def test_a_listener_that_went_away_is_forgotten(writer: SqliteBackend) -> None:
    listener = SqliteBackend(writer.path)
    async with listener.wakeups() as first:
        await writer.notify()
        assert await woken(first)
    folder = _notify_dir(writer.path)
    assert not [p for p in folder.iterdir() if p.suffix == ".sock"]
    await writer.notify()  # its socket is gone: nothing to send to, nothing raised
    assert writer._listeners == []
