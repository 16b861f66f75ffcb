"""Projection rows written after their events under heavy load (hub.backlog): nothing lost, nothing
twice, the same projections as a rebuild, across a kill -9 in the middle of a flush."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import hub.backlog
from hub.backlog import Backlog
from hub.events import STATE_CHANGED, Event
from hub.log import EventLog, open_log
from hub.projections import Ops
from hub.states import State
from tests.core.test_projections import _dump

T0 = 1_767_225_600_000_000


def changes(count: int, entities: int, start: int = 0) -> list[Event]:
    """State changes as a bulk producer appends them (numeric and text states, so statistics and
    time-in-state both have rows)."""
    states: dict[str, State] = {}
    out = []
    for i in range(start, start + count):
        eid = f"sensor.s{i % entities}" if i % 3 else f"binary_sensor.b{i % entities}"
        value = str(i % 7) if i % 3 else ("on" if i % 2 else "off")
        t = T0 + i * 1_000_000
        old = states.get(eid)
        new = State(eid, value, {"unit_of_measurement": "W"} if i % 3 else {},
                    t if old is None or old.state != value else old.last_changed, t)
        states[eid] = new
        out.append(Event(STATE_CHANGED, "bulk", eid, {"old_state": old.as_data() if old else None,
                                                       "new_state": new.as_data()}, time=t))
    return out


def position(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT MIN(seq) FROM projection_position").fetchone()[0])
    finally:
        conn.close()


def test_a_flush_writes_history_entity_by_entity_and_moves_the_position_last(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub.backlog, "DEFER_MIN_BATCH", 10)
    monkeypatch.setattr(hub.backlog, "DEFER_EVENTS", 40)
    backlog = Backlog()

    def batch(first: int, n: int) -> Ops:
        return Ops(history=[(f"sensor.e{seq % 4}", seq, seq, "1", "{}", seq) for seq in range(first, first + n)],
                   stats_5m={("sensor.e0", 0): [1.0, 1.0, float(n), n, 1.0]})

    seq = 0
    for _ in range(4):  # 4 batches of 10: they wait, their events committed
        ops = batch(seq + 1, 10)
        plan = backlog.plan(ops, 10, seq + 10)
        assert plan.ops is None and plan.position is None
        seq += 10
        backlog.landed(plan, ops, 10, seq)
    assert backlog.events() == 40 and not backlog.empty()
    written: list[tuple[str, int, int, str, str, int]] = []
    moved = []
    while not moved:
        ops = batch(seq + 1, 10)
        plan = backlog.plan(ops, 10, seq + 10)
        seq += 10
        assert plan.ops is not None
        written.extend(plan.ops.history)
        if plan.position is not None:
            moved.append(plan.position)
            assert plan.ops.stats_5m[("sensor.e0", 0)][3] == 40  # the rest rides with the last slice
        else:
            assert not plan.ops.stats_5m
        backlog.landed(plan, ops, 10, seq)
    # Slices of 12 rows (1.25 per event of the carrying commit), entity after entity, and the
    # position moves once, to the end of the rows flushed; the carrying commits' rows wait.
    assert moved == [40]
    assert sorted(written) == sorted(batch(1, 40).history)
    entities = [row[0] for row in written]
    assert entities == sorted(entities, key=entities.index)  # each entity's rows together
    assert backlog.waiting_events > 0


async def test_a_small_batch_and_a_waiting_reader_write_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub.backlog, "DEFER_MIN_BATCH", 10)
    monkeypatch.setattr(hub.backlog, "DEFER_EVENTS", 1000)
    backlog = Backlog()
    big = Ops(history=[("sensor.a", t, t, "1", "{}", t) for t in range(1, 21)])
    plan = backlog.plan(big, 20, 20)
    backlog.landed(plan, big, 20, 20)
    small = Ops(history=[("sensor.a", 21, 21, "2", "{}", 21)])
    plan = backlog.plan(small, 1, 21)
    assert plan.everything and plan.position == 21 and plan.ops is not None and len(plan.ops.history) == 21
    backlog.landed(plan, small, 1, 21)
    assert backlog.empty()
    backlog.landed(backlog.plan(big, 20, 41), big, 20, 41)
    waiter = asyncio.get_running_loop().create_future()
    backlog.waiters.append(waiter)
    plan = backlog.plan(big, 20, 61)
    assert plan.everything and plan.position == 61 and plan.ops is not None and len(plan.ops.history) == 40
    backlog.landed(plan, big, 20, 61)
    assert backlog.empty() and not backlog.waiters and waiter.done()


async def _bulk(log: EventLog, producers: int, batches: int, size: int, lags: list[int], path: Path) -> None:
    async def producer(k: int) -> None:
        for b in range(batches):
            start = (k * batches + b) * size
            await log.append_many(changes(size, 12, start), supplied_ids=False)
            lags.append(log.head - position(path))

    await asyncio.gather(*(producer(k) for k in range(producers)))


async def test_deferred_projections_equal_a_rebuild_and_a_reader_can_wait_for_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub.backlog, "DEFER_MIN_BATCH", 100)
    monkeypatch.setattr(hub.backlog, "DEFER_EVENTS", 1500)
    path = tmp_path / "h.db"
    lags: list[int] = []
    async with open_log(str(path), synchronous="normal") as log:
        await _bulk(log, 6, 8, 250, lags, path)
        assert max(lags) > 0  # the projections were behind the log at times
        # A reader in the process that must see every committed event in history waits for it.
        more = asyncio.ensure_future(_bulk(log, 6, 2, 250, lags, path))
        await asyncio.sleep(0)
        while not more.done():
            head = log.head
            await log.sync_projections()
            assert position(path) >= head
            await asyncio.sleep(0.001)
        await more
    live = _dump(path)
    assert position(path) == 60 * 250 and len(live["history"]) == 60 * 250
    async with open_log(str(path), synchronous="normal") as log:
        assert await log.rebuild() == 60 * 250
    assert _dump(path) == live


CRASHING = textwrap.dedent("""
    import asyncio, sys
    import hub.backlog
    from hub.log import open_log
    from tests.core.test_backlog import changes
    hub.backlog.DEFER_MIN_BATCH, hub.backlog.DEFER_EVENTS = 100, 3000

    async def main():
        async with open_log(sys.argv[1], synchronous="full") as log:
            async def producer(k):
                for b in range(200):
                    await log.append_many(changes(400, 12, (b * 4 + k) * 400), supplied_ids=False)
                    if log.backlog.flush is not None and log.backlog.flushed and log.head > 20_000:
                        print(log.head, flush=True)  # a flush half written: kill me now
            await asyncio.gather(*(producer(k) for k in range(4)))
        print("no flush was seen", flush=True)
    asyncio.run(main())
""")


def test_kill_9_in_the_middle_of_a_flush_loses_and_doubles_nothing(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    root = Path(__file__).parents[2]
    proc = subprocess.Popen([sys.executable, "-c", CRASHING, str(path)], stdout=subprocess.PIPE, text=True,
                            cwd=root, env={**os.environ, "PYTHONPATH": str(root)})
    try:
        assert proc.stdout is not None
        acknowledged = int(proc.stdout.readline())  # a head whose appends had returned
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    assert position(path) < acknowledged  # the projections were behind when it died

    async def reopen() -> tuple[int, dict[str, list[tuple[object, ...]]]]:
        async with open_log(str(path), synchronous="normal") as log:  # opening catches them up
            head = log.head
        caught_up = _dump(path)
        async with open_log(str(path), synchronous="normal") as log:
            await log.rebuild()
        return head, caught_up

    head, caught_up = asyncio.run(reopen())
    assert head >= acknowledged and position(path) == head
    assert len(caught_up["history"]) == head  # every state change once, none twice
    assert _dump(path) == caught_up
