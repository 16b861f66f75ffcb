"""What only the PostgreSQL backend does: create its database, guard TRUNCATE, pg_dump, keep passwords out."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import asyncpg
import pytest

from hub.errors import StoreError
from hub.events import Event
from hub.log import open_log
from hub.store import EventFilter
from hub.store.pg_admin import pg_binary, redact
from hub.store.pg_cluster import scratch_database, with_database
from hub.store.postgres import PostgresBackend, _glob_regex


async def test_a_missing_database_is_created(pg_server: str) -> None:
    url = with_database(pg_server, "hub_created_" + str(id(pg_server) % 10_000))
    try:
        async with open_log(url) as log:
            assert (await log.append(Event("device_event", "demo"))).seq == 1
    finally:
        conn = await asyncpg.connect(pg_server)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
        finally:
            await conn.close()


async def test_hubs_starting_together_create_the_schema_once(pg_url: str) -> None:
    backends = [PostgresBackend(pg_url) for _ in range(4)]
    try:
        await asyncio.gather(*(b.open() for b in backends))
        assert {await b.head() for b in backends} == {0}
        assert await backends[0].integrity_problems() == []
    finally:
        for b in backends:
            await b.close()


async def test_truncate_is_refused_and_a_disabled_guard_or_a_gap_is_reported(pg_url: str) -> None:
    async with open_log(pg_url) as log:
        await log.append_many([Event("device_event", "demo", None, {"i": i}) for i in range(5)])
        conn = await asyncpg.connect(pg_url)
        try:
            with pytest.raises(asyncpg.PostgresError, match="append-only"):
                await conn.execute("TRUNCATE events")
            await conn.execute("ALTER TABLE events DISABLE TRIGGER events_no_delete")
            await conn.execute("DELETE FROM events WHERE seq = 3")
            problems = await log.backend.integrity_problems()
        finally:
            await conn.close()
        assert any("events_no_delete is disabled" in p for p in problems)
        assert any("not continuous" in p for p in problems)


async def test_a_backup_restores_into_another_database(pg_url: str, pg_server: str, tmp_path: Path) -> None:
    async with open_log(pg_url) as log:
        await log.report_state("sensor.a", "1", {}, source="demo")
        await log.append_many([Event("device_event", "demo", None, {"i": i}) for i in range(20)])
        await log.backend.backup(str(tmp_path / "hub.dump"))
        original = [e.to_dict() for e in await log.read(EventFilter())]
    async with scratch_database(pg_server) as restored:
        done = subprocess.run([pg_binary("pg_restore"), "--no-owner", f"--dbname={restored}",
                               str(tmp_path / "hub.dump")], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        async with open_log(restored) as log:
            assert [e.to_dict() for e in await log.read(EventFilter())] == original
            assert log.current_state("sensor.a") is not None
            assert await log.backend.integrity_problems() == []


async def test_errors_never_show_the_password() -> None:
    url = "postgresql://postgres:s3cret-pw@127.0.0.1:1/nosuchdb"  # nothing listens on port 1
    backend = PostgresBackend(url)
    with pytest.raises(StoreError) as info:
        await backend.open(create=False)
    assert "s3cret-pw" not in str(info.value) and "***" in str(info.value)
    assert redact(url) == "postgresql://postgres:***@127.0.0.1:1/nosuchdb"


@pytest.mark.parametrize(("glob", "regex"), [
    ("light.*", r"^light\..*$"), ("sensor.?emp", r"^sensor\..emp$"), ("[!l]*", "^[^l].*$"),
    ("a[b-c]d", "^a[b-c]d$"), ("[", r"^\[$"),
])
def test_globs_become_anchored_regular_expressions(glob: str, regex: str) -> None:
    assert _glob_regex(glob) == regex
