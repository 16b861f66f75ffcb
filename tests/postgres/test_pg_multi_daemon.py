"""Several hubs on one PostgreSQL log: concurrent appends, late commits, other processes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import asyncpg

from hub.events import Event
from hub.log import EventLog, open_log
from hub.store import EventFilter
from hub.store.postgres import PostgresBackend

APPEND_SECONDS = 3.0



async def test_two_daemons_appending_for_seconds_lose_and_duplicate_nothing(pg_url: str) -> None:
    async with open_log(pg_url) as home, open_log(pg_url) as garage:
        async with home.backend.daemon_lock("home"), garage.backend.daemon_lock("garage"):
            subs = [home.follow(after=0), garage.follow(after=0)]
            stored: list[list[Event]] = [[], []]

            async def daemon(i: int, log: EventLog) -> None:
                deadline = time.monotonic() + APPEND_SECONDS
                n = 0
                while time.monotonic() < deadline:
                    n += 1
                    stored[i] += await log.append_many(
                        [Event("device_event", f"site{i}", None, {"n": n, "k": k}) for k in range(n % 5 + 1)])
                    event = await log.report_state(f"sensor.site{i}_counter", str(n), {}, source=f"site{i}")
                    stored[i].append(event)  # type: ignore[arg-type]

            await asyncio.gather(daemon(0, home), daemon(1, garage))
            head = await home.backend.head()
            seen: list[list[Event]] = []
            for sub in subs:
                got: list[Event] = []
                async with asyncio.timeout(30):
                    async for event in sub:
                        got.append(event)
                        if event.seq == head:
                            break
                sub.close()
                seen.append(got)
    everything = stored[0] + stored[1]
    assert head == len(everything) and len({e.id for e in everything}) == head
    for got in seen:
        assert [e.seq for e in got] == list(range(1, head + 1))
        assert {e.id: e.seq for e in got} == {e.id: e.seq for e in everything}
    backend = PostgresBackend(pg_url)
    await backend.open(create=False)
    try:
        assert await backend.count(EventFilter()) == head
        assert await backend.integrity_problems() == []
        states = {s.entity_id: s.state for s in await backend.load_states()}
        for i in range(2):
            last = [e for e in stored[i] if e.type == "state_changed"][-1]
            assert states[f"sensor.site{i}_counter"] == last.data["new_state"]["state"]
            counts = await backend.statistics(f"sensor.site{i}_counter", 0, 2**62, "hour")
            assert sum(r["count"] for r in counts) == sum(e.type == "state_changed" for e in stored[i])
    finally:
        await backend.close()


async def test_a_reader_never_skips_an_event_that_commits_late(pg_url: str) -> None:
    async with open_log(pg_url) as first, open_log(pg_url) as second, open_log(pg_url, project=False) as reader:
        await first.append(Event("device_event", "first", None, {"i": 0}))
        sub = reader.follow(after=1)
        async with first.backend.transaction() as tx:  # a slow writer holds the head
            late = Event("device_event", "first", None, {"late": True}, seq=await tx.head() + 1)
            await tx.insert([late])
            racing = asyncio.create_task(second.append(Event("device_event", "second", None, {"early": True})))
            watcher = await asyncpg.connect(pg_url)
            try:  # the second writer waits for the head's row lock, whatever the timing
                async with asyncio.timeout(20):
                    while not await watcher.fetchval(
                            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                            "AND query LIKE '%log_head%' AND datname = current_database()"):
                        await asyncio.sleep(0.02)
            finally:
                await watcher.close()
            assert await reader.read(EventFilter(after=1)) == []  # nothing visible before the commit
        early = await racing
        assert (late.seq, early.seq) == (2, 3)
        async with asyncio.timeout(20):
            got = [await anext(sub), await anext(sub)]
        sub.close()
        assert [(e.seq, e.source) for e in got] == [(2, "first"), (3, "second")]


APPENDER = """
import asyncio, sys
from hub.events import Event
from hub.log import open_log

async def main(url, count):
    async with open_log(url) as log:
        for i in range(count):
            await log.append(Event("device_event", "other_process", None, {"i": i}))

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


async def test_another_process_appending_wakes_this_one(pg_url: str) -> None:
    async with open_log(pg_url, project=False) as log:
        sub = log.follow(after=0)
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", APPENDER, pg_url, "25",
                                                    stderr=subprocess.PIPE)
        try:
            async with asyncio.timeout(60):
                got = [await anext(sub) for _ in range(25)]
        finally:
            _, err = await proc.communicate()
            sub.close()
        assert proc.returncode == 0, err.decode()
        assert [e.data["i"] for e in got] == list(range(25))
        assert {e.source for e in got} == {"other_process"}


async def test_each_daemon_executes_only_the_commands_for_its_own_entities(pg_url: str) -> None:
    from hub import events as ev
    from hub.commands import CommandRouter, send_command
    from hub.integration import Command

    async with open_log(pg_url) as home, open_log(pg_url) as garage, open_log(pg_url, project=False) as cli:
        ran: dict[str, list[str]] = {"home": [], "garage": []}

        def owner(site: str, log: EventLog, prefix: str) -> tuple[object, object]:
            async def handle(cmd: Command) -> None:
                ran[site].append(cmd.entity_id or "")
                await log.report_state(cmd.entity_id or "", "on", {}, source=site, causation=cmd.seq)
            return (lambda t: t.startswith(prefix)), handle

        routers = []
        for site, log, prefix in (("home", home, "light.home_"), ("garage", garage, "light.garage_")):
            router = CommandRouter(log, timeout=5)
            owns, handle = owner(site, log, prefix)
            router.add_owner(site, owns, handle)  # type: ignore[arg-type]
            routers.append(asyncio.create_task(router.run(after=await log.backend.head())))
        try:
            await asyncio.sleep(0.2)
            request, outcome = await send_command(cli, "turn_on", ["light.home_hall", "light.garage_door"],
                                                  source="cli", timeout=10)
            _, orphan = await send_command(cli, "turn_on", "light.shed", source="cli", timeout=1)
        finally:
            for task in routers:
                task.cancel()
            await asyncio.gather(*routers, return_exceptions=True)
        assert ran == {"home": ["light.home_hall"], "garage": ["light.garage_door"]}
        assert outcome is not None and outcome.type == ev.COMMAND_SUCCEEDED
        outcomes = await cli.read(EventFilter(causation=request.seq, types=(ev.COMMAND_SUCCEEDED,)))
        assert sorted(t for o in outcomes for t in o.data["target"]) == ["light.garage_door", "light.home_hall"]
        assert orphan is None  # nobody owns it: no daemon answers, the requester times out
