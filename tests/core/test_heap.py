"""The garbage collector's settings (hub.heap) rest on one fact: the append paths make no reference
cycles, so what a burst leaves alive is reclaimed by reference counting alone."""

from __future__ import annotations

import asyncio
import gc

from hub import heap
from hub.events import Event
from hub.log import EventLog


async def _burst(log: EventLog, start: int) -> None:
    futures = [log.submit_state(f"sensor.s{i % 50}", str(i), {"unit_of_measurement": "W"}, source="test")
               for i in range(start, start + 3000)]
    await asyncio.gather(*(f for f in futures if f is not None))
    for i in range(20):
        await log.report_state(f"binary_sensor.b{i % 5}", "on" if i % 2 else "off", {}, source="test")
    await log.append_many([Event("device_event", "test", "event.bell", {"n": i}) for i in range(200)])
    await log.append_many([Event("state_changed", "test", f"sensor.m{i % 7}", {
        "old_state": None, "new_state": {"state": str(i), "attributes": {}}}) for i in range(500)],
        supplied_ids=False)
    await log.flush()


async def test_appending_makes_no_reference_cycles(hub_log: EventLog) -> None:
    await _burst(hub_log, 0)  # what the first appends make once (entities, caches) is not the question
    gc.collect()
    gc.disable()
    try:
        await _burst(hub_log, 3000)
        left = gc.collect()
    finally:
        gc.enable()
    assert left == 0, f"{left} objects of the append paths were reclaimable only by the collector"
    assert hub_log.current_state("sensor.s49") is not None  # the burst was appended and folded


def test_settle_freezes_and_makes_full_collections_rarer() -> None:
    threshold = gc.get_threshold()
    before = gc.get_freeze_count()
    try:
        made = [[] for _ in range(1000)]  # tracked objects alive before settling
        heap.settle()
        assert gc.get_freeze_count() >= before + len(made)
        assert gc.get_threshold() == (threshold[0], threshold[1], heap.FULL_EVERY)
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
