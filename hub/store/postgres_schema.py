"""The PostgreSQL schema, its version, and the migrations between versions.

Same tables as SQLite's, with two additions that PostgreSQL needs:

- `log_head`, one row holding the highest seq. A writer locks it (`FOR UPDATE`)
  for the length of its transaction, so seqs are assigned and committed in one
  order and every reader sees a gap-free prefix of the log.
- `events.data` is `json` (kept verbatim, queryable with `->>` from elsewhere).

Text keys use the "C" collation: bytewise order as in SQLite, and LIKE prefix
queries (`light.%`) can use the indexes whatever the database's locale.
"""

from __future__ import annotations

SCHEMA_VERSION = 2

NOTIFY_CHANNEL = "hub_events"

# Version 1: the log, its append-only guards and the projections.
V1 = """
CREATE TABLE IF NOT EXISTS meta (key text COLLATE "C" PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS log_head (one boolean PRIMARY KEY DEFAULT true CHECK (one), seq bigint NOT NULL);
INSERT INTO log_head (one, seq) VALUES (true, 0) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS events (
    seq bigint PRIMARY KEY,
    id text COLLATE "C" NOT NULL UNIQUE,
    time bigint NOT NULL,
    type text COLLATE "C" NOT NULL,
    source text COLLATE "C" NOT NULL,
    entity_id text COLLATE "C",
    data json NOT NULL,
    causation bigint,
    correlation text COLLATE "C"
);
CREATE INDEX IF NOT EXISTS events_time ON events(time);
CREATE INDEX IF NOT EXISTS events_entity ON events(entity_id, seq) WHERE entity_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_type ON events(type, seq);
CREATE INDEX IF NOT EXISTS events_causation ON events(causation) WHERE causation IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_correlation ON events(correlation) WHERE correlation IS NOT NULL;

CREATE OR REPLACE FUNCTION hub_events_no_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the event log is append-only: rows are never updated' USING ERRCODE = 'restrict_violation';
END $$;
CREATE OR REPLACE FUNCTION hub_events_no_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.seq <= COALESCE(NULLIF(current_setting('hub.retention_upto', true), '')::bigint, 0) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'the event log is append-only: rows are deleted only by retention'
        USING ERRCODE = 'restrict_violation';
END $$;
CREATE OR REPLACE FUNCTION hub_events_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the event log is append-only: it is never truncated' USING ERRCODE = 'restrict_violation';
END $$;
DROP TRIGGER IF EXISTS events_no_update ON events;
CREATE TRIGGER events_no_update BEFORE UPDATE ON events FOR EACH ROW EXECUTE FUNCTION hub_events_no_update();
DROP TRIGGER IF EXISTS events_no_delete ON events;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events FOR EACH ROW EXECUTE FUNCTION hub_events_no_delete();
DROP TRIGGER IF EXISTS events_no_truncate ON events;
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events FOR EACH STATEMENT
    EXECUTE FUNCTION hub_events_no_truncate();

CREATE TABLE IF NOT EXISTS projection_position (name text COLLATE "C" PRIMARY KEY, seq bigint NOT NULL);
CREATE TABLE IF NOT EXISTS states (
    entity_id text COLLATE "C" PRIMARY KEY, state text NOT NULL, attributes text NOT NULL,
    last_changed bigint NOT NULL, last_updated bigint NOT NULL, seq bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS history (
    entity_id text COLLATE "C" NOT NULL, time bigint NOT NULL, seq bigint NOT NULL,
    state text NOT NULL, attributes text NOT NULL, last_changed bigint NOT NULL,
    PRIMARY KEY (entity_id, time, seq)
);
CREATE TABLE IF NOT EXISTS stats_5m (
    entity_id text COLLATE "C" NOT NULL, bucket bigint NOT NULL, min double precision, max double precision,
    sum double precision, count bigint, last double precision, PRIMARY KEY (entity_id, bucket)
);
CREATE TABLE IF NOT EXISTS stats_hour (
    entity_id text COLLATE "C" NOT NULL, bucket bigint NOT NULL, min double precision, max double precision,
    sum double precision, count bigint, last double precision, PRIMARY KEY (entity_id, bucket)
);
CREATE TABLE IF NOT EXISTS state_time (
    entity_id text COLLATE "C" NOT NULL, bucket bigint NOT NULL, state text COLLATE "C" NOT NULL,
    seconds double precision NOT NULL, PRIMARY KEY (entity_id, bucket, state)
);
CREATE TABLE IF NOT EXISTS entities (
    entity_id text COLLATE "C" PRIMARY KEY, integration text, name text, area text, device_id text,
    domain text NOT NULL, info text NOT NULL, seq bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS devices (
    device_id text COLLATE "C" PRIMARY KEY, integration text, name text, area text, info text NOT NULL
);
"""

GUARDS = ("events_no_update", "events_no_delete", "events_no_truncate")

PROJECTION_TABLES = ("states", "history", "stats_5m", "stats_hour", "state_time", "entities", "devices")

# Column names and PostgreSQL types of each projection table, in order (for unnest and COPY).
PROJECTION_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "states": (("entity_id", "text"), ("state", "text"), ("attributes", "text"), ("last_changed", "bigint"),
               ("last_updated", "bigint"), ("seq", "bigint")),
    "history": (("entity_id", "text"), ("time", "bigint"), ("seq", "bigint"), ("state", "text"),
                ("attributes", "text"), ("last_changed", "bigint")),
    "stats_5m": (("entity_id", "text"), ("bucket", "bigint"), ("min", "float8"), ("max", "float8"),
                 ("sum", "float8"), ("count", "bigint"), ("last", "float8")),
    "stats_hour": (("entity_id", "text"), ("bucket", "bigint"), ("min", "float8"), ("max", "float8"),
                   ("sum", "float8"), ("count", "bigint"), ("last", "float8")),
    "state_time": (("entity_id", "text"), ("bucket", "bigint"), ("state", "text"), ("seconds", "float8")),
    "entities": (("entity_id", "text"), ("integration", "text"), ("name", "text"), ("area", "text"),
                 ("device_id", "text"), ("domain", "text"), ("info", "text"), ("seq", "bigint")),
    "devices": (("device_id", "text"), ("integration", "text"), ("name", "text"), ("area", "text"),
                ("info", "text")),
}

# Migrations: MIGRATIONS[n] takes a database at version n to n + 1.
MIGRATIONS: dict[int, str] = {
    # Version 2: `query_events` by source pages newest-first without scanning the log.
    1: "CREATE INDEX IF NOT EXISTS events_source ON events(source, seq);",
}
