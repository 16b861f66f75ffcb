"""The SQLite schema, its version, and the migrations between versions."""

from __future__ import annotations

SCHEMA_VERSION = 3

# Version 1: the log, its append-only guards and the projections.
V1 = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    time INTEGER NOT NULL,
    type TEXT NOT NULL,
    source TEXT NOT NULL,
    entity_id TEXT,
    data TEXT NOT NULL,
    causation INTEGER,
    correlation TEXT
);
CREATE INDEX IF NOT EXISTS events_time ON events(time);
CREATE INDEX IF NOT EXISTS events_entity ON events(entity_id, seq) WHERE entity_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_type ON events(type, seq);
CREATE INDEX IF NOT EXISTS events_causation ON events(causation) WHERE causation IS NOT NULL;
CREATE TABLE IF NOT EXISTS retention_gate (upto INTEGER NOT NULL);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only: rows are never updated'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
WHEN NOT EXISTS (SELECT 1 FROM retention_gate WHERE OLD.seq <= upto)
BEGIN SELECT RAISE(ABORT, 'the event log is append-only: rows are deleted only by retention'); END;

CREATE TABLE IF NOT EXISTS projection_position (name TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS states (
    entity_id TEXT PRIMARY KEY, state TEXT NOT NULL, attributes TEXT NOT NULL,
    last_changed INTEGER NOT NULL, last_updated INTEGER NOT NULL, seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS history (
    entity_id TEXT NOT NULL, time INTEGER NOT NULL, seq INTEGER NOT NULL,
    state TEXT NOT NULL, attributes TEXT NOT NULL, last_changed INTEGER NOT NULL,
    PRIMARY KEY (entity_id, time, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stats_5m (
    entity_id TEXT NOT NULL, bucket INTEGER NOT NULL, min REAL, max REAL, sum REAL,
    count INTEGER, last REAL, PRIMARY KEY (entity_id, bucket)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stats_hour (
    entity_id TEXT NOT NULL, bucket INTEGER NOT NULL, min REAL, max REAL, sum REAL,
    count INTEGER, last REAL, PRIMARY KEY (entity_id, bucket)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state_time (
    entity_id TEXT NOT NULL, bucket INTEGER NOT NULL, state TEXT NOT NULL, seconds REAL NOT NULL,
    PRIMARY KEY (entity_id, bucket, state)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS entities (
    entity_id TEXT PRIMARY KEY, integration TEXT, name TEXT, area TEXT, device_id TEXT,
    domain TEXT NOT NULL, info TEXT NOT NULL, seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY, integration TEXT, name TEXT, area TEXT, info TEXT NOT NULL
);
"""

PROJECTION_TABLES = ("states", "history", "stats_5m", "stats_hour", "state_time", "entities", "devices",
                     "entity_events")

# Migrations: MIGRATIONS[n] takes a database at version n to n + 1.
MIGRATIONS: dict[int, str] = {
    # Version 2: `query_events` by source pages newest-first without scanning the log.
    1: "CREATE INDEX IF NOT EXISTS events_source ON events(source, seq);",
    # Version 3: state changes, the bulk of the log, leave the entity and type indexes. A state
    # change is found by entity through the history projection, which is clustered by entity already
    # (or, for one without a new state, through entity_events). A state change appended then
    # updates two indexes fewer, the one that touched a page per entity among them.
    2: """
DROP INDEX IF EXISTS events_entity;
CREATE INDEX events_entity ON events(entity_id, seq) WHERE entity_id IS NOT NULL AND type != 'state_changed';
DROP INDEX IF EXISTS events_type;
CREATE INDEX events_type ON events(type, seq) WHERE type != 'state_changed';
CREATE TABLE IF NOT EXISTS entity_events (
    entity_id TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (entity_id, seq)
) WITHOUT ROWID;
""",
}
