"""The storage contract: every backend passes these tests unchanged (subclass once per backend)."""

from __future__ import annotations

import asyncio
import fnmatch
import random
from pathlib import Path
from typing import Any

import pytest

from hub import events as ev
from hub.errors import LockedDatabase, StoreError
from hub.events import Event
from hub.log import EventLog, open_log
from hub.projections import PROJECTIONS, Ops
from hub.store import Backend, EventFilter, backend_for

T0 = 1_704_067_200_000_000  # 2024-01-01T00:00:00Z, an hour boundary
MIN = 60_000_000
HOUR = 60 * MIN


async def wait_for(sub: Any, count: int, timeout: float = 30.0) -> list[Event]:
    """The next `count` events of a subscription (fails the test after `timeout`)."""
    got: list[Event] = []
    async with asyncio.timeout(timeout):
        async for event in sub:
            got.append(event)
            if len(got) == count:
                break
    return got


async def snapshot(backend: Backend) -> dict[str, Any]:
    """Everything the projections answer, in a comparable form."""
    ids = sorted(await backend.entity_ids())
    return {
        "states": sorted((s.entity_id, s.state, s.attributes, s.last_changed, s.last_updated)
                         for s in await backend.load_states()),
        "registry": await backend.load_registry(),
        "devices": await backend.devices(),
        "history": {e: [(s.state, s.attributes, s.last_changed, s.last_updated)
                        for s in await backend.history(e, 0, 2**62)] for e in ids},
        "stats_5m": {e: await backend.statistics(e, 0, 2**62, "5m") for e in ids},
        "stats_hour": {e: await backend.statistics(e, 0, 2**62, "hour") for e in ids},
        "state_time": {e: await backend.state_time(e, 0, 2**62) for e in ids},
    }


def registered(entity_id: str, name: str, device: str | None = None) -> Event:
    data: dict[str, Any] = {"integration": "demo", "name": name}
    if device:
        data["device"] = {"id": device, "name": device.title(), "area": "hall"}
    return Event(ev.ENTITY_REGISTERED, "demo", entity_id, data)


class StoreContract:
    """Subclasses provide `url` (a fixture), `raw` and `shared_daemons`."""

    shared_daemons: bool  # may daemons with different names run on one log at once?

    @pytest.fixture
    def url(self) -> str:
        raise NotImplementedError

    async def raw(self, url: str, sql: str) -> None:
        """Execute SQL on the database behind the hub's back; raise on error."""
        raise NotImplementedError

    # --- append ----------------------------------------------------------------

    async def test_append_round_trips_every_field(self, url: str) -> None:
        async with open_log(url) as log:
            first = await log.append(Event("device_event", "ring", "event.front_door",
                                           {"kind": "ding", "nested": {"ü": [1, 2.5, None, True]}}, time=T0))
            batch = await log.append_many([
                Event("mqtt_message", "mqtt", None, {"topic": "a/b", "payload": "x\u0000y\"'"}, time=T0 + 1),
                Event("command_requested", "cli", "light.porch", {"command": "turn_on", "target": ["light.porch"],
                      "data": {}}, time=T0 + 2, causation=first.seq, correlation="corr-1"),
            ])
            assert [first.seq, *(e.seq for e in batch)] == [1, 2, 3]
            stored = await log.read(EventFilter())
            assert [e.to_dict() for e in stored] == [e.to_dict() for e in (first, *batch)]
            assert await log.backend.head() == 3
            assert (await log.backend.get(3)) == batch[1]
            assert (await log.backend.get_by_id(first.id)) == first
            assert await log.backend.get(4) is None and await log.backend.get_by_id("nope") is None

    async def test_appending_an_id_twice_stores_it_once(self, url: str) -> None:
        event = Event("device_event", "demo", "event.bell", {"n": 1})
        twin = Event("device_event", "demo", "event.bell", {"n": 2}, id="fixed-id")
        async with open_log(url) as log:
            a = await log.append(event)
            b = await log.append(Event(event.type, event.source, event.entity_id, {"n": 99}, id=event.id))
            assert a.seq == b.seq == 1 and b.data == {"n": 1}
            stored = await log.append_many([twin, Event("device_event", "demo", None, {}, id="fixed-id"), twin])
            assert [e.seq for e in stored] == [2, 2, 2]
        async with open_log(url) as log:  # the ids are found in the database, not only in memory
            again = await log.append(Event("device_event", "demo", None, {"n": 3}, id="fixed-id"))
            assert again.seq == 2 and again.data == {"n": 2}
            assert await log.backend.count(EventFilter()) == 2 and await log.backend.head() == 2

    # --- ordering with concurrent writers ------------------------------------------

    async def test_concurrent_writers_leave_no_gap_and_followers_see_everything(self, url: str) -> None:
        writers, batches, per_batch, reports = 3, 12, 20, 15
        total = writers * (batches * per_batch + reports)
        async with open_log(url) as watcher, open_log(url, project=False) as reader:
            subs = [watcher.follow(after=0), reader.follow(after=0)]
            async with open_log(url) as w0, open_log(url) as w1, open_log(url) as w2:
                logs = [w0, w1, w2]

                async def write(i: int, log: EventLog) -> list[Event]:
                    rng = random.Random(i)
                    mine: list[Event] = []
                    for b in range(batches):
                        mine += await log.append_many(
                            [Event("device_event", f"w{i}", None, {"b": b, "k": k}) for k in range(per_batch)])
                        await log.report_state(f"sensor.w{i}", str(b), {}, source=f"w{i}")
                        await asyncio.sleep(rng.random() / 200)
                    for r in range(batches, reports):
                        await log.report_state(f"sensor.w{i}", str(r), {}, source=f"w{i}")
                    return mine

                results = await asyncio.gather(*(write(i, log) for i, log in enumerate(logs)))
            seen = [await wait_for(sub, total) for sub in subs]
            for sub in subs:
                sub.close()
        for got in seen:
            assert [e.seq for e in got] == list(range(1, total + 1))
            assert len({e.id for e in got}) == total
        by_id = {e.id: e.seq for e in seen[0]}
        assert all(by_id[e.id] == e.seq for mine in results for e in mine)
        backend = backend_for(url)
        await backend.open(create=False)
        try:
            assert await backend.head() == total
            states = {s.entity_id: s.state for s in await backend.load_states()}
            assert states == {f"sensor.w{i}": str(reports - 1) for i in range(writers)}
            for i in range(writers):  # every state change projected exactly once
                rows = await backend.statistics(f"sensor.w{i}", 0, 2**62, "hour")
                assert sum(r["count"] for r in rows) == reports
                assert len(await backend.history(f"sensor.w{i}", 0, 2**62)) == reports
            assert set((await backend.positions()).values()) == {total}
            assert await backend.integrity_problems() == []
        finally:
            await backend.close()

    async def test_follow_catches_up_then_continues_live(self, url: str) -> None:
        async with open_log(url) as writer, open_log(url, project=False) as reader:
            await writer.append_many([Event("device_event", "demo", None, {"i": i}) for i in range(30)])
            from_start, from_ten = reader.follow(after=0), reader.follow(after=10, types=("device_event",))
            assert [e.data["i"] for e in await wait_for(from_start, 30)] == list(range(30))
            assert [e.seq for e in await wait_for(from_ten, 20)] == list(range(11, 31))
            live = [await writer.append(Event("device_event", "demo", None, {"i": i})) for i in range(30, 35)]
            assert [e.seq for e in await wait_for(from_start, 5)] == [e.seq for e in live]
            assert [e.seq for e in await wait_for(from_ten, 5)] == [e.seq for e in live]
            from_start.close()
            from_ten.close()

    # --- projections --------------------------------------------------------------

    async def test_projections_with_tracking_catch_up_after_reopening(self, url: str) -> None:
        async with open_log(url, project=False) as log:  # a process that crashed before projecting
            for minute, value in ((0, "20"), (3, "21"), (7, "22.5"), (65, "19")):
                await log.report_state("sensor.temp", value, {"unit": "°C"}, source="demo", time=T0 + minute * MIN)
            for minute, value in ((0, "off"), (30, "on"), (90, "off")):
                await log.report_state("binary_sensor.door", value, {}, source="demo", time=T0 + minute * MIN)
            assert set((await log.backend.positions()).values()) == {0}
        async with open_log(url) as log:
            backend = log.backend
            head = await backend.head()
            assert set((await backend.positions()).values()) == {head}
            assert log.current_state("sensor.temp").state == "19"  # type: ignore[union-attr]
            assert {s.entity_id: s.state for s in await backend.load_states()} == {
                "sensor.temp": "19", "binary_sensor.door": "off"}
            hist = await backend.history("sensor.temp", T0 + 5 * MIN, T0 + 2 * HOUR)
            assert [s.state for s in hist] == ["21", "22.5", "19"]  # preceded by the state in force
            hours = await backend.statistics("sensor.temp", T0, T0 + 2 * HOUR, "hour")
            assert [(r["bucket"], r["min"], r["max"], r["mean"], r["count"], r["last"]) for r in hours] == [
                (T0, 20.0, 22.5, pytest.approx(63.5 / 3), 3, 22.5), (T0 + HOUR, 19.0, 19.0, 19.0, 1, 19.0)]
            fives = await backend.statistics("sensor.temp", T0, T0 + HOUR, "5m")
            assert [(r["bucket"], r["count"]) for r in fives] == [(T0, 2), (T0 + 5 * MIN, 1)]
            times = await backend.state_time("binary_sensor.door", T0, T0 + 2 * HOUR)
            assert [(r["bucket"], r["state"], r["seconds"]) for r in times] == [
                (T0, "off", 1800.0), (T0, "on", 1800.0), (T0 + HOUR, "on", 1800.0)]
            assert (await backend.load_registry())["sensor.temp"]["integration"] == "demo"
            # The change behind a state: the current one, or the one in force at a time.
            changes = [e.seq for e in await backend.read(EventFilter(entity_id="sensor.temp"))]
            assert await backend.change_seq("sensor.temp") == changes[-1]
            assert await backend.change_seq("sensor.temp", T0 + 3 * MIN) == changes[1]  # at the change itself
            assert await backend.change_seq("sensor.temp", T0 + 64 * MIN) == changes[2]
            assert await backend.change_seq("sensor.temp", T0 - 1) is None
            assert await backend.change_seq("sensor.nothing") is None

    async def test_a_failed_write_transaction_stores_nothing(self, url: str) -> None:
        async with open_log(url) as log:
            await log.report_state("sensor.a", "1", {}, source="demo")
            backend = log.backend
            before = (await backend.head(), await backend.positions(), await snapshot(backend))
            with pytest.raises(RuntimeError):
                async with backend.transaction() as tx:
                    head = await tx.head()
                    event = Event("state_changed", "demo", "sensor.a", {"new_state": {"state": "2"}}, seq=head + 1)
                    await tx.insert([event])
                    ops = Ops(states={"sensor.a": ("sensor.a", 1, head + 1, "2", "{}", 1)})
                    await tx.apply(ops, head + 1)
                    raise RuntimeError("crash before commit")
            assert (await backend.head(), await backend.positions(), await snapshot(backend)) == before
            assert (await log.append(Event("device_event", "demo"))).seq == before[0] + 1

    async def test_rebuild_equals_live_projections(self, url: str) -> None:
        async with open_log(url) as log:
            await log.append(registered("light.porch", "Porch", device="lamp1"))
            await log.append(registered("sensor.gone", "Gone"))
            for i in range(40):
                t = T0 + i * 7 * MIN
                await log.report_state("light.porch", "on" if i % 3 else "off", {"brightness": i},
                                       source="demo", time=t)
                await log.report_state("sensor.power", str(100 + i % 7), {"unit": "W"}, source="demo", time=t)
                if i < 20:
                    await log.report_state("sensor.gone", str(i), {}, source="demo", time=t)
                elif i == 20:
                    await log.append(Event(ev.ENTITY_REMOVED, "demo", "sensor.gone", {}))
                await log.append(Event("device_event", "demo", "event.bell", {"i": i}, time=t))
            live = await snapshot(log.backend)
            assert live["states"] and live["registry"]["light.porch"]["device_id"] == "lamp1"
            assert "lamp1" in live["devices"]
            await log.rebuild()
            assert await snapshot(log.backend) == live
            assert set((await log.backend.positions()).values()) == {await log.backend.head()}

    async def test_rebuild_equals_live_when_a_removed_entity_reports_again(self, url: str) -> None:
        async with open_log(url) as log:
            await log.report_state("sensor.back", "1", {}, source="demo", time=T0)
            await log.append(Event(ev.ENTITY_REMOVED, "demo", "sensor.back", {}))
            await log.report_state("sensor.back", "2", {}, source="demo", time=T0 + MIN)
            live = await snapshot(log.backend)
            await log.rebuild()
            assert await snapshot(log.backend) == live

    # --- retention ----------------------------------------------------------------

    async def test_retention_drops_old_events_and_keeps_latest_state(self, url: str) -> None:
        async with open_log(url) as log:
            await log.report_state("sensor.stable", "on", {}, source="demo", time=T0)
            for i in range(12):  # one every 10 minutes, two hours
                t = T0 + i * 10 * MIN
                await log.report_state("sensor.power", str(i), {}, source="demo", time=t)
                await log.append(Event("device_event", "demo", None, {"i": i}, time=t))
            last = await log.append(Event("device_event", "demo", None, {"i": "recent"}, time=T0 + 10 * HOUR))
            cutoff = T0 + HOUR
            counts = await log.backend.apply_retention({"sensor.power": cutoff, "sensor.stable": cutoff}, cutoff)
            backend = log.backend
            # sensor.power's first state_changed is its registry row's source: spared like a registration
            assert counts == {"events": 5 + 6, "history": 5, "stats_5m": 6}
            left = await backend.read(EventFilter(limit=100))
            registry_seq = (await backend.load_registry())["sensor.power"]
            old = [e for e in left if e.entity_id == "sensor.power" and e.time < cutoff]
            assert [e.data["new_state"]["state"] for e in old] == ["0"]
            assert not [e for e in left if e.entity_id is None and e.time < cutoff]
            assert registry_seq["integration"] == "demo"
            stable = [e for e in left if e.entity_id == "sensor.stable"]
            assert len(stable) == 1  # the latest state of an entity is never dropped
            hist = await backend.history("sensor.power", cutoff, T0 + 3 * HOUR)
            assert [s.state for s in hist] == ["5", "6", "7", "8", "9", "10", "11"]
            assert [r["count"] for r in await backend.statistics("sensor.power", 0, 2**62, "hour")] == [6, 6]
            assert min(r["bucket"] for r in await backend.statistics("sensor.power", 0, 2**62, "5m")) == cutoff
            assert await backend.integrity_problems() == []
            assert (await log.append(Event("device_event", "demo"))).seq == (last.seq or 0) + 1

    # --- the database's own guards ---------------------------------------------------

    async def test_the_database_rejects_update_and_delete(self, url: str) -> None:
        async with open_log(url) as log:
            await log.append_many([Event("device_event", "demo", None, {"i": i}) for i in range(3)])
            before = await log.read(EventFilter())
            with pytest.raises(Exception, match="append-only"):
                await self.raw(url, "UPDATE events SET type = 'tampered' WHERE seq = 2")
            with pytest.raises(Exception, match="append-only"):
                await self.raw(url, "DELETE FROM events WHERE seq = 1")
            assert await log.read(EventFilter()) == before
            assert await log.backend.integrity_problems() == []

    async def test_integrity_check_reports_a_missing_guard(self, url: str) -> None:
        async with open_log(url) as log:
            await log.append(Event("device_event", "demo"))
            await self.raw(url, "DROP TRIGGER events_no_update" + self.drop_trigger_suffix)
            problems = await log.backend.integrity_problems()
            assert any("events_no_update" in p for p in problems)

    drop_trigger_suffix = ""

    # --- queries -------------------------------------------------------------------

    async def test_filters_select_what_they_say(self, url: str) -> None:
        rng = random.Random(7)
        entities = ["light.porch", "light.hall", "sensor.temp", "sensor.hemp", "binary_sensor.door", None]
        made = [Event(rng.choice(["device_event", "mqtt_message", "state_changed"]), rng.choice(["a", "b"]),
                      rng.choice(entities), {"v": rng.choice(["x_y", "50%", "plain"])}, time=T0 + i * MIN,
                      correlation=rng.choice(["c1", "c2"]), causation=rng.choice([None, 1, 2]))
                for i in range(120)]
        async with open_log(url, project=False) as log:
            stored = await log.append_many(made)
            cases: list[tuple[EventFilter, Any]] = [
                (EventFilter(types=("mqtt_message", "device_event")), lambda e: e.type != "state_changed"),
                (EventFilter(entity_id="light.porch"), lambda e: e.entity_id == "light.porch"),
                (EventFilter(entity_glob="light.*"), lambda e: (e.entity_id or "").startswith("light.")),
                (EventFilter(entity_glob="sensor.?emp"), lambda e: e.entity_id in ("sensor.temp", "sensor.hemp")),
                (EventFilter(entity_glob="[bl]*.*o*"), lambda e: e.entity_id is not None
                 and fnmatch.fnmatchcase(e.entity_id, "[bl]*.*o*")),
                (EventFilter(entity_glob="sensor_temp"), lambda e: False),
                (EventFilter(source="b", after=10, before=90), lambda e: e.source == "b" and 10 < (e.seq or 0) < 90),
                (EventFilter(since=T0 + 30 * MIN, until=T0 + 60 * MIN),
                 lambda e: T0 + 30 * MIN <= e.time < T0 + 60 * MIN),
                (EventFilter(correlation="c2", causation=1), lambda e: e.correlation == "c2" and e.causation == 1),
                (EventFilter(text="50%"), lambda e: e.data["v"] == "50%"),
                (EventFilter(text="x_y"), lambda e: e.data["v"] == "x_y"),
            ]
            for flt, keep in cases:
                want = [e.seq for e in stored if keep(e)]
                assert [e.seq for e in await log.read(flt)] == want, flt
                assert await log.backend.count(flt) == len(want), flt
            newest = await log.read(EventFilter(descending=True, limit=5))
            assert [e.seq for e in newest] == [120, 119, 118, 117, 116]

    async def test_entity_filters_find_state_changes_of_a_projected_log(self, url: str) -> None:
        # SQLite leaves state changes out of its entity index and finds them through history
        # (and entity_events for a change without a new state); every backend answers alike.
        rng = random.Random(11)
        entities = ["light.porch", "light.hall", "sensor.temp", "binary_sensor.door"]
        async with open_log(url) as log:
            for i in range(160):
                eid = rng.choice(entities)
                kind = rng.random()
                if kind < 0.5:
                    await log.report_state(eid, str(rng.randrange(4)), {"i": i}, source=rng.choice(["a", "b"]),
                                           time=T0 + i * MIN)
                elif kind < 0.9:
                    await log.append(Event("device_event", rng.choice(["a", "b"]), eid, {"i": i}, time=T0 + i * MIN))
                else:  # a state change without a new state (removal): no history row
                    await log.append(Event("state_changed", "a", eid, {"old_state": None, "new_state": None},
                                           time=T0 + i * MIN))
            stored = await log.read(EventFilter(limit=10_000))
            cases: list[tuple[EventFilter, Any]] = [
                (EventFilter(entity_id="light.porch"), lambda e: e.entity_id == "light.porch"),
                (EventFilter(entity_id="light.porch", types=("state_changed",)),
                 lambda e: e.entity_id == "light.porch" and e.type == "state_changed"),
                (EventFilter(entity_id="sensor.temp", types=("device_event",)),
                 lambda e: e.entity_id == "sensor.temp" and e.type == "device_event"),
                (EventFilter(entity_glob="light.*", after=40, before=140),
                 lambda e: (e.entity_id or "").startswith("light.") and 40 < (e.seq or 0) < 140),
                (EventFilter(entity_glob="*.door", source="b", since=T0 + 30 * MIN),
                 lambda e: e.entity_id == "binary_sensor.door" and e.source == "b" and e.time >= T0 + 30 * MIN),
                (EventFilter(types=("device_event",)), lambda e: e.type == "device_event"),
            ]
            for flt, keep in cases:
                want = [e.seq for e in stored if keep(e)]
                assert want, flt
                assert [e.seq for e in await log.read(flt)] == want, flt
                assert await log.backend.count(flt) == len(want), flt
            newest = await log.read(EventFilter(entity_id="light.hall", descending=True, limit=3))
            assert [e.seq for e in newest] == [e.seq for e in stored if e.entity_id == "light.hall"][::-1][:3]
            removals = [e.seq for e in stored if e.type == "state_changed" and e.data.get("new_state") is None]
            assert removals
            for seq in removals:
                entity_id = next(e.entity_id for e in stored if e.seq == seq)
                assert seq in [e.seq for e in await log.read(EventFilter(entity_id=entity_id, limit=10_000))]

    async def test_glob_with_a_negated_class_reads_what_follow_delivers(self, url: str) -> None:
        # Subscription.wants matches live events with fnmatch, so reads must use the same glob language.
        async with open_log(url, project=False) as log:
            for entity_id in ("light.porch", "sensor.porch", "sensor.temp"):
                await log.append(Event("device_event", "demo", entity_id))
            got = await log.read(EventFilter(entity_glob="[!l]*.*o*"))
            assert [e.entity_id for e in got] == ["sensor.porch"]

    # --- daemons, backups ------------------------------------------------------------

    async def test_daemon_lock_refuses_a_second_daemon_of_the_same_name(self, url: str) -> None:
        async with open_log(url) as log:
            other = backend_for(url)
            await other.open()
            try:
                async with log.backend.daemon_lock("home"):
                    with pytest.raises(LockedDatabase):
                        async with other.daemon_lock("home"):
                            pass
                    if self.shared_daemons:
                        async with other.daemon_lock("garage"):
                            pass
                    else:
                        with pytest.raises(LockedDatabase):
                            async with other.daemon_lock("garage"):
                                pass
                async with other.daemon_lock("home"):  # released on exit
                    pass
            finally:
                await other.close()

    async def test_backup_writes_a_new_file_and_refuses_to_overwrite(self, url: str, tmp_path: Path) -> None:
        async with open_log(url) as log:
            await log.report_state("sensor.a", "1", {}, source="demo")
            target = tmp_path / "backup" / "hub.bak"
            await log.backend.backup(str(target))
            assert target.stat().st_size > 0
            with pytest.raises(StoreError, match="exists"):
                await log.backend.backup(str(target))

    async def test_open_without_create_refuses_a_missing_log(self, url: str) -> None:
        backend = backend_for(url)
        with pytest.raises(StoreError):
            await backend.open(create=False)
        await backend.close()

    async def test_every_projection_has_a_position(self, url: str) -> None:
        async with open_log(url) as log:
            assert set(await log.backend.positions()) == set(PROJECTIONS)
