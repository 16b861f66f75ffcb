"""Commands through the log: routing to the owner, outcomes with causation, timeouts, and
a request from another process executed by the daemon's router."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from hub import events as ev
from hub.commands import CommandRouter, send_command
from hub.errors import CommandError
from hub.integration import Command
from hub.log import EventLog, open_log
from hub.store import EventFilter


async def test_router_runs_the_owner_and_records_the_outcome(hub_log: EventLog) -> None:
    seen: list[Command] = []

    async def handle(cmd: Command) -> dict[str, Any] | None:
        seen.append(cmd)
        if cmd.data.get("brightness") == 999:
            raise CommandError("brightness must be 0-255")
        await hub_log.report_state(cmd.entity_id or "", "on", {}, source="demo", causation=cmd.seq)
        return None

    router = CommandRouter(hub_log, timeout=2)
    router.add_owner("demo", lambda t: t.startswith("light."), handle)
    task = asyncio.create_task(router.run(after=hub_log.head))
    try:
        req, ok = await send_command(hub_log, "light.turn_on", "light.porch", {"brightness": 10}, source="cli")
        _, bad = await send_command(hub_log, "turn_on", "light.porch", {"brightness": 999}, source="cli")
        _, orphan = await send_command(hub_log, "turn_on", "switch.nowhere", source="cli")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert req.data == {"command": "turn_on", "target": ["light.porch"], "data": {"brightness": 10}}
    assert ok is not None and ok.type == ev.COMMAND_SUCCEEDED and ok.causation == req.seq
    assert ok.correlation == req.correlation and ok.data["duration_ms"] >= 0
    assert bad is not None and bad.type == ev.COMMAND_FAILED and "0-255" in bad.data["reason"]
    assert orphan is not None and "no integration owns" in orphan.data["reason"]
    effect = await hub_log.read(EventFilter(types=(ev.STATE_CHANGED,), causation=req.seq))
    assert len(effect) == 1 and seen[0].seq == req.seq


async def test_a_hung_owner_times_out(hub_log: EventLog) -> None:
    async def hang(cmd: Command) -> None:
        await asyncio.sleep(60)

    router = CommandRouter(hub_log, timeout=0.2)
    router.add_owner("slow", lambda t: True, hang)
    task = asyncio.create_task(router.run(after=hub_log.head))
    try:
        _, outcome = await send_command(hub_log, "press", "button.x", source="cli", timeout=5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert outcome is not None and outcome.type == ev.COMMAND_FAILED
    assert "timed out after 0.2s" in outcome.data["reason"]


async def test_another_process_requests_and_sees_the_outcome(tmp_path: Path) -> None:
    path = str(tmp_path / "h.db")
    async with open_log(path, synchronous="normal") as daemon:
        async def handle(cmd: Command) -> None:
            await daemon.report_state("switch.pump", "on", {}, source="demo", causation=cmd.seq)

        router = CommandRouter(daemon, timeout=2)
        router.add_owner("demo", lambda t: t == "switch.pump", handle)
        task = asyncio.create_task(router.run(after=daemon.head))
        try:
            async with open_log(path, project=False, synchronous="normal") as cli:
                req, outcome = await send_command(cli, "turn_on", "switch.pump", source="cli", timeout=5)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert outcome is not None and outcome.type == ev.COMMAND_SUCCEEDED and outcome.causation == req.seq
        state = daemon.current_state("switch.pump")
        assert state is not None and state.state == "on"
