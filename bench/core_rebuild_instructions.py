"""Instructions per event of each statement of a rebuild's two halves (SQLite), counted by valgrind's
callgrind, which counts the same on a shared, noisy machine where the wall time swings.

    python -m bench.core_rebuild_instructions --db PATH [--after 100000] [--events 50000]
    (PATH: a log made by bench/core_queries.py --db PATH; it is only read: the writer's half runs in a
    transaction that is rolled back. Needs valgrind. Takes minutes: callgrind runs code ~50x slower.)

Two runs of this script under callgrind, each marking the start of every statement with a call of
getppid(), on which callgrind writes the counts so far (`--dump-before=getppid`):
- the reader's half, `sqlite_extract.extract_chunk` of the chunk after < seq <= after + events, on the
  reader's own connection, after the chunk before it (a reader keeps the numbers of state strings it has
  seen from chunk to chunk);
- the writer's half, in the rebuild's own transaction (`_rebuild_begin`: the old projections emptied),
  after the chunks before `after` are folded: the chunk loaded from the reader's file (extracted
  beforehand, outside callgrind), then `sqlite_fold.fold`, statement by statement.
The baseline beside them: the instructions of a plain read of the chunk's rows, `data` included.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from hub.store import sqlite_extract, sqlite_fold

MARK = "getppid"


class Marked:
    """A connection whose every statement first calls getppid(): a mark where callgrind dumps its counts."""

    def __init__(self, raw: Any, labels: list[str]) -> None:
        self.raw, self.labels = raw, labels

    def _mark(self, sql: str) -> None:
        text = " ".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
        self.labels.append(" ".join(text.split())[:72])
        os.getppid()

    def execute(self, sql: str, *args: Any) -> Any:
        self._mark(sql)
        return self.raw.execute(sql, *args)

    def executemany(self, sql: str, rows: Any) -> Any:
        self._mark(sql)
        return self.raw.executemany(sql, rows)


def reader_half(path: str, after: int, events: int, labels: list[str]) -> None:
    raw = sqlite_extract.connect(path)
    folder = sqlite_extract.scratch_folder()
    for start, marked in ((max(0, after - events), False), (after, True)):
        fd = sqlite_extract.extract_chunk(Marked(raw, labels) if marked else raw, folder, start, start + events)
        if fd is None:
            raise SystemExit("the log is not in the canonical shape: the rebuild folds it in Python")
        os.close(fd)
    labels.append("baseline: a plain read of the chunk's rows, data included")
    os.getppid()
    raw.execute("SELECT count(*), sum(length(data)) FROM events WHERE seq > ? AND seq <= ?", (after, after + events))
    labels.append("(end)")
    os.getppid()


def writer_half(path: str, fds: list[int], labels: list[str]) -> None:
    import sqlite3

    from hub.store.sqlite import _load_chunk, _rebuild_begin

    raw = sqlite3.connect(path, isolation_level=None)
    # The pragmas of SqliteBackend._pragmas that bear on a fold (its cache: `_rebuild_begin` sets it).
    raw.execute("PRAGMA temp_store=MEMORY")
    raw.execute("PRAGMA secure_delete=FAST")
    _rebuild_begin(raw)
    try:
        for fd in fds[:-1]:
            _load_chunk(raw, fd)
            sqlite_fold.fold(raw)
        labels.append("load the chunk's file (deserialize)")
        os.getppid()
        _load_chunk(raw, fds[-1])
        sqlite_fold.fold(Marked(raw, labels))  # type: ignore[arg-type]
        labels.append("(end)")
        os.getppid()
    finally:
        raw.execute("ROLLBACK")


def extracted(path: str, after: int, events: int) -> list[int]:
    """The reader's files of the chunks up to the one counted, for the writer's half (extracted here,
    not under callgrind: a process of the reader's library apart from the writer's, as in a rebuild)."""
    raw, folder = sqlite_extract.connect(path), sqlite_extract.scratch_folder()
    fds = []
    for start in range(0, after + events, events):
        fd = sqlite_extract.extract_chunk(raw, folder, start, start + events)
        if fd is None:
            raise SystemExit("the log is not in the canonical shape: the rebuild folds it in Python")
        fds.append(fd)
    raw.close()
    return fds


def counted(half: str, args: argparse.Namespace) -> tuple[list[str], list[int]]:
    """Run one half under callgrind: the label and the instructions of each marked stretch."""
    fds = extracted(args.db, args.after, args.events) if half == "writer" else []
    with tempfile.TemporaryDirectory() as folder:
        out, names = Path(folder) / "cg.out", Path(folder) / "labels.json"
        command = ["valgrind", "--tool=callgrind", f"--dump-before={MARK}", f"--callgrind-out-file={out}",
                   sys.executable, "-m", "bench.core_rebuild_instructions", "--db", args.db, "--after",
                   str(args.after), "--events", str(args.events), "--half", half, "--labels", str(names),
                   "--fds", ",".join(map(str, fds))]
        try:
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           pass_fds=fds)
        finally:
            for fd in fds:
                os.close(fd)
        parts: dict[int, int] = {}
        for dump in Path(folder).glob("cg.out.*"):
            text = dump.read_text(errors="replace")
            part, total = re.search(r"^part: (\d+)", text, re.M), re.search(r"^summary: (\d+)", text, re.M)
            if part and total:
                parts[int(part.group(1))] = int(total.group(1))
        labels = json.loads(names.read_text())
    # Dump n (n >= 2) holds what ran between mark n-1 and mark n: the stretch of label n-2.
    return labels, [parts[n + 2] for n in range(len(labels) - 1)]


def report(title: str, labels: list[str], counts: list[int], events: int) -> None:
    print(title)
    total = 0
    for label, count in zip(labels, counts, strict=False):
        if label == "(end)":
            continue
        if label.startswith("baseline:"):
            print(f"  {label:<86} {count / events:9,.0f}")
            continue
        total += count
        print(f"  {label:<86} {count / events:9,.0f}")
    print(f"  {'in all':<86} {total / events:9,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--after", type=int, default=100_000, help="the chunk counted starts after this seq")
    parser.add_argument("--events", type=int, default=50_000, help="the chunk's size, in seqs")
    parser.add_argument("--half", choices=("reader", "writer"), help=argparse.SUPPRESS)
    parser.add_argument("--labels", help=argparse.SUPPRESS)
    parser.add_argument("--fds", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.after % args.events:
        parser.error("--after must be a multiple of --events (the writer folds the chunks before it)")
    if args.half:  # under callgrind
        labels: list[str] = []
        if args.half == "reader":
            reader_half(args.db, args.after, args.events, labels)
        else:
            writer_half(args.db, [int(fd) for fd in args.fds.split(",")], labels)
        Path(args.labels).write_text(json.dumps(labels))
        return
    library = "Python's" if sqlite_extract.library().__name__ == "sqlite3" else "pysqlite3's"
    print(f"instructions per event (callgrind), chunk {args.after:,} < seq <= {args.after + args.events:,} "
          f"of {args.db}")
    report(f"reader's half ({library} SQLite), statement by statement:", *counted("reader", args), args.events)
    report("writer's half (Python's SQLite), statement by statement:", *counted("writer", args), args.events)


if __name__ == "__main__":
    main()
