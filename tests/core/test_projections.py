"""Projections: the fold (pure), statistics, time-in-state, registry, exactly-once, rebuild == live."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import hub.log
from hub.events import Event
from hub.integration import DeviceInfo, EntityInfo, IntegrationContext
from hub.log import open_log
from hub.projections import HOUR, Fold, iso_to_us, split_hours
from hub.store.sqlite_schema import PROJECTION_TABLES
from hub.times import to_iso

T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def test_split_hours_cuts_intervals_at_hour_boundaries() -> None:
    assert split_hours(T0 + 30 * 60_000_000, T0 + 2 * HOUR + 60_000_000) == [
        (T0, 1800.0), (T0 + HOUR, 3600.0), (T0 + 2 * HOUR, 60.0)]
    assert split_hours(T0, T0) == []


def test_fold_changes_nothing_until_commit() -> None:
    fold = Fold()
    ops = fold.begin()
    data = {"old_state": None, "new_state": {"state": "on", "attributes": {}, "last_changed": None,
                                             "last_updated": None}}
    fold.apply(ops, Event("state_changed", "s", "light.a", data, time=T0, seq=1))
    assert fold.get("light.a") is not None and "light.a" not in fold.states
    fold.rollback()
    assert fold.get("light.a") is None and fold.position == 0


async def test_statistics_and_time_in_state(tmp_path: Path) -> None:
    async with open_log(str(tmp_path / "h.db"), synchronous="normal") as log:
        for i, value in enumerate([10.0, 20.0, 30.0, 5.0]):
            await log.report_state("sensor.power", str(value), {}, source="t", time=T0 + i * 60_000_000)
        await log.report_state("sensor.power", "40", {}, source="t", time=T0 + HOUR + 1)
        await log.report_state("binary_sensor.door", "on", {}, source="t", time=T0)
        await log.report_state("binary_sensor.door", "off", {}, source="t", time=T0 + 90 * 60_000_000)
        await log.report_state("binary_sensor.door", "on", {}, source="t", time=T0 + 100 * 60_000_000)
        hourly = await log.backend.statistics("sensor.power", T0, T0 + 2 * HOUR, "hour")
        assert [(r["min"], r["max"], r["mean"], r["last"], r["count"]) for r in hourly] == [
            (5.0, 30.0, 16.25, 5.0, 4), (40.0, 40.0, 40.0, 40.0, 1)]
        five = await log.backend.statistics("sensor.power", T0, T0 + HOUR, "5m")
        assert [r["count"] for r in five] == [4]
        spent = await log.backend.state_time("binary_sensor.door", T0, T0 + 2 * HOUR)
        assert spent == [{"bucket": T0, "state": "on", "seconds": 3600.0},
                         {"bucket": T0 + HOUR, "state": "off", "seconds": 600.0},
                         {"bucket": T0 + HOUR, "state": "on", "seconds": 1800.0}]
        history = await log.backend.history("sensor.power", T0 + 90_000_000, T0 + 2 * HOUR)
        assert [s.state for s in history] == ["20.0", "30.0", "5.0", "40"]  # the state in force first


async def test_registry_keeps_entities_and_devices(tmp_path: Path) -> None:
    async with open_log(str(tmp_path / "h.db"), synchronous="normal") as log:
        ctx = IntegrationContext(log, "demo")
        device = DeviceInfo("bulb1", name="Porch lamp", manufacturer="Acme", area="Porch")
        await ctx.register_entity(EntityInfo("light.porch", name="Porch", device=device))
        await ctx.register_entity(EntityInfo("light.porch", name="Porch", device=device))  # unchanged: no event
        await ctx.set_state("light.porch", "off")
        # Registered again without its device: the entity keeps it, and the device row is not emptied.
        await ctx.register_entity(EntityInfo("light.porch", name="Porch light"))
        registry = await log.backend.load_registry()
        devices = await log.backend.devices()
        assert registry["light.porch"]["integration"] == "demo" and registry["light.porch"]["area"] == "Porch"
        assert devices["bulb1"]["name"] == "Porch lamp"
        assert registry["light.porch"]["device_id"] == "bulb1" and registry["light.porch"]["name"] == "Porch light"
        assert await log.backend.count(__import__("hub.store", fromlist=["EventFilter"]).EventFilter(
            types=("entity_registered",))) == 2


def _dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(path)
    try:
        return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in PROJECTION_TABLES}
    finally:
        conn.close()


async def test_rebuild_equals_live_projections(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    async with open_log(str(path), synchronous="normal") as log:
        ctx = IntegrationContext(log, "demo")
        await ctx.register_entity(EntityInfo("sensor.t", name="T", unit="°C", device=DeviceInfo("d1", name="D")))
        for i in range(3000):
            await log.report_state(f"sensor.s{i % 13}", str(i % 17), {"i": i % 3}, source="t",
                                   time=T0 + i * 7_000_000)
            if i % 100 == 0:
                await log.report_state("binary_sensor.m", "on" if i % 200 else "off", {}, source="t",
                                       time=T0 + i * 7_000_000)
        await ctx.remove_entity("sensor.s3")
        live = _dump(path)
        count = await log.rebuild()
        assert count == log.head
        rebuilt = _dump(path)
    assert live == rebuilt
    assert len(live["history"]) > 3000 and live["stats_hour"] and live["state_time"]


async def test_projections_catch_up_after_a_crash_mid_way(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    async with open_log(str(path), synchronous="normal") as log:
        for i in range(100):
            await log.report_state("sensor.x", str(i), {}, source="t")
    # As if the daemon died after the log rows of the last 40 events but before their projection:
    conn = sqlite3.connect(path)
    conn.execute("UPDATE projection_position SET seq = seq - 40")
    conn.execute("DELETE FROM history WHERE seq > 60")
    conn.commit()
    conn.close()
    async with open_log(str(path), synchronous="normal") as log:
        assert log.fold.position == log.head
        state = log.current_state("sensor.x")
        assert state is not None and state.state == "99"
        history = await log.backend.history("sensor.x", 0, 2**62)
        assert len(history) == 100  # applied exactly once: no duplicates, none missing


def test_rows_folded_for_states_and_registry_only_derive_nothing_else() -> None:
    # A rebuild in SQL folds only each entity's first and last rows of a chunk here: weeks apart,
    # whose time in state (hundreds of hours) nobody wants. The states and registry come out the same.
    rows = [(1, "state_changed", "s", "light.a", T0, '{"state": "on", "attributes": {"x": 1}}'),
            (2, "state_changed", "s", "sensor.t", T0, '{"state": "20.5", "attributes": {}}'),
            (3, "state_changed", "s", "light.a", T0 + 600 * HOUR, '{"state": "off", "attributes": {}}')]
    full, lean = Fold(), Fold()
    everything, only = full.begin(), lean.begin()
    full.apply_rows(everything, rows, 3)
    lean.apply_rows(only, rows, 3, derived=False)
    assert everything.state_time and everything.stats_hour and everything.history
    assert not (only.state_time or only.stats_hour or only.stats_5m or only.history)
    assert only.registry_and_states() == everything.registry_and_states()
    assert only.states["light.a"][3] == "off" and set(only.entities) == {"light.a", "sensor.t"}


def test_layers_fold_a_batch_on_top_of_one_being_committed() -> None:
    def change(seq: int, state: str) -> Event:
        return Event("state_changed", "s", "light.a", {"new_state": {"state": state}}, time=T0 + seq, seq=seq)

    fold = Fold()
    first = fold.begin()
    fold.apply(first, change(1, "on"))
    second = fold.begin()  # folded while the first is being committed
    fold.apply(second, change(2, "off"))
    assert fold.get("light.a").state == "off" and "light.a" not in fold.states  # type: ignore[union-attr]
    fold.commit()  # the first batch is durable
    assert fold.states["light.a"].state == "on" and fold.position == 1
    assert fold.get("light.a").state == "off"  # type: ignore[union-attr]
    fold.rollback()  # the second was refused
    assert fold.get("light.a").state == "on" and fold.position == 1  # type: ignore[union-attr]


def test_layers_read_the_newest_removal_and_registration() -> None:
    fold = Fold()
    first = fold.begin()
    fold.apply(first, Event("state_changed", "s", "light.a", {"new_state": {"state": "on"}}, time=T0, seq=1))
    second = fold.begin()
    fold.apply(second, Event("entity_removed", "s", "light.a", {}, time=T0 + 1, seq=2))
    assert fold.get("light.a") is None and fold._known("light.a") is None
    fold.commit()
    assert fold.registry["light.a"]["integration"] == "s" and fold.get("light.a") is None
    fold.commit()
    assert "light.a" not in fold.registry and fold.get("light.a") is None and fold.position == 2
    third = fold.begin()
    fold.apply(third, Event("state_changed", "t", "light.a", {"new_state": {"state": "off"}}, time=T0 + 2, seq=3))
    assert fold._known("light.a")["integration"] == "t"  # type: ignore[index]
    fold.rollback()
    assert fold._known("light.a") is None and fold.get("light.a") is None


def test_iso_times_become_exact_microseconds() -> None:
    # The fold reads times back from the ISO text of state_changed: the round trip must be exact,
    # whatever the offset the text was written with.
    assert iso_to_us("2026-01-01T02:00:00.000001+02:00", 0) == T0 + 1
    assert iso_to_us("2026-01-01T00:00:00", 7) == 7  # no offset: the event's own time
    for us in (T0 + 1, T0 + 123_456_789_123, 1_763_702_493_123_457, 1_700_000_000_000_007):
        text = to_iso(us)
        assert iso_to_us(text, 0) == us, text
    # The hub's own UTC form is parsed once per second: across second and day boundaries, back and
    # forth, it agrees with datetime's parsing.
    rng = random.Random(7)
    for us in [T0 + rng.randrange(-10**12, 10**12) for _ in range(2000)] + [T0 - 1, T0, T0 + 999_999, T0 + 10**6]:
        text = to_iso(us)
        assert iso_to_us(text, 0) == us == (datetime.fromisoformat(text) - EPOCH) // timedelta(microseconds=1), text
    # Look-alikes of that form go the general way: another offset; digits that are not ASCII,
    # which datetime refuses (int() alone would take them).
    assert iso_to_us("2026-01-01T12:00:00.000001+12:00", 0) == T0 + 1
    with pytest.raises(ValueError):
        iso_to_us("2026-01-01T00:00:00.\u0661\u0662\u0663\u0664\u0665\u0666+00:00", 0)


async def test_rebuild_in_many_chunks_equals_live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Catch-up reads chunk N+1, folds chunk N and writes chunk N-1 at once; small chunks exercise that.
    monkeypatch.setattr(hub.log, "CATCH_UP_CHUNK", 97)
    path = tmp_path / "h.db"
    async with open_log(str(path), synchronous="normal") as log:
        ctx = IntegrationContext(log, "demo")

        async def producer(k: int) -> None:
            for i in range(300):
                await log.report_state(f"sensor.p{k}_{i % 5}", str((i * 7 + k) % 11), {"k": k}, source="t",
                                       time=T0 + i * 1_234_567 + k)
                if i % 50 == 7:
                    await ctx.register_entity(EntityInfo(f"light.l{k}", name=f"L{k}", area="hall"))
                    await log.append(Event("device_event", "t", f"event.e{k}", {"i": i}))

        await asyncio.gather(*(producer(k) for k in range(4)))
        await log.append(Event("state_changed", "t", "sensor.p0_1", {"old_state": None, "new_state": None}))
        await ctx.remove_entity("light.l2")
        live = _dump(path)
        registry = dict(log.registry())
        count = await log.rebuild()
        assert count == log.head and log.fold.position == log.head
        assert _dump(path) == live
        assert log.registry() == registry and "light.l2" not in registry and "light.l1" in registry
    assert len(live["history"]) == 1200 and live["entity_events"]
