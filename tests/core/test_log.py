"""The event log: row shape, seq, idempotency, append-only guard, state reports, group commit,
backpressure, and what happens when the database refuses writes."""

from __future__ import annotations

import asyncio
import datetime
import sqlite3
from pathlib import Path

import pytest

from hub import events as ev
from hub.errors import InputRejected, StoreError
from hub.events import Event
from hub.log import EventLog, open_log
from hub.store import EventFilter
from hub.times import parse_time_us


async def test_seq_is_gap_free_and_rows_have_the_spec_shape(hub_log: EventLog) -> None:
    stored = await hub_log.append_many([Event("device_event", "demo", "event.bell", {"n": i}) for i in range(50)])
    assert [e.seq for e in stored] == list(range(1, 51))
    row = (await hub_log.read(EventFilter(after=9, limit=1)))[0]
    assert row.seq == 10 and row.type == "device_event" and row.source == "demo"
    assert row.entity_id == "event.bell" and row.data == {"n": 9} and isinstance(row.time, int)
    assert row.to_dict()["time"].endswith("+00:00")


async def test_same_id_is_stored_once_and_returns_the_stored_event(hub_log: EventLog) -> None:
    first = await hub_log.append(Event("device_event", "ring", "event.door", {"v": 1}, id="ring:ding:42"))
    again = await hub_log.append(Event("device_event", "ring", "event.door", {"v": 2}, id="ring:ding:42"))
    both = await hub_log.append_many([Event("x_y", "s", id="dup"), Event("x_y", "s", id="dup")])
    assert again.seq == first.seq and again.data == {"v": 1}
    assert both[0].seq == both[1].seq
    assert await hub_log.backend.count(EventFilter()) == 2


async def test_invalid_events_are_refused_before_the_log(hub_log: EventLog) -> None:
    with pytest.raises(InputRejected, match="snake_case"):
        await hub_log.append(Event("hub.events.Thing", "s"))
    with pytest.raises(InputRejected, match="entity_id"):
        await hub_log.append(Event("device_event", "s", "Light.Porch"))
    with pytest.raises(InputRejected, match="JSON object"):
        await hub_log.append(Event("device_event", "s", None, ["not", "a", "dict"]))  # type: ignore[arg-type]
    # Valid ones are remembered: a look-alike of one is still refused, a trailing newline too
    # (a regular expression's `$` would let it through), and so is a type that is no string.
    await hub_log.append(Event("device_event", "s", "light.porch"))
    for etype, entity_id in (("device_event", "light.porch\n"), ("device_event\n", "light.porch"),
                             (["device_event"], "light.porch"), ("device_event", ["light.porch"])):
        with pytest.raises(InputRejected):
            await hub_log.append(Event(etype, "s", entity_id))  # type: ignore[arg-type]
    assert hub_log.head == 1


async def test_a_state_change_the_fold_cannot_read_is_refused_and_the_log_goes_on(hub_log: EventLog) -> None:
    # Folded, such a new_state would raise inside the writer and stop the log.
    for new_state, reason in (
            ({"state": "on", "last_updated": "2026-02-30T12:00:00.000000+00:00"}, r"last_updated .*\(day is out of range"),
            ({"state": "on", "last_changed": "yesterday"}, "last_changed .* not an ISO 8601 time"),
            ({"state": "on", "last_updated": 1767225600}, "last_updated must be ISO 8601 text, not int"),
            (["on"], "new_state must be an object or null, not list")):
        with pytest.raises(InputRejected, match=reason):
            await hub_log.append(Event("state_changed", "s", "light.x", {"old_state": None, "new_state": new_state}))
    stored = await hub_log.append(Event("state_changed", "s", "light.x", {"old_state": None, "new_state": {
        "state": "on", "attributes": {}, "last_updated": "2026-02-28T12:00:00+01:00"}}))
    assert stored.seq == hub_log.head == 1
    assert hub_log.fold.get("light.x").last_updated == parse_time_us("2026-02-28T11:00:00Z")


async def test_data_that_is_not_json_is_refused_and_the_log_goes_on(hub_log: EventLog) -> None:
    # An integration's bug (a set, bytes, an object) would otherwise raise where the writer encodes
    # the row, and stop the log. (A date is JSON to orjson: its ISO text.)
    for data in ({"x": {1, 2}}, {"x": b"\x00"}, {"x": object()}):
        with pytest.raises(InputRejected, match="event data is not JSON"):
            await hub_log.append(Event("device_event", "s", "light.x", data))
        with pytest.raises(InputRejected, match="attributes of light.x are not JSON"):
            await hub_log.report_state("light.x", "on", data, source="s")
        assert hub_log.submit_state("light.x", "on", {"ok": True}, source="s") is not None
    stored = await hub_log.append(Event("device_event", "s", "light.x", {"x": datetime.date(2026, 1, 1), 3: "three"}))
    assert stored.seq == hub_log.head
    [row] = await hub_log.read(EventFilter(after=stored.seq - 1, before=stored.seq + 1))
    assert row.data == {"x": "2026-01-01", "3": "three"}
    assert (await hub_log.report_state("light.x", "off", {"n": 1}, source="s")).seq == hub_log.head
    assert hub_log.fold.get("light.x").state == "off"


async def test_a_registration_the_registry_cannot_store_is_refused(hub_log: EventLog) -> None:
    # A name that is no text could not be bound into the entities table: the writer would retry the
    # batch for ever, every append behind it waiting.
    for data, reason in (({"name": ["x"]}, "name must be text, not list"), ({"integration": 7}, "integration"),
                         ({"device": {"id": "d1", "area": [1]}}, "device.area must be text")):
        with pytest.raises(InputRejected, match=reason):
            await hub_log.append(Event("entity_registered", "s", "light.y", data))
    stored = await hub_log.append(Event("entity_registered", "s", "light.y", {"name": "Y", "device": "not a dict"}))
    assert stored.seq == hub_log.head == 1
    assert hub_log.registry()["light.y"]["name"] == "Y"


async def test_the_database_itself_refuses_update_and_delete(hub_log: EventLog, tmp_path: Path) -> None:
    await hub_log.append(Event("device_event", "s"))
    conn = sqlite3.connect(tmp_path / "hub.db")
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE events SET type='forged'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("DELETE FROM events")
    finally:
        conn.close()


async def test_state_reports_append_only_changes(hub_log: EventLog) -> None:
    first = await hub_log.report_state("light.porch", "on", {"brightness": 10}, source="demo", time=1_000)
    same = await hub_log.report_state("light.porch", "on", {"brightness": 10}, source="demo", time=2_000)
    attrs = await hub_log.report_state("light.porch", "on", {"brightness": 99}, source="demo", time=3_000)
    off = await hub_log.report_state("light.porch", "off", {}, source="demo", time=4_000)
    assert first is not None and same is None and attrs is not None and off is not None
    assert first.data["old_state"] is None
    assert attrs.data["old_state"]["attributes"] == {"brightness": 10}
    state = hub_log.current_state("light.porch")
    assert state is not None and state.state == "off" and state.last_changed == 4_000
    mid = attrs.data["new_state"]
    assert mid["last_changed"] != mid["last_updated"]  # attributes changed, value did not


async def test_many_appenders_share_few_commits(hub_log: EventLog) -> None:
    await asyncio.gather(*(hub_log.report_state(f"sensor.s{i % 7}", str(i), {}, source="t") for i in range(2000)))
    assert hub_log.metrics.appended == 2000
    assert hub_log.metrics.commits < 200


async def test_a_full_queue_makes_appenders_wait(tmp_path: Path) -> None:
    async with open_log(str(tmp_path / "h.db"), synchronous="normal", max_pending=10) as log:
        conn = log.backend._writer  # type: ignore[attr-defined]
        await conn.execute("PRAGMA query_only=ON")  # the writer cannot commit: the queue fills
        tasks = [asyncio.create_task(log.append(Event("device_event", "s", data={"i": i}))) for i in range(30)]
        await asyncio.sleep(0.3)
        assert log._pending_count <= 10 + 1
        assert not any(t.done() for t in tasks)
        assert not log.health.writable and "readonly" in (log.health.error or "")
        assert "let the hub's user write the file" in (log.health.error or "")  # what to do about it
        await conn.execute("PRAGMA query_only=OFF")
        stored = await asyncio.gather(*tasks)
        assert sorted(e.data["i"] for e in stored) == list(range(30))
        assert log.health.writable


async def test_a_full_disk_loses_nothing_and_recovers(tmp_path: Path) -> None:
    async with open_log(str(tmp_path / "h.db"), synchronous="normal") as log:
        conn = log.backend._writer  # type: ignore[attr-defined]
        await log.append(Event("device_event", "s"))
        async with conn.execute("PRAGMA page_count") as cur:
            pages = (await cur.fetchone())[0]
        await conn.execute(f"PRAGMA max_page_count={pages}")  # SQLite now answers SQLITE_FULL
        big = {"blob": "x" * 50_000}
        task = asyncio.create_task(log.append_many([Event("device_event", "s", data=big) for _ in range(20)]))
        for _ in range(100):
            if not log.health.writable:
                break
            await asyncio.sleep(0.02)
        assert not log.health.writable and "full" in (log.health.error or "")
        assert "free space on the disk" in (log.health.error or "")
        assert not task.done()
        await conn.execute("PRAGMA max_page_count=1073741823")
        stored = await task
        assert len(stored) == 20 and log.health.writable
    conn2 = sqlite3.connect(tmp_path / "h.db")
    assert conn2.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn2.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 21
    conn2.close()


async def test_appends_from_another_process_are_projected_and_seen(tmp_path: Path) -> None:
    path = str(tmp_path / "h.db")
    async with open_log(path, synchronous="normal") as daemon_log, \
            open_log(path, project=False, synchronous="normal") as cli_log:
        await daemon_log.report_state("light.a", "on", {}, source="demo")
        sub = daemon_log.follow()
        foreign = await cli_log.append(Event(ev.COMMAND_REQUESTED, "cli", "light.a", {"command": "turn_off"}))
        got = await asyncio.wait_for(sub.__anext__(), 5)
        sub.close()
        assert got.seq == foreign.seq and got.source == "cli"
        # The daemon folds the foreign row into its projections' position.
        await daemon_log.report_state("light.a", "off", {}, source="demo")
        positions = await daemon_log.backend.positions()
        assert set(positions.values()) == {daemon_log.head}


async def test_reopening_restores_state_and_positions(tmp_path: Path) -> None:
    path = str(tmp_path / "h.db")
    async with open_log(path, synchronous="normal") as log:
        await log.report_state("sensor.t", "20.5", {"unit_of_measurement": "°C"}, source="demo")
    async with open_log(path, synchronous="normal") as log:
        state = log.current_state("sensor.t")
        assert state is not None and state.state == "20.5"
        assert await log.report_state("sensor.t", "20.5", {"unit_of_measurement": "°C"}, source="demo") is None


async def test_an_older_schema_is_migrated_on_open(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    async with open_log(str(path), synchronous="normal") as log:
        await log.append(Event("device_event", "s"))
    conn = sqlite3.connect(path)
    conn.execute("DROP INDEX events_source")  # as a version-1 database was
    conn.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
    conn.commit()
    conn.close()
    async with open_log(str(path), synchronous="normal") as log:
        assert log.head == 1
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("3",)
        assert conn.execute("SELECT 1 FROM sqlite_master WHERE name='events_source'").fetchone() == (1,)
        # Version 3: state changes left out of the entity and type indexes.
        for index in ("events_entity", "events_type"):
            sql = conn.execute("SELECT sql FROM sqlite_master WHERE name=?", (index,)).fetchone()[0]
            assert "type != 'state_changed'" in sql
    finally:
        conn.close()


async def test_rows_of_every_shape_in_one_batch_are_stored_as_given(hub_log: EventLog, tmp_path: Path) -> None:
    # The writer inserts rows with an entity and no causation or correlation without those two columns:
    # each shape keeps its values, NULLs and all, and its place in seq order.
    given = [Event("device_event", "s", entity_id, {"i": i}, causation=causation, correlation=correlation)
             for i, (entity_id, causation, correlation) in enumerate(
                 [("event.a", None, None), (None, None, None), ("event.a", 0, None), ("event.a", None, ""),
                  (None, 7, "c-1"), ("event.a", None, None), ("event.a", 3, "c-2")] * 3)]
    stored = await hub_log.append_many(given)
    assert [e.seq for e in stored] == list(range(stored[0].seq or 0, (stored[0].seq or 0) + len(given)))
    conn = sqlite3.connect(tmp_path / "hub.db")
    try:
        rows = conn.execute("SELECT seq, entity_id, causation, correlation, data FROM events WHERE type = 'device_event' "
                            "ORDER BY seq").fetchall()
    finally:
        conn.close()
    assert rows == [(e.seq, e.entity_id, e.causation, e.correlation, f'{{"i":{e.data["i"]}}}') for e in given]


async def test_causation_previous_links_events_of_one_call(hub_log: EventLog) -> None:
    cause, effect = await hub_log.append_many([Event("automation_triggered", "automation:a"),
                                               Event("command_requested", "automation:a", causation=ev.PREVIOUS)])
    assert effect.causation == cause.seq and effect.seq == (cause.seq or 0) + 1
    commits = hub_log.metrics.commits
    with pytest.raises(InputRejected, match="first event"):
        await hub_log.append_many([Event("command_requested", "x", causation=ev.PREVIOUS)])
    assert hub_log.metrics.commits == commits


async def test_the_pipelined_writer_redoes_a_batch_another_process_overtook(tmp_path: Path) -> None:
    # The writer folds batch N+1 assuming the head batch N leaves; a foreign append in between
    # makes that wrong, and the batch is redone on the careful path with the foreign row folded.
    path = str(tmp_path / "h.db")
    async with open_log(path, synchronous="normal") as daemon_log, \
            open_log(path, project=False, synchronous="normal") as cli_log:
        async def daemon(k: int) -> None:
            for i in range(20):
                await daemon_log.report_state(f"sensor.s{k}", str(i), {}, source="demo")

        async def cli() -> None:
            for i in range(20):
                await cli_log.append(Event("device_event", "cli", "event.bell", {"i": i}))

        await asyncio.gather(cli(), *(daemon(k) for k in range(5)))
        await daemon_log.report_state("sensor.s0", "last", {}, source="demo")
        events = await daemon_log.read(EventFilter(limit=10_000))
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        assert sum(e.source == "cli" for e in events) == 20
        assert sum(e.type == "state_changed" for e in events) == 101
        assert set((await daemon_log.backend.positions()).values()) == {daemon_log.head}
        assert daemon_log.current_state("sensor.s4").state == "19"  # type: ignore[union-attr]


async def test_a_failed_commit_leaves_events_as_their_appender_gave_them(hub_log: EventLog,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # A batch folded and refused by the database is folded again on retry: its causation -1
    # placeholder must still be there, and memory must not hold the refused state.
    real = hub_log.backend.commit_batch
    refused = []

    async def refuse_once(*args: object) -> bool:
        if not refused:
            refused.append(args)
            raise StoreError("database h.db: disk I/O error")
        return await real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(hub_log.backend, "commit_batch", refuse_once)
    cause, effect, change = await hub_log.append_many([
        Event("automation_triggered", "automation:a"),
        Event("command_requested", "automation:a", causation=ev.PREVIOUS),
        Event("state_changed", "demo", "light.a", {"new_state": {"state": "on"}}),
    ])
    assert change.seq == 3 and hub_log.current_state("light.a").state == "on"  # type: ignore[union-attr]
    assert refused and effect.causation == cause.seq == 1 and effect.seq == 2
    assert hub_log.health.writable and hub_log.metrics.write_failures == 1


async def test_duplicate_ids_in_flight_are_answered_with_the_stored_event(hub_log: EventLog) -> None:
    # Concurrent appends of one id: the pipelined path meets the UNIQUE constraint and redoes the
    # batch carefully; every caller gets the one stored event.
    results = await asyncio.gather(*(hub_log.append(Event("device_event", "ring", "event.door", {"n": i},
                                                          id="ring:ding:7")) for i in range(30)))
    assert {e.seq for e in results} == {results[0].seq}
    assert await hub_log.backend.count(EventFilter()) == 1


async def test_an_appender_cancelled_while_its_stored_event_is_read_leaves_the_writer_running(
        hub_log: EventLog, monkeypatch: pytest.MonkeyPatch) -> None:
    # An id stored already is answered with the stored event, read after the commit; an appender
    # that gives up in between must not take the writer down with it.
    first = await hub_log.append(Event("device_event", "s", id="dup-1"))
    reading, release = asyncio.Event(), asyncio.Event()
    original = hub_log.backend.get

    async def slow_get(seq: int) -> Event | None:
        reading.set()
        await release.wait()
        return await original(seq)

    monkeypatch.setattr(hub_log.backend, "get", slow_get)
    again = asyncio.ensure_future(hub_log.append(Event("device_event", "s", id="dup-1")))
    await reading.wait()
    again.cancel()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await again
    monkeypatch.setattr(hub_log.backend, "get", original)
    after = await asyncio.wait_for(hub_log.append(Event("device_event", "s")), 10)  # a dead writer never answers
    assert after.seq == (first.seq or 0) + 1
