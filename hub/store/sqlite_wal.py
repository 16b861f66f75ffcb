"""WAL checkpoints beside the writer, so that a commit does not wait for one.

In WAL mode every commit appends pages to the `-wal` file; a checkpoint copies them back into the
database file and fsyncs it. SQLite runs checkpoints on the connection whose commit crosses its
threshold, inside that commit: under a sustained load the writer's thread stopped for 100 to 200 ms
every few seconds (`python -m bench.core_ingest_timeline`), and so did every appender waiting for
durability.

Here a thread with a connection of its own copies the pages as they accumulate (a PASSIVE
checkpoint waits for nobody and blocks nobody). The writer keeps its own automatic checkpoint at a
larger threshold (`WAL_CHECKPOINT_PAGES` in `hub.store.sqlite`): when the WAL reaches it, little is
left to copy, and the writer's next transaction starts the WAL file over, so its size stays bounded
as before.

The thread learns how many pages wait from the WAL-index header in the `-shm` file, whose layout
is part of SQLite's documented file format (https://www.sqlite.org/walformat.html, 2.2): mxFrame,
the frames in the WAL, at byte 16, and nBackfill, the frames copied already, at byte 96, both
32-bit in the machine's byte order. It reads 100 bytes after each commit and checkpoints only past
`pages`, so an idle hub's disk sees no more writes than before.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import struct
import threading

log = logging.getLogger(__name__)

BACKGROUND_PAGES = 1000  # SQLite's own default threshold for its automatic checkpoint
_HEADER = struct.Struct("=16xI76xI")  # mxFrame at 16, nBackfill at 96


def wal_frames(shm_fd: int) -> tuple[int, int]:
    """(frames in the WAL, frames already copied into the database), from the `-shm` header."""
    mx_frame, backfilled = _HEADER.unpack(os.pread(shm_fd, _HEADER.size, 0))
    return mx_frame, backfilled


class Checkpointer:
    """A thread that checkpoints the WAL of `path` once more than `pages` frames wait to be copied,
    until the WAL holds `writer_pages` frames, where the writer's automatic checkpoint takes over.
    `poke()` after each commit (cheap, from any thread); `close()` stops and joins it."""

    def __init__(self, path: str, pages: int = BACKGROUND_PAGES, writer_pages: int | None = None) -> None:
        self.path = path
        self.pages = pages
        # From the writer's own threshold on, the thread stands down. The WAL starts over only at a
        # transaction that finds every frame copied; under a sustained load commits land while the
        # thread copies, so that moment comes from the writer's checkpoint, between its own commits,
        # and a checkpoint of the thread's under way would make the writer's fail (one at a time):
        # the file would grow without bound.
        self.writer_pages = writer_pages
        self.checkpoints = 0
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._failing: str | None = None
        self._conn: sqlite3.Connection | None = None
        self._shm: int | None = None

    def poke(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None and not self._stopping:
                    self._thread = threading.Thread(target=self._run, name="hub-wal-checkpoint", daemon=True)
                    self._thread.start()
        self._wake.set()

    def close(self) -> None:
        with self._lock:
            self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._release()

    def _run(self) -> None:
        try:
            while True:
                self._wake.wait()
                self._wake.clear()
                if self._stopping:
                    return
                self.step()
        finally:
            self._release()

    def step(self) -> bool:
        """Checkpoint if more than `pages` frames wait; True if it did. Never raises: on failure the
        writer's own automatic checkpoint still runs, so nothing is lost and commits only wait for
        checkpoints again. A failure is said once per kind, not once per commit."""
        try:
            if self._shm is None:
                self._shm = os.open(self.path + "-shm", os.O_RDONLY)
            mx_frame, backfilled = wal_frames(self._shm)
            if mx_frame - backfilled <= self.pages or (self.writer_pages is not None and mx_frame >= self.writer_pages):
                return False
            if self._conn is None:
                self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except (OSError, sqlite3.Error, struct.error) as exc:
            self._failed(f"{type(exc).__name__}: {exc}")
            return False
        self.checkpoints += 1
        self._ok()
        return True

    def _release(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._shm is not None:
            os.close(self._shm)
            self._shm = None

    def _failed(self, message: str) -> None:
        if message != self._failing:
            log.warning("background WAL checkpoint of %s failed (%s); the writer checkpoints instead",
                        self.path, message)
            self._failing = message

    def _ok(self) -> None:
        if self._failing is not None:
            log.info("background WAL checkpoint of %s works again", self.path)
            self._failing = None
