"""The reading half of a rebuild in SQL, in a process of its own: `sqlite_fold.extract` of the
chunks of the log it is asked for, each handed back as a serialized in-memory database.

    python -m hub.store.sqlite_extract PATH

A line `after upto` on stdin asks for a chunk; the answer on stdout is a header (`HEADER`: whether
the chunk is canonical, the length) and the database. The writer asks REBUILD_READERS of these
processes for chunks in turn, ahead, and folds each while they extract the next ones. They run
below the writer's priority: the writer's half cannot be shared out, theirs can. Processes, not
threads: two SQLite threads of one process take turns at the library's allocator mutex (this build
has no lookaside), two processes do not.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3 as stdlib_sqlite3
import struct
import sys
import tempfile
import urllib.parse
from pathlib import Path
from types import ModuleType

from hub.states import as_number
from hub.store import sqlite_fold

READER_NICE = 5
HEADER = struct.Struct("<?q")  # canonical, length of the database that follows
SHARED_MEMORY = Path("/dev/shm")


def library() -> ModuleType:
    """The sqlite3 module the reader runs on: pysqlite3's newer SQLite where it is installed (its
    JSON functions extract a chunk about 15% faster than Python's own SQLite 3.40; see the README),
    else Python's. HUB_EXTRACT_SQLITE=stdlib chooses Python's."""
    if os.environ.get("HUB_EXTRACT_SQLITE") != "stdlib":
        with contextlib.suppress(ImportError):
            from pysqlite3 import dbapi2
            return dbapi2
    return stdlib_sqlite3


_scratch: list[Path] = []  # the scratch file, for the SIGTERM handler


def _stop(signum: int, frame: object) -> None:
    # Asked to stop (the rebuild is over, or failed): whatever it was doing, even blocked writing a
    # chunk nobody reads any more, it removes its scratch file and ends.
    for image in _scratch:
        image.unlink(missing_ok=True)
    os._exit(0)


def main() -> None:
    path = sys.argv[1]
    signal.signal(signal.SIGTERM, _stop)
    # Below the writer: what the readers extract ahead must not slow the fold that waits for it.
    os.nice(READER_NICE)
    sqlite3 = library()
    # Read-only: the writer's transaction (open meanwhile) changes projections only, never `events`.
    raw = sqlite3.connect(f"file:{urllib.parse.quote(path)}?mode=ro", uri=True, isolation_level=None)
    raw.execute("PRAGMA temp_store = MEMORY")
    raw.execute("PRAGMA cache_size = -8192")
    # pysqlite3 cannot serialize a database: fold_x is then a file, in memory where there is a tmpfs,
    # read back whole and removed after each chunk.
    folder = SHARED_MEMORY if SHARED_MEMORY.is_dir() and os.access(SHARED_MEMORY, os.W_OK) else None
    image = None
    if not hasattr(raw, "serialize"):
        handle, name = tempfile.mkstemp(".db", "hub-extract-", folder)
        os.close(handle)
        image = Path(name)
        _scratch.append(image)
    out = sys.stdout.buffer
    try:
        for line in sys.stdin.buffer:
            after, upto = (int(word) for word in line.split())
            if image is None:
                sqlite_fold.attach_rows(raw)
            else:
                image.unlink(missing_ok=True)
                sqlite_fold.attach_rows(raw, str(image))
            canonical = sqlite_fold.extract(raw, after, upto, as_number)
            data = raw.serialize(name="fold_x") if canonical and image is None else b""
            raw.execute("DETACH DATABASE fold_x")
            if canonical and image is not None:
                data = image.read_bytes()  # detached: all of it written
            out.write(HEADER.pack(canonical, len(data)))
            out.write(data)
            out.flush()
    finally:
        if image is not None:
            image.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
