"""Rebuild of the projections inside SQLite: the fold of `hub.projections` written as SQL.

A rebuild folds every state change of the log again. Done in Python, each event costs a JSON
decode, a State, the fold and the rows bound back into SQLite; done here, SQLite reads the log,
extracts `new_state` and writes history, statistics and time-in-state without a row crossing
into Python. What stays in Python is small and exact: the registry and the current states, folded
by the same `Fold` from a few rows per entity (`subset`).

The SQL follows `Fold._state_changed` rule by rule, for the log's canonical shape: `new_state`
an object with a text state, attributes an object, times in ISO 8601 with an offset, written by
the hub itself. A log with any other row (an integration's hand-made state change, say) is folded
by Python instead: `extract` answers False and the transaction is rolled back.

A chunk is folded in two halves: `extract` reads the log only and leaves in fold_x (an attached
in-memory database) the chunk's rows, ordered by entity with their states' numbers, and what the
chunk alone decides: the spans between an entity's rows, the seqs the registry and states need,
each entity's first and last row. `fold` writes the projections from them, adding what crosses
from one chunk to the next from the last rows it carries (`fold_carry`). So no chunk's extraction
needs another's: `hub.store.sqlite_extract` processes run the first half side by side, for the
chunks ahead, while the writer runs the second, and hand fold_x over as a file in memory. The writer's half
is the smaller one (B-tree writes only), as the one half that cannot be shared out.

Sums of floating-point values may differ from the live fold's in the last digit: both add the
same values, grouped differently (the live sums depend on the batches of the writer already).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from hub.projections import FIVE_MIN, HOUR

# Microseconds from the ISO text of `x`, exactly, for the forms the hub writes
# (`YYYY-MM-DDTHH:MM:SS[.ffffff]+HH:MM`); NULL for any other text. (unixepoch() would round
# the fraction to the nearest second, so it is given the whole seconds only.)
_VALID = ("substr({x}, 6, 2) BETWEEN '01' AND '12' AND substr({x}, 9, 2) BETWEEN '01' AND '31' "
          "AND (substr({x}, 9, 2) <= '28' OR date(julianday(substr({x}, 1, 10))) = substr({x}, 1, 10)) "
          "AND substr({x}, 12, 2) < '24' AND substr({x}, 15, 2) < '60' AND substr({x}, 18, 2) < '60'")
_D6 = "[0-9]" * 6
# The form the hub writes: first its usual case, where unixepoch() checks the digits of all but the
# fraction and what it would accept and Python would not (hour 24, a day past the month's) cannot
# occur (day <= 28, hour != 24); then digit by digit: one GLOB, then unixepoch() of the whole seconds.
_CANONICAL = ("[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]."
              f"{_D6}[+-][0-9][0-9]:[0-9][0-9]")
_US = f"""CASE
 WHEN {{x}} GLOB '????-??-??T??:??:??.{_D6}+??:??' AND substr({{x}}, 9, 5) < '29' AND substr({{x}}, 12, 2) != '24'
   THEN unixepoch(substr({{x}}, 1, 19) || substr({{x}}, 27)) * 1000000 + CAST(substr({{x}}, 21, 6) AS INTEGER)
 WHEN {{x}} GLOB '{_CANONICAL}' THEN CASE
   WHEN substr({{x}}, 12, 2) < '24'
        AND (substr({{x}}, 9, 2) <= '28' OR date(julianday(substr({{x}}, 1, 10))) = substr({{x}}, 1, 10))
   THEN unixepoch(substr({{x}}, 1, 19) || substr({{x}}, 27)) * 1000000 + CAST(substr({{x}}, 21, 6) AS INTEGER) END
 WHEN length({{x}}) = 32 AND substr({{x}}, 20, 1) = '.' AND substr({{x}}, 27, 1) IN ('+', '-')
      AND substr({{x}}, 21, 6) GLOB '{_D6}' AND {_VALID}
   THEN unixepoch(substr({{x}}, 1, 19) || substr({{x}}, 27)) * 1000000 + CAST(substr({{x}}, 21, 6) AS INTEGER)
 WHEN length({{x}}) = 25 AND substr({{x}}, 20, 1) IN ('+', '-') AND {_VALID}
   THEN unixepoch({{x}}) * 1000000
END"""


def _us(x: str) -> str:
    return _US.format(x=x)


# The rows a chunk folds: state changes and removals of entities, what each carries extracted.
# kind: 1 a state change, 0 an entity removed (the fold forgets the state).
# state: NULL for a state change without a new state (or an odd one, see below); attrs: the
# attributes as JSON text ('{...}' for an object). json_type() costs as much again as the extracts,
# so it is asked only of the few rows whose extracted values leave the JSON type open.
_EXTRACT = """
CREATE TEMP TABLE fold_src AS
SELECT entity_id, seq, time, type = 'state_changed' AS sc,
       CASE WHEN type = 'state_changed' THEN json_extract(data, '$.new_state.state') END AS state,
       CASE WHEN type = 'state_changed' THEN data -> '$.new_state.attributes' END AS attrs,
       CASE WHEN type = 'state_changed' THEN json_extract(data, '$.new_state.last_updated') END AS lu,
       CASE WHEN type = 'state_changed' THEN json_extract(data, '$.new_state.last_changed') END AS lc
FROM events
WHERE seq > :after AND seq <= :upto AND entity_id IS NOT NULL AND type IN ('state_changed', 'entity_removed')
"""

# Rows Python would fold differently from the SQL below (or not at all). A text state that starts
# like an object or an array, or no state, is looked up again: a new state is a string, or the whole
# new_state is null (or missing). (Flagging them as they are ordered was slower.)
# Comparisons, not function calls: json_extract() gives text, a number or NULL, a number sorts
# before any text (`x < ''`: not text and not NULL), and text that starts with '{' lies in ['{', '|').
_ODD_SOURCE = """
SELECT count(*) FROM fold_src WHERE sc AND (
    state < '' OR lu < '' OR lc < ''
    OR (attrs != 'null' AND NOT (attrs >= '{' AND attrs < '|'))
    OR ((state IS NULL OR (state >= '{' AND state < '|') OR (state >= '[' AND state < '\\')) AND (
        SELECT json_type(data, '$.new_state.state') IS NOT 'text'
               AND coalesce(json_type(data, '$.new_state'), 'null') != 'null'
        FROM events e WHERE e.seq = fold_src.seq)))
"""

# What `extract` hands `fold`, in the in-memory database fold_x: the chunk's rows ordered by entity
# (v: the state's number, NULL when it has none), the spans between two rows of an entity in the
# chunk (time in a non-numeric state), the seqs the registry and current states need that the chunk
# alone decides, and each entity's first and last row. What depends on the chunks before (the span
# and the seq at an entity's first row) `fold` adds from its carry: so chunks are extracted apart.
_TABLES = """
CREATE TABLE {x}.fold_rows (
    k INTEGER PRIMARY KEY, entity_id TEXT, seq INTEGER, kind INTEGER, state TEXT, attrs TEXT,
    t INTEGER, lc INTEGER, v REAL  -- lc NULL: last_changed is last_updated (t); -1: not in ISO 8601
);
CREATE TABLE {x}.fold_spans (entity_id TEXT, state TEXT, start INTEGER, stop INTEGER);
CREATE TABLE {x}.fold_seqs (seq INTEGER PRIMARY KEY);
CREATE TABLE {x}.fold_firsts (entity_id TEXT PRIMARY KEY, seq INTEGER, kind INTEGER, state TEXT, start INTEGER);
CREATE TABLE {x}.fold_lasts (entity_id TEXT PRIMARY KEY, seq INTEGER, kind INTEGER, state TEXT, start INTEGER,
                             num INTEGER)
"""

_ORDERED = f"""
INSERT INTO fold_x.fold_rows (entity_id, seq, kind, state, attrs, t, lc, v)
SELECT entity_id, seq, sc, state,
       CASE WHEN state IS NOT NULL THEN CASE WHEN attrs IS NULL OR attrs = 'null' THEN '{{}}' ELSE attrs END END,
       CASE WHEN state IS NOT NULL THEN coalesce({_us('lu')}, CASE WHEN lu IS NULL THEN time END) END,
       CASE WHEN state IS NULL OR lc IS lu THEN NULL
            ELSE coalesce({_us('lc')}, CASE WHEN lc IS NULL THEN time END, -1) END,
       CASE WHEN state < ':' THEN (SELECT v FROM fold_numbers n WHERE n.state = fold_src.state) END
FROM fold_src ORDER BY entity_id, seq
"""

# The spans within the chunk; the first rows of the entities (no row of theirs before in the
# chunk), with the seqs of the state changes after a row without a state (the fold registers an
# entity it does not know on its first state); the last rows, and the seqs of the last state changes.
_EDGES = """
INSERT INTO fold_x.fold_spans
SELECT entity_id, state, start, stop FROM (
    SELECT b.entity_id, a.state, coalesce(a.lc, a.t) AS start, coalesce(b.lc, b.t) AS stop
    FROM fold_x.fold_rows b JOIN fold_x.fold_rows a ON a.k = b.k - 1
    WHERE b.kind = 1 AND b.state IS NOT NULL AND a.entity_id = b.entity_id AND a.state IS NOT NULL
      AND a.state != b.state AND a.v IS NULL)
WHERE start < stop;
INSERT INTO fold_x.fold_firsts
SELECT b.entity_id, b.seq, b.kind, b.state, coalesce(b.lc, b.t)
FROM fold_x.fold_rows b LEFT JOIN fold_x.fold_rows a ON a.k = b.k - 1 WHERE a.entity_id IS NOT b.entity_id;
INSERT INTO fold_x.fold_seqs
SELECT b.seq FROM fold_x.fold_rows b JOIN fold_x.fold_rows a ON a.k = b.k - 1
WHERE b.kind = 1 AND b.state IS NOT NULL AND a.entity_id = b.entity_id AND a.state IS NULL;
INSERT INTO fold_x.fold_lasts
SELECT b.entity_id, b.seq, b.kind, b.state, coalesce(b.lc, b.t), b.v IS NOT NULL
FROM fold_x.fold_rows b LEFT JOIN fold_x.fold_rows n ON n.k = b.k + 1 WHERE n.entity_id IS NOT b.entity_id;
INSERT OR IGNORE INTO fold_x.fold_seqs SELECT seq FROM fold_x.fold_lasts WHERE kind = 1
"""

# Python's `t - t % FIVE_MIN` floors; SQLite's % truncates: the same for the times >= 0 kept here.
_WRITE = f"""
INSERT INTO history SELECT entity_id, t, seq, state, attrs, coalesce(lc, t) FROM fold_x.fold_rows
WHERE kind = 1 AND state IS NOT NULL;
INSERT INTO entity_events SELECT entity_id, seq FROM fold_x.fold_rows WHERE kind = 1 AND state IS NULL;

-- Each reading upserted into its bucket in the order of the rows (entity, then seq), as the live
-- fold adds them: `last` is the reading with the highest seq, and the sums add in the same order.
-- (Grouping the chunk first took a sort and a join back for `last`: slower at the log's usual density,
-- about one reading per entity and bucket, and no faster with dozens.)
INSERT INTO stats_5m SELECT entity_id, t - t % {FIVE_MIN}, v, v, v, 1, v
FROM fold_x.fold_rows WHERE kind = 1 AND v IS NOT NULL ORDER BY k
ON CONFLICT(entity_id, bucket) DO UPDATE SET min=min(min, excluded.min), max=max(max, excluded.max),
    sum=sum+excluded.sum, count=count+1, last=excluded.last;
INSERT INTO stats_hour SELECT entity_id, t - t % {HOUR}, v, v, v, 1, v
FROM fold_x.fold_rows WHERE kind = 1 AND v IS NOT NULL ORDER BY k
ON CONFLICT(entity_id, bucket) DO UPDATE SET min=min(min, excluded.min), max=max(max, excluded.max),
    sum=sum+excluded.sum, count=count+1, last=excluded.last;

-- An entity's first row in the chunk, after its last row of the chunks before (the carry).
INSERT INTO fold_x.fold_spans
SELECT f.entity_id, c.state, c.start, f.start FROM fold_x.fold_firsts f JOIN fold_carry c ON c.entity_id = f.entity_id
WHERE f.kind = 1 AND f.state IS NOT NULL AND c.state IS NOT NULL AND c.state != f.state AND NOT c.num
  AND c.start < f.start;
INSERT OR IGNORE INTO fold_subset SELECT seq FROM fold_x.fold_seqs;
INSERT OR IGNORE INTO fold_subset
SELECT f.seq FROM fold_x.fold_firsts f LEFT JOIN fold_carry c ON c.entity_id = f.entity_id
WHERE f.kind = 1 AND f.state IS NOT NULL AND c.state IS NULL;
INSERT OR REPLACE INTO fold_carry SELECT entity_id, seq, state, start, num FROM fold_x.fold_lasts
"""

# Time in a state, cut at the hours: one row per (span, hour it touches), each added to its hour as the
# live fold adds them (grouped first, the sort cost more than the upserts it saved).
_STATE_TIME = f"""
INSERT INTO state_time
SELECT entity_id, bucket, state, (min(stop, bucket + {HOUR}) - max(start, bucket)) / 1000000.0
FROM (SELECT s.entity_id, s.state, s.start, s.stop, s.start - s.start % {HOUR} + n.n * {HOUR} AS bucket
      FROM fold_x.fold_spans s JOIN fold_hours n
        ON n.n <= (s.stop - 1 - (s.stop - 1) % {HOUR} - (s.start - s.start % {HOUR})) / {HOUR})
WHERE true
ON CONFLICT(entity_id, bucket, state) DO UPDATE SET seconds=seconds+excluded.seconds
"""

_DROP = "DROP TABLE IF EXISTS temp.{}"
NUMBERS_KEPT = 200_000
_READER_TEMP = ("fold_src", "fold_numbers")
_WRITER_TEMP = ("fold_carry", "fold_hours", "fold_subset")


def attach_rows(raw: sqlite3.Connection, file: str = ":memory:") -> None:
    """Attach an empty fold_x with the tables `extract` fills (SQLite attaches within a transaction too):
    in memory, or a new file, written without a journal or syncs (a scratch copy)."""
    raw.execute("ATTACH DATABASE ? AS fold_x", (file,))
    if file != ":memory:":
        raw.execute("PRAGMA fold_x.journal_mode = OFF")
        raw.execute("PRAGMA fold_x.synchronous = OFF")
    for statement in _split(_TABLES.replace("{x}", "fold_x")):
        raw.execute(statement)


def clear_rows(raw: sqlite3.Connection) -> None:
    """Empty fold_x's tables for the next chunk (a database written in a transaction stays attached)."""
    for table in ("fold_rows", "fold_spans", "fold_seqs", "fold_firsts", "fold_lasts"):
        raw.execute(f"DELETE FROM fold_x.{table}")


def start_fold(raw: sqlite3.Connection) -> None:
    """The temp tables `fold` keeps from chunk to chunk, on the connection that writes (in its
    transaction): each entity's last row so far (state NULL: it had none), the hours a span may
    touch, and the seqs the registry and current states are folded from."""
    for name in _WRITER_TEMP:
        raw.execute(_DROP.format(name))
    raw.execute("CREATE TEMP TABLE fold_carry (entity_id TEXT PRIMARY KEY, seq INTEGER, state TEXT, start INTEGER, "
                "num INTEGER)")
    raw.execute("CREATE TEMP TABLE fold_subset (seq INTEGER PRIMARY KEY)")
    raw.execute("CREATE TEMP TABLE fold_hours (n INTEGER PRIMARY KEY)")


def extract(raw: sqlite3.Connection, after: int, upto: int, as_number: Callable[[str], float | None]) -> bool:
    """The first half of a chunk, which reads the log only: the rows after < seq <= upto, ordered by
    entity, and what the chunk alone decides, into the (empty) tables of fold_x. False when a
    row is not in the canonical shape: Python must fold the log instead."""
    raw.execute(_DROP.format("fold_src"))
    raw.execute(_EXTRACT, {"after": after, "upto": upto})
    if raw.execute(_ODD_SOURCE).fetchone()[0]:
        return False
    # The state strings that may be numbers (`as_number`: their first character is a digit, a sign
    # or a point, all below ':'), each with its number (NULL: none), kept from chunk to chunk
    # (sensors repeat their values), up to NUMBERS_KEPT.
    raw.execute("CREATE TEMP TABLE IF NOT EXISTS fold_numbers (state TEXT PRIMARY KEY, v REAL) WITHOUT ROWID")
    states = raw.execute("SELECT DISTINCT state FROM fold_src WHERE state < ':' "
                         "AND state NOT IN (SELECT state FROM fold_numbers)").fetchall()
    if states and raw.execute("SELECT count(*) FROM fold_numbers").fetchone()[0] + len(states) > NUMBERS_KEPT:
        raw.execute("DELETE FROM fold_numbers")
        states = raw.execute("SELECT DISTINCT state FROM fold_src WHERE state < ':'").fetchall()
    raw.executemany("INSERT INTO fold_numbers VALUES (?, ?)", [(s, as_number(s)) for (s,) in states])
    raw.execute(_ORDERED)
    if raw.execute("SELECT count(*) FROM fold_x.fold_rows WHERE kind = 1 AND state IS NOT NULL "
                   "AND (t IS NULL OR t < 0 OR lc < 0)").fetchone()[0]:
        return False
    for statement in _split(_EDGES):
        raw.execute(statement)
    return True


def fold(raw: sqlite3.Connection) -> None:
    """The second half, which writes: the chunk `extract` put in fold_x into history, entity_events,
    statistics and time-in-state, in the open transaction, and the seqs the registry and current
    states need into fold_subset."""
    for statement in _split(_WRITE):
        raw.execute(statement)
    longest = raw.execute(f"SELECT max((stop - 1 - (stop - 1) % {HOUR} - (start - start % {HOUR})) / {HOUR}) "
                          "FROM fold_x.fold_spans").fetchone()[0]
    have = raw.execute("SELECT coalesce(max(n), -1) FROM fold_hours").fetchone()[0]
    if longest is not None and longest > have:
        raw.executemany("INSERT INTO fold_hours VALUES (?)", ((n,) for n in range(have + 1, longest + 1)))
    raw.execute(_STATE_TIME)


def finish(raw: sqlite3.Connection) -> None:
    """Drop the rebuild's temp tables."""
    for name in (*_READER_TEMP, *_WRITER_TEMP):
        raw.execute(_DROP.format(name))


def _split(script: str) -> list[str]:
    return [s.strip() for s in script.split(";\n") if s.strip()]
