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

A chunk is folded in two halves: `extract` reads the log only and leaves the chunk's rows, ordered
by entity, in fold_x.fold_rows (an attached in-memory database); `fold` writes the projections from
them. `hub.store.sqlite_extract` runs the first half in a process of its own, for the chunks ahead,
while the writer runs the second, and hands the rows over as a serialized database.

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
          "AND (substr({x}, 9, 2) <= '28' OR date(substr({x}, 1, 10)) = substr({x}, 1, 10)) "
          "AND substr({x}, 12, 2) < '24' AND substr({x}, 15, 2) < '60' AND substr({x}, 18, 2) < '60'")
_D6 = "[0-9]" * 6
# The form the hub writes with a fraction, digit by digit: one GLOB, then unixepoch() of the whole seconds.
_CANONICAL = ("[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]."
              f"{_D6}[+-][0-9][0-9]:[0-9][0-9]")
_US = f"""CASE
 WHEN {{x}} GLOB '{_CANONICAL}' THEN CASE
   WHEN substr({{x}}, 12, 2) < '24'
        AND (substr({{x}}, 9, 2) <= '28' OR date(substr({{x}}, 1, 10)) = substr({{x}}, 1, 10))
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
# kind: 1 a state change, 0 an entity removed (the fold forgets the state), 2 an entity's last
# row of the chunks before (what it "was" when this chunk starts).
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
# new_state is null (or missing).
_ODD_SOURCE = """
SELECT count(*) FROM fold_src WHERE sc AND (
    typeof(state) NOT IN ('text', 'null') OR typeof(lu) NOT IN ('text', 'null') OR typeof(lc) NOT IN ('text', 'null')
    OR (attrs IS NOT NULL AND attrs != 'null' AND substr(attrs, 1, 1) != '{')
    OR ((state IS NULL OR substr(state, 1, 1) IN ('{', '[')) AND (
        SELECT json_type(data, '$.new_state.state') IS NOT 'text'
               AND coalesce(json_type(data, '$.new_state'), 'null') != 'null'
        FROM events e WHERE e.seq = fold_src.seq)))
"""

_ROWS = """
CREATE TABLE {x}.fold_rows (
    k INTEGER PRIMARY KEY, entity_id TEXT, seq INTEGER, kind INTEGER, state TEXT, attrs TEXT,
    t INTEGER, lc INTEGER  -- lc NULL: last_changed is last_updated (t); -1: not in ISO 8601
)
"""

_ORDERED = f"""
INSERT INTO {{rows}} (entity_id, seq, kind, state, attrs, t, lc)
SELECT * FROM (
    SELECT entity_id, seq, 2, state, NULL, NULL, lc FROM fold_carry
    UNION ALL
    SELECT entity_id, seq, sc, state,
           CASE WHEN state IS NOT NULL THEN CASE WHEN attrs IS NULL OR attrs = 'null' THEN '{{}}' ELSE attrs END END,
           CASE WHEN state IS NOT NULL THEN coalesce({_us('lu')}, CASE WHEN lu IS NULL THEN time END) END,
           CASE WHEN state IS NULL OR lc IS lu THEN NULL
                ELSE coalesce({_us('lc')}, CASE WHEN lc IS NULL THEN time END, -1) END
    FROM fold_src
) ORDER BY entity_id, seq
"""

# Python's `t - t % FIVE_MIN` floors; SQLite's % truncates: the same for the times >= 0 kept here.
_WRITE = f"""
INSERT INTO history SELECT entity_id, t, seq, state, attrs, coalesce(lc, t) FROM {{rows}}
WHERE kind = 1 AND state IS NOT NULL;
INSERT INTO entity_events SELECT entity_id, seq FROM {{rows}} WHERE kind = 1 AND state IS NULL;

-- Each reading upserted into its bucket in the order of the rows (entity, then seq), as the live
-- fold adds them: `last` is the reading with the highest seq, and the sums add in the same order.
-- (Grouping the chunk first took a sort and a join back for `last`: slower at the log's usual density,
-- about one reading per entity and bucket, and no faster with dozens.)
INSERT INTO stats_5m SELECT r.entity_id, r.t - r.t % {FIVE_MIN}, n.v, n.v, n.v, 1, n.v
FROM {{rows}} r CROSS JOIN fold_numbers n ON n.state = r.state WHERE r.kind = 1 ORDER BY r.k
ON CONFLICT(entity_id, bucket) DO UPDATE SET min=min(min, excluded.min), max=max(max, excluded.max),
    sum=sum+excluded.sum, count=count+1, last=excluded.last;
INSERT INTO stats_hour SELECT r.entity_id, r.t - r.t % {HOUR}, n.v, n.v, n.v, 1, n.v
FROM {{rows}} r CROSS JOIN fold_numbers n ON n.state = r.state WHERE r.kind = 1 ORDER BY r.k
ON CONFLICT(entity_id, bucket) DO UPDATE SET min=min(min, excluded.min), max=max(max, excluded.max),
    sum=sum+excluded.sum, count=count+1, last=excluded.last;

CREATE TEMP TABLE fold_spans AS
SELECT entity_id, state, start, stop FROM (
    SELECT b.entity_id, a.state, coalesce(a.lc, a.t) AS start, coalesce(b.lc, b.t) AS stop
    FROM {{rows}} b JOIN {{rows}} a ON a.k = b.k - 1
    WHERE b.kind = 1 AND b.state IS NOT NULL AND a.entity_id = b.entity_id AND a.state IS NOT NULL
      AND a.state != b.state AND a.state NOT IN (SELECT state FROM fold_numbers))
WHERE start < stop;
"""

# Time in a state, cut at the hours: one row per (span, hour it touches), each added to its hour as the
# live fold adds them (grouped first, the sort cost more than the upserts it saved).
_STATE_TIME = f"""
INSERT INTO state_time
SELECT entity_id, bucket, state, (min(stop, bucket + {HOUR}) - max(start, bucket)) / 1000000.0
FROM (SELECT s.entity_id, s.state, s.start, s.stop, s.start - s.start % {HOUR} + n.n * {HOUR} AS bucket
      FROM fold_spans s JOIN fold_hours n
        ON n.n <= (s.stop - 1 - (s.stop - 1) % {HOUR} - (s.start - s.start % {HOUR})) / {HOUR})
WHERE true
ON CONFLICT(entity_id, bucket, state) DO UPDATE SET seconds=seconds+excluded.seconds
"""

_CARRY = """
DELETE FROM fold_carry;
INSERT INTO fold_carry SELECT entity_id, seq, state, coalesce(lc, t) FROM {rows}
WHERE k IN (SELECT max(k) FROM {rows} GROUP BY entity_id);
"""

# The state changes the registry and the current states depend on: an entity's first state after
# it had none (the fold registers an entity it does not know on its first state) and each entity's
# last row. With every registration and removal, `Fold` folds these to the same registry and states.
_SUBSET = """
SELECT b.seq FROM {rows} b LEFT JOIN {rows} a ON a.k = b.k - 1 AND a.entity_id = b.entity_id
WHERE b.kind = 1 AND b.state IS NOT NULL AND a.state IS NULL
UNION
SELECT seq FROM {rows} WHERE kind = 1 AND k IN (SELECT max(k) FROM {rows} GROUP BY entity_id)
"""

_DROP = "DROP TABLE IF EXISTS temp.{}"
_READER_TEMP = ("fold_src", "fold_carry")
_WRITER_TEMP = ("fold_numbers", "fold_spans", "fold_hours", "fold_subset")


ROWS = "fold_x.fold_rows"  # a chunk's ordered rows, in an in-memory database attached as fold_x


def attach_rows(raw: sqlite3.Connection) -> None:
    """Attach an empty fold_x with its fold_rows table (SQLite attaches within a transaction too)."""
    raw.execute("ATTACH DATABASE ':memory:' AS fold_x")
    raw.execute(_ROWS.replace("{x}", "fold_x"))


def start_extract(raw: sqlite3.Connection) -> None:
    """The temp table `extract` carries each entity's last row in, from chunk to chunk."""
    raw.execute(_DROP.format("fold_carry"))
    raw.execute("CREATE TEMP TABLE fold_carry (entity_id TEXT PRIMARY KEY, seq INTEGER, state TEXT, lc INTEGER)")


def start_fold(raw: sqlite3.Connection) -> None:
    """The temp tables `fold` keeps from chunk to chunk, on the connection that writes (in its transaction)."""
    for name in _WRITER_TEMP:
        raw.execute(_DROP.format(name))
    raw.execute("CREATE TEMP TABLE fold_subset (seq INTEGER PRIMARY KEY)")
    raw.execute("CREATE TEMP TABLE fold_hours (n INTEGER PRIMARY KEY)")


def extract(raw: sqlite3.Connection, rows: str, after: int, upto: int) -> bool:
    """The first half of a chunk, which reads the log only: the rows after < seq <= upto, ordered by
    entity, with each entity's last row before them, into the (empty) table `rows`. False when a
    row is not in the canonical shape: Python must fold the log instead."""
    raw.execute(_DROP.format("fold_src"))
    raw.execute(f"DELETE FROM {rows}")
    raw.execute(_EXTRACT, {"after": after, "upto": upto})
    if raw.execute(_ODD_SOURCE).fetchone()[0]:
        return False
    for statement in _split(_ORDERED.replace("{rows}", rows)):
        raw.execute(statement)
    if raw.execute(f"SELECT count(*) FROM {rows} WHERE kind = 1 AND state IS NOT NULL "
                   "AND (t IS NULL OR t < 0 OR lc < 0)").fetchone()[0]:
        return False
    for statement in _split(_CARRY.replace("{rows}", rows)):
        raw.execute(statement)
    return True


def fold(raw: sqlite3.Connection, rows: str, as_number: Callable[[str], float | None]) -> None:
    """The second half, which writes: the chunk `extract` put in `rows` into history, entity_events, statistics and
    time-in-state, in the open transaction, and the seqs `_SUBSET` picks into fold_subset."""
    for name in ("fold_numbers", "fold_spans"):
        raw.execute(_DROP.format(name))
    raw.execute("CREATE TEMP TABLE fold_numbers (state TEXT PRIMARY KEY, v REAL) WITHOUT ROWID")
    states = raw.execute(f"SELECT DISTINCT state FROM {rows} WHERE state IS NOT NULL").fetchall()
    numbers = [(s, v) for (s,) in states if (v := as_number(s)) is not None]
    raw.executemany("INSERT INTO fold_numbers VALUES (?, ?)", numbers)
    for statement in _split(_WRITE.replace("{rows}", rows)):
        raw.execute(statement)
    longest = raw.execute(f"SELECT max((stop - 1 - (stop - 1) % {HOUR} - (start - start % {HOUR})) / {HOUR}) "
                          "FROM fold_spans").fetchone()[0]
    have = raw.execute("SELECT coalesce(max(n), -1) FROM fold_hours").fetchone()[0]
    if longest is not None and longest > have:
        raw.executemany("INSERT INTO fold_hours VALUES (?)", ((n,) for n in range(have + 1, longest + 1)))
    raw.execute(_STATE_TIME)
    raw.execute(f"INSERT OR IGNORE INTO fold_subset {_SUBSET.replace('{rows}', rows)}")


def finish(raw: sqlite3.Connection) -> None:
    """Drop the rebuild's temp tables."""
    for name in (*_READER_TEMP, *_WRITER_TEMP):
        raw.execute(_DROP.format(name))


def _split(script: str) -> list[str]:
    return [s.strip() for s in script.split(";\n") if s.strip()]
