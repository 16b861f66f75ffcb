"""WAL checkpoints run in a thread beside the writer (hub.store.sqlite_wal): it reads how many
frames wait from the `-shm` header, checkpoints past its threshold, stays quiet below it, never
raises, and stops with the backend. The writer's own checkpoint still bounds the WAL file."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.events import Event
from hub.log import open_log
from hub.store.sqlite import WAL_CHECKPOINT_PAGES
from hub.store.sqlite_wal import Checkpointer, wal_frames


@pytest.fixture
def wal_db(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """A WAL database whose writer never checkpoints by itself."""
    conn = sqlite3.connect(tmp_path / "wal.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("CREATE TABLE t (x BLOB)")
    try:
        yield conn
    finally:
        conn.close()


def write_pages(conn: sqlite3.Connection, pages: int) -> None:
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO t VALUES (?)", ((os.urandom(3000),) for _ in range(pages)))
    conn.execute("COMMIT")


def shm_frames(path: str) -> tuple[int, int]:
    fd = os.open(path + "-shm", os.O_RDONLY)
    try:
        return wal_frames(fd)
    finally:
        os.close(fd)


def test_the_shm_header_reads_as_sqlite_reports_the_wal(wal_db: sqlite3.Connection, tmp_path: Path) -> None:
    path = str(tmp_path / "wal.db")
    write_pages(wal_db, 40)
    frames, copied = shm_frames(path)
    assert frames >= 40 and copied == 0
    # wal_checkpoint answers (busy, frames in the WAL, frames checkpointed): the same frames.
    busy, log_frames, checkpointed = sqlite3.connect(path).execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert (busy, log_frames, checkpointed) == (0, frames, frames)
    assert shm_frames(path) == (frames, frames)


def test_it_checkpoints_past_its_threshold_and_not_below(wal_db: sqlite3.Connection, tmp_path: Path) -> None:
    path = str(tmp_path / "wal.db")
    checkpointer = Checkpointer(path, pages=50)
    try:
        write_pages(wal_db, 20)
        assert checkpointer.step() is False
        assert shm_frames(path)[1] == 0
        write_pages(wal_db, 60)
        assert checkpointer.step() is True
        frames, copied = shm_frames(path)
        assert copied == frames > 50
        assert checkpointer.step() is False  # nothing waits now
        assert checkpointer.checkpoints == 1
    finally:
        checkpointer.close()


def test_it_leaves_a_wal_past_the_writers_threshold_to_the_writer(wal_db: sqlite3.Connection,
                                                                   tmp_path: Path) -> None:
    # Past the writer's threshold, a checkpoint of the thread's under way would make the writer's
    # fail, and under load the WAL would never start over.
    path = str(tmp_path / "wal.db")
    checkpointer = Checkpointer(path, pages=50, writer_pages=100)
    try:
        write_pages(wal_db, 120)
        assert checkpointer.step() is False
        frames, copied = shm_frames(path)
        assert frames >= 120 and copied == 0
        assert Checkpointer(path, pages=50).step() is True  # with no writer's threshold, it would
    finally:
        checkpointer.close()


def test_its_thread_follows_pokes_and_stops_on_close(wal_db: sqlite3.Connection, tmp_path: Path) -> None:
    path = str(tmp_path / "wal.db")
    checkpointer = Checkpointer(path, pages=50)
    write_pages(wal_db, 80)
    checkpointer.poke()
    deadline = time.monotonic() + 5
    while checkpointer.checkpoints == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert checkpointer.checkpoints == 1
    assert shm_frames(path)[1] >= 80
    checkpointer.close()
    assert not [t for t in threading.enumerate() if t.name == "hub-wal-checkpoint"]


def test_a_failure_is_said_once_and_never_raised(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    checkpointer = Checkpointer(str(tmp_path / "no-such.db"))
    with caplog.at_level(logging.WARNING, logger="hub.store.sqlite_wal"):
        assert checkpointer.step() is False
        assert checkpointer.step() is False
    assert len(caplog.records) == 1
    assert "writer checkpoints instead" in caplog.records[0].getMessage()
    checkpointer.close()


async def test_the_log_copies_its_wal_beside_the_writer_and_keeps_it_bounded(tmp_path: Path) -> None:
    path = str(tmp_path / "hub.db")
    async with open_log(path, synchronous="normal") as log:
        checkpointer = log.backend._wal  # type: ignore[attr-defined]
        assert checkpointer is not None
        payload = "x" * 2000
        seen_copied = False
        for burst in range(160):
            await log.append_many([_reading(burst, i, payload) for i in range(200)], supplied_ids=False)
            frames, copied = shm_frames(path)
            # Frames were copied while the WAL was still below the writer's own threshold: the
            # thread's doing, not the writer's.
            seen_copied = seen_copied or (0 < copied and frames < WAL_CHECKPOINT_PAGES)
        assert checkpointer.checkpoints >= 1
        assert seen_copied
        # ~130 MB written (events and history), over 3 times the writer's threshold: the writer's own checkpoint started the WAL over, so it stays bounded.
        assert os.path.getsize(path + "-wal") <= 2 * WAL_CHECKPOINT_PAGES * (4096 + 24)
    assert not [t for t in threading.enumerate() if t.name == "hub-wal-checkpoint"]


def _reading(burst: int, i: int, payload: str) -> Event:
    return Event("state_changed", "test", f"sensor.s{i % 20}", {
        "old_state": None,
        "new_state": {"state": str(burst * 1000 + i), "attributes": {"note": payload}}})
