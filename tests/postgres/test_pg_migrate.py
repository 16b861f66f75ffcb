"""`hub migrate`: an SQLite log copied into PostgreSQL, resumable and verified."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import pytest

from hub import events as ev
from hub.errors import StoreError
from hub.events import Event
from hub.log import open_log
from hub.migrate import migrate
from hub.store import Backend, EventFilter

T0 = 1_704_067_200_000_000
MIN = 60_000_000


async def fill(path: str, minutes: int = 300, *, retention: bool = True) -> None:
    """A log with states, registrations, device events, and a retention pass that left gaps."""
    async with open_log(path) as log:
        await log.append(Event(ev.ENTITY_REGISTERED, "demo", "light.porch",
                               {"integration": "demo", "name": "Porch", "device": {"id": "lamp", "name": "Lamp"}}))
        for i in range(minutes):
            t = T0 + i * MIN
            await log.report_state("sensor.power", str(100 + i % 13), {"unit": "W"}, source="demo", time=t)
            if i % 10 == 0:
                await log.report_state("light.porch", "on" if i % 20 else "off", {"ü": i}, source="demo", time=t)
                await log.append(Event("device_event", "demo", None, {"i": i, "text": "a\u0000b"}, time=t))
        if retention:
            await log.backend.apply_retention({"sensor.power": T0 + 60 * MIN}, T0 + 60 * MIN)


async def answers(backend: Backend) -> dict[str, Any]:
    return {
        "states": sorted((s.entity_id, s.state, s.attributes, s.last_updated) for s in await backend.load_states()),
        "registry": await backend.load_registry(),
        "devices": await backend.devices(),
        "history": [(s.state, s.last_updated) for s in await backend.history("sensor.power", 0, 2**62)],
        "hours": await backend.statistics("sensor.power", 0, 2**62, "hour"),
        "fives": await backend.statistics("sensor.power", 0, 2**62, "5m"),
        "state_time": await backend.state_time("light.porch", 0, 2**62),
        "events": [e.to_dict() for e in await backend.read(EventFilter(limit=100_000))],
        "positions": await backend.positions(),
    }


async def test_migration_copies_the_log_and_its_projections(tmp_path: Path, pg_url: str) -> None:
    source = str(tmp_path / "hub.db")
    await fill(source)
    async with open_log(source) as log:
        before = await answers(log.backend)
    seen: list[tuple[int, int]] = []
    report = await migrate(source, pg_url, batch_size=64, progress=lambda done, total: seen.append((done, total)))
    assert report.events == len(before["events"]) == report.copied and report.resumed_at == 0
    assert seen[-1] == (report.events, report.events) and len(seen) == -(-report.events // 64)
    assert len(report.checksum) == 64 and report.tables["stats_hour"] == len(before["hours"])
    async with open_log(pg_url) as log:
        assert await answers(log.backend) == before  # statistics of dropped events came along
        assert await log.backend.integrity_problems() == []
        head = await log.backend.head()
        assert (await log.append(Event("device_event", "demo"))).seq == head + 1


async def test_an_interrupted_migration_resumes_without_duplicates(tmp_path: Path, pg_url: str) -> None:
    source = str(tmp_path / "hub.db")
    await fill(source, retention=False)

    class Interrupted(Exception):
        pass

    def stop_after_two(done: int, total: int) -> None:
        if done >= 100:
            raise Interrupted

    with pytest.raises(Interrupted):
        await migrate(source, pg_url, batch_size=50, progress=stop_after_two)
    report = await migrate(source, pg_url, batch_size=50)
    assert report.resumed_at == 100 and report.copied == report.events - 100
    again = await migrate(source, pg_url)  # nothing left to copy; verified again
    assert again.copied == 0 and again.checksum == report.checksum
    async with open_log(source) as log:  # the SQLite hub kept running: a later run copies the tail
        await log.append_many([Event("device_event", "demo", None, {"late": i}) for i in range(7)])
    tail = await migrate(source, pg_url)
    assert tail.copied == 7 and tail.events == report.events + 7 and tail.checksum != report.checksum


async def test_a_target_holding_another_log_is_refused(tmp_path: Path, pg_url: str) -> None:
    first, second = str(tmp_path / "a.db"), str(tmp_path / "b.db")
    await fill(first, minutes=30, retention=False)
    await fill(second, minutes=40, retention=False)
    await migrate(first, pg_url)
    with pytest.raises(StoreError, match="different log"):
        await migrate(second, pg_url)
    async with open_log(pg_url) as log:  # a hub ran on the target and went past the source
        await log.append(Event("device_event", "demo"))
    with pytest.raises(StoreError, match="ahead of the source"):
        await migrate(first, pg_url)


async def test_verification_detects_a_changed_event(tmp_path: Path, pg_url: str) -> None:
    source = str(tmp_path / "hub.db")
    await fill(source, minutes=20, retention=False)
    await migrate(source, pg_url)
    conn = await asyncpg.connect(pg_url)  # a superuser bypasses the guard on purpose
    try:
        await conn.execute("ALTER TABLE events DISABLE TRIGGER events_no_update")
        await conn.execute("""UPDATE events SET data = '{"tampered":true}' WHERE seq = 5""")
        await conn.execute("ALTER TABLE events ENABLE TRIGGER events_no_update")
    finally:
        await conn.close()
    with pytest.raises(StoreError, match="checksums differ"):
        await migrate(source, pg_url)


async def test_a_missing_or_foreign_source_is_refused(tmp_path: Path, pg_url: str) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        await migrate(str(tmp_path / "nope.db"), pg_url)
    other = tmp_path / "other.db"
    other.write_bytes(b"")
    with pytest.raises(StoreError, match="not a hub log"):
        await migrate(str(other), pg_url)
