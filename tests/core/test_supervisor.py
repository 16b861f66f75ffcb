"""The supervisor: a failing integration is restarted with backoff and reported once per
transition, while the others keep running."""

from __future__ import annotations

import asyncio

from hub import events as ev
from hub.errors import AuthFailed, IntegrationError
from hub.integration import Integration, IntegrationConfig, IntegrationContext
from hub.log import EventLog
from hub.store import EventFilter
from hub.supervisor import Backoff, Supervisor


class Flaky(Integration):
    type = "flaky"

    def __init__(self, config: IntegrationConfig, ctx: IntegrationContext, fail: int) -> None:
        super().__init__(config, ctx)
        self.fail = fail
        self.starts = 0

    async def run(self) -> None:
        self.starts += 1
        if self.starts <= self.fail:
            raise IntegrationError("broker 127.0.0.1:1 refused the connection")
        await self.ctx.status("connected")
        await self.ctx.set_state("sensor.flaky", "1")
        await asyncio.Event().wait()


class Steady(Integration):
    type = "steady"

    async def run(self) -> None:
        await self.ctx.status("connected")
        n = 0
        while True:
            n += 1
            await self.ctx.set_state("sensor.steady", str(n))
            await asyncio.sleep(0.01)


def test_backoff_is_capped_and_auth_goes_to_the_cap() -> None:
    b = Backoff(1, 8)
    assert [b.next() for _ in range(5)] == [1, 2, 4, 8, 8]
    b.reset()
    assert b.next(auth=True) == 8


async def test_restart_with_backoff_status_once_per_transition(hub_log: EventLog) -> None:
    sup = Supervisor(initial_backoff=0.01, max_backoff=0.05)
    flaky = Flaky(IntegrationConfig(type="flaky", id="flaky"), IntegrationContext(hub_log, "flaky"), fail=5)
    steady = Steady(IntegrationConfig(type="steady", id="steady"), IntegrationContext(hub_log, "steady"))
    sup.add(flaky, flaky.ctx)
    sup.add(steady, steady.ctx)
    task = asyncio.create_task(sup.run())
    try:
        for _ in range(300):
            if hub_log.current_state("sensor.flaky") is not None:
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert flaky.starts == 6
    statuses = [(e.source, e.data["status"]) for e in await hub_log.read(
        EventFilter(types=(ev.INTEGRATION_STATUS,)))]
    assert statuses.count(("flaky", "unavailable")) == 1  # five failures, one transition
    assert ("flaky", "connected") in statuses and ("steady", "connected") in statuses
    steady_state = hub_log.current_state("sensor.steady")
    assert steady_state is not None and int(steady_state.state) > 5
    assert sup.status()["flaky"]["restarts"] == 5


async def test_auth_failure_is_reported_as_auth_failed(hub_log: EventLog) -> None:
    class Locked(Integration):
        type = "locked"

        async def run(self) -> None:
            raise AuthFailed("ring: token expired; run `hub ring login`")

    sup = Supervisor(initial_backoff=0.01, max_backoff=0.02)
    item = Locked(IntegrationConfig(type="locked", id="ring"), IntegrationContext(hub_log, "ring"))
    sup.add(item, item.ctx)
    task = asyncio.create_task(sup.run())
    await asyncio.sleep(0.1)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    events = await hub_log.read(EventFilter(types=(ev.INTEGRATION_STATUS,)))
    assert [e.data["status"] for e in events] == ["auth_failed"]
    assert "hub ring login" in events[0].data["reason"]
