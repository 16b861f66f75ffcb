"""Reading the log by type or source within a time window (SQLite). SQLite keeps no statistics of how
events spread over time, and used to answer "MQTT messages of the last hour" by walking the type's
index through every MQTT message ever logged (a second on a 10M-event log): a window that holds
fewer events than the type (or source) is now read through the time index. Same answers either way."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.events import Event
from hub.log import open_log
from hub.store import EventFilter, reads
from hub.store.sqlite import SqliteBackend

HOUR = 3_600_000_000
NOW = 1_800_000_000_000_000


async def fill(path: str) -> None:
    async with open_log(path, synchronous="normal") as log:
        old = [Event("mqtt_message", "mqtt", None, {"topic": f"t/{i % 5}", "payload": str(i)}, time=NOW - 100 * HOUR + i)
               for i in range(300)]
        recent = [Event("mqtt_message", "mqtt", None, {"topic": "t/new", "payload": str(i)}, time=NOW - HOUR // 2 + i)
                  for i in range(3)]
        others = [Event("device_event", "ring", "event.door", {"n": i}, time=NOW - HOUR // 4 + i) for i in range(40)]
        await log.append_many(old + recent + others, supplied_ids=False)


@pytest.fixture
async def backend(tmp_path: Path) -> SqliteBackend:
    path = str(tmp_path / "hub.db")
    await fill(path)
    store = SqliteBackend(path)
    await store.open(create=False)
    yield store  # type: ignore[misc]
    await store.close()


FILTERS = [
    EventFilter(types=("mqtt_message",), since=NOW - HOUR, until=NOW, descending=True, limit=100),
    EventFilter(types=("mqtt_message", "device_event"), since=NOW - HOUR, limit=10),
    EventFilter(source="ring", since=NOW - HOUR, until=NOW, descending=True, limit=5),
    EventFilter(types=("mqtt_message",), since=NOW - 200 * HOUR, until=NOW - 99 * HOUR, limit=1000),
    EventFilter(types=("device_event",), until=NOW - HOUR),
]


async def test_a_narrow_window_reads_the_same_events_through_the_time_index(backend: SqliteBackend,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    probed = [[e.seq for e in await backend.read(f)] for f in FILTERS]
    counted = [await backend.count(f) for f in FILTERS]
    # Windows of 43, 43, 43, 300 and 300 events; the types and source hold 303 MQTT messages, 343 with
    # the device events, 40 events from ring, 303, and 40 device events.
    assert [await backend._by_time(f) for f in FILTERS] == [True, True, False, True, False]
    monkeypatch.setattr(SqliteBackend, "time_index_hint", "")
    assert probed == [[e.seq for e in await backend.read(f)] for f in FILTERS]
    assert counted == [await backend.count(f) for f in FILTERS]
    assert [len(p) for p in probed] == [3, 10, 5, 300, 0]


async def test_a_window_larger_than_the_probe_is_left_to_the_planner(backend: SqliteBackend,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reads, "TIME_PROBE", 40)
    assert [await backend._by_time(f) for f in FILTERS] == [False, False, False, False, False]


async def test_the_hint_makes_the_time_index_lead(backend: SqliteBackend) -> None:
    flt = FILTERS[0]
    where, params = backend._where(flt)

    async def plan(hint: str) -> str:
        rows = await backend._rows(f"EXPLAIN QUERY PLAN SELECT seq FROM events{hint}{where} ORDER BY seq DESC "
                                   "LIMIT 5", *params)
        return " ".join(str(r[-1]) for r in rows)

    # Without the hint this SQLite (3.40) walks the type's index instead; a later one may choose
    # otherwise, so only the hint's effect is asserted.
    assert "events_time" in await plan(backend.time_index_hint)
