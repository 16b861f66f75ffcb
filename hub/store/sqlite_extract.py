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

import os
import sqlite3
import struct
import sys
import urllib.parse

from hub.states import as_number
from hub.store import sqlite_fold

READER_NICE = 5
HEADER = struct.Struct("<?q")  # canonical, length of the database that follows


def main() -> None:
    path = sys.argv[1]
    # Below the writer: what the readers extract ahead must not slow the fold that waits for it.
    os.nice(READER_NICE)
    # Read-only: the writer's transaction (open meanwhile) changes projections only, never `events`.
    raw = sqlite3.connect(f"file:{urllib.parse.quote(path)}?mode=ro", uri=True, isolation_level=None)
    raw.execute("PRAGMA temp_store = MEMORY")
    raw.execute("PRAGMA cache_size = -8192")
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        after, upto = (int(word) for word in line.split())
        sqlite_fold.attach_rows(raw)
        canonical = sqlite_fold.extract(raw, after, upto, as_number)
        data = raw.serialize(name="fold_x") if canonical else b""
        raw.execute("DETACH DATABASE fold_x")
        out.write(HEADER.pack(canonical, len(data)))
        out.write(data)
        out.flush()


if __name__ == "__main__":
    main()
