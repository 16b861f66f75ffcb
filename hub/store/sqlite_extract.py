"""The reading half of a rebuild in SQL, in a process of its own: `sqlite_fold.extract` of chunk
after chunk of the log, each handed back as a serialized in-memory database.

    python -m hub.store.sqlite_extract PATH

A line `after upto` on stdin asks for a chunk; the answer on stdout is a header (`_HEADER`: whether
the chunk is canonical, the length) and the database. The writer asks for chunks ahead and folds
each while this process extracts the next ones. A process, not a thread: two SQLite threads of one
process take turns at the library's allocator mutex (this build has no lookaside), two processes do not.
"""

from __future__ import annotations

import sqlite3
import struct
import sys
import urllib.parse

from hub.store import sqlite_fold

HEADER = struct.Struct("<?q")  # canonical, length of the database that follows


def main() -> None:
    path = sys.argv[1]
    # Read-only: the writer's transaction (open meanwhile) changes projections only, never `events`.
    raw = sqlite3.connect(f"file:{urllib.parse.quote(path)}?mode=ro", uri=True, isolation_level=None)
    raw.execute("PRAGMA temp_store = MEMORY")
    raw.execute("PRAGMA cache_size = -8192")
    sqlite_fold.start_extract(raw)
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        after, upto = (int(word) for word in line.split())
        sqlite_fold.attach_rows(raw)
        canonical = sqlite_fold.extract(raw, sqlite_fold.ROWS, after, upto)
        data = raw.serialize(name="fold_x") if canonical else b""
        raw.execute("DETACH DATABASE fold_x")
        out.write(HEADER.pack(canonical, len(data)))
        out.write(data)
        out.flush()


if __name__ == "__main__":
    main()
