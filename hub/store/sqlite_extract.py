"""The reading half of a rebuild in SQL, in a process of its own: `sqlite_fold.extract` of the
chunks of the log it is asked for, each handed back as a database file.

    python -m hub.store.sqlite_extract PATH FD

A line `after upto` on stdin asks for a chunk. The reader extracts it into a new scratch file (in
/dev/shm where there is one: memory), removes the file's name and answers on the Unix socket FD
(SOCK_SEQPACKET) with one message: CANONICAL with the file's descriptor attached, or NOT_CANONICAL
(the writer must fold the log in Python). The chunk's bytes never cross a pipe: the writer maps the
file and loads it into SQLite (one copy), and the memory goes when the last descriptor closes, so
nothing is left behind whichever process ends first.

The writer asks REBUILD_READERS of these processes for chunks in turn, ahead, and folds each while
they extract the next ones. They run below the writer's priority: the writer's half cannot be
shared out, theirs can. Processes, not threads: two SQLite threads of one process take turns at the
library's allocator mutex (this build has no lookaside), two processes do not.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3 as stdlib_sqlite3
import sys
import tempfile
import urllib.parse
from pathlib import Path
from types import ModuleType
from typing import Any

from hub.states import as_number
from hub.store import sqlite_fold

READER_NICE = 5
CANONICAL, NOT_CANONICAL = b"1", b"0"
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


def scratch_folder() -> str | None:
    """Where the chunks' files go: /dev/shm (memory) where it is writable, else the temp folder."""
    return str(SHARED_MEMORY) if SHARED_MEMORY.is_dir() and os.access(SHARED_MEMORY, os.W_OK) else None


_scratch: list[str] = []  # the name of the file being written, for the SIGTERM handler


def _stop(signum: int, frame: object) -> None:
    # Asked to stop (the rebuild is over, or failed): whatever it was doing, even extracting a chunk
    # nobody will read, it removes the name of its scratch file and ends.
    for name in _scratch:
        with contextlib.suppress(OSError):
            os.unlink(name)
    os._exit(0)


def connect(path: str) -> Any:
    """A reader's connection to the log at `path`, read-only, on `library()`'s SQLite."""
    # Read-only: the writer's transaction (open meanwhile) changes projections only, never `events`.
    raw = library().connect(f"file:{urllib.parse.quote(path)}?mode=ro", uri=True, isolation_level=None)
    raw.execute("PRAGMA temp_store = MEMORY")
    raw.execute("PRAGMA cache_size = -8192")
    return raw


def extract_chunk(raw: Any, folder: str | None, after: int, upto: int) -> int | None:
    """Extract a chunk into a new file; its open descriptor, the name already removed (None: the
    chunk is not canonical)."""
    handle, name = tempfile.mkstemp(".db", "hub-extract-", folder)
    _scratch.append(name)
    try:
        os.close(handle)
        sqlite_fold.attach_rows(raw, name)
        try:
            canonical = sqlite_fold.extract(raw, after, upto, as_number)
        finally:
            raw.execute("DETACH DATABASE fold_x")
        return os.open(name, os.O_RDONLY) if canonical else None
    finally:
        os.unlink(name)
        _scratch.remove(name)


def main() -> None:
    path, answers = sys.argv[1], socket.socket(fileno=int(sys.argv[2]))
    signal.signal(signal.SIGTERM, _stop)
    # Below the writer: what the readers extract ahead must not slow the fold that waits for it.
    os.nice(READER_NICE)
    raw = connect(path)
    folder = scratch_folder()
    for line in sys.stdin.buffer:
        after, upto = (int(word) for word in line.split())
        image = extract_chunk(raw, folder, after, upto)
        if image is None:
            answers.send(NOT_CANONICAL)
        else:
            try:
                socket.send_fds(answers, [CANONICAL], [image])
            finally:
                os.close(image)


if __name__ == "__main__":
    main()
