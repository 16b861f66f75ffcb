"""Following the log: catch up from any seq, then live, with no gaps and no polling."""

from __future__ import annotations

import asyncio

from hub.events import Event
from hub.log import EventLog


async def _take(sub: object, n: int) -> list[Event]:
    out = []
    async for event in sub:  # type: ignore[attr-defined]
        out.append(event)
        if len(out) == n:
            break
    return out


async def test_catch_up_then_live_without_gaps(hub_log: EventLog) -> None:
    await hub_log.append_many([Event("device_event", "s", data={"i": i}) for i in range(2500)])
    sub = hub_log.follow(after=100)
    reader = asyncio.create_task(_take(sub, 2400 + 500))
    for i in range(50):
        await hub_log.append_many([Event("device_event", "s", data={"live": i, "j": j}) for j in range(10)])
    got = await asyncio.wait_for(reader, 10)
    sub.close()
    assert [e.seq for e in got] == list(range(101, 3001))


async def test_type_filter_and_slow_subscriber_falls_back_to_the_database(hub_log: EventLog) -> None:
    sub = hub_log.follow(after=0, types=("device_event",))
    sub.maxsize = 50  # a slow consumer: its live buffer overflows
    for i in range(20):
        await hub_log.append_many([Event("device_event", "s", data={"i": i * 10 + j}) for j in range(10)]
                                  + [Event("other_thing", "s")])
    got = await asyncio.wait_for(_take(sub, 200), 10)
    sub.close()
    assert [e.data["i"] for e in got] == list(range(200))
    assert all(e.type == "device_event" for e in got)


async def test_a_live_subscriber_wakes_on_append(hub_log: EventLog) -> None:
    sub = hub_log.follow()
    waiter = asyncio.create_task(_take(sub, 1))
    await asyncio.sleep(0.05)
    assert not waiter.done()
    stored = await hub_log.append(Event("device_event", "s"))
    got = await asyncio.wait_for(waiter, 2)
    sub.close()
    assert got[0].seq == stored.seq


async def test_a_subscriber_is_woken_only_for_events_it_follows(hub_log: EventLog) -> None:
    # The command router follows command_requested only: a commit of state changes must not wake it
    # (a task switch on every commit, on the path of every automation's command).
    class Counted(asyncio.Event):
        wakes = 0

        def set(self) -> None:
            Counted.wakes += 1
            super().set()

    sub = hub_log.follow(types=("command_requested",))
    sub._wake = Counted()
    first = asyncio.ensure_future(_take(sub, 1))
    await asyncio.sleep(0.05)  # caught up, waiting live
    woken = Counted.wakes
    await hub_log.append(Event("state_changed", "t", "light.a", {"new_state": None}))
    assert Counted.wakes == woken and not first.done()
    await hub_log.append(Event("command_requested", "t", "light.a", {"command": "turn_on"}))
    (event,) = await asyncio.wait_for(first, 5)
    assert event.type == "command_requested"
