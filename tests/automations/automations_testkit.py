"""Test kit: a real event log, a CommandRouter with a small simulated house, the engine under a manual clock."""

from __future__ import annotations

import asyncio
import textwrap
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from automations.clock import ManualClock
from automations.engine import AutomationEngine
from hub.commands import CommandRouter
from hub.config import load_config
from hub.errors import CommandError
from hub.events import Event
from hub.integration import Command
from hub.log import EventLog
from hub.store import EventFilter
from hub.times import from_datetime

# Monday 2026-06-15 10:00 Europe/Berlin (08:00 UTC): a fixed start for simulated time.
START = from_datetime(datetime(2026, 6, 15, 8, 0, tzinfo=timezone.utc))


class House:
    """A command owner for lights, switches, sirens, locks, covers: records commands and reports state."""

    DOMAINS = ("light", "switch", "siren", "lock", "cover", "fan", "climate", "alarm_control_panel", "input_boolean",
               "media_player", "number", "select", "button", "mqtt")

    def __init__(self, log_: EventLog, clock: Any) -> None:
        self.log = log_
        self.clock = clock
        self.commands: list[Command] = []
        self.fail: set[str] = set()

    def owns(self, target: str) -> bool:
        return target.split(".", 1)[0] in self.DOMAINS or target == "router"

    async def handle(self, cmd: Command) -> dict[str, Any] | None:
        self.commands.append(cmd)
        target = cmd.entity_id or ""
        if target in self.fail:
            raise CommandError(f"{target} did not answer")
        new = {"turn_on": "on", "turn_off": "off", "lock": "locked", "unlock": "unlocked",
               "open_cover": "open", "close_cover": "closed", "alarm_arm_away": "armed_away",
               "alarm_disarm": "disarmed"}.get(cmd.command)
        if cmd.command == "toggle":
            cur = self.log.current_state(target)
            new = "off" if cur is not None and cur.state == "on" else "on"
        if new is not None and cmd.entity_id:
            attrs = {k: v for k, v in cmd.data.items() if isinstance(v, (int, float, str))}
            await self.log.report_state(cmd.entity_id, new, attrs, source="house", causation=cmd.seq,
                                        correlation=cmd.correlation, time=self.clock.now())
        return None

    def sent(self) -> list[tuple[str, str | None]]:
        return [(c.command, c.entity_id) for c in self.commands]


class Hub:
    """A log, a router with the house, and an engine under a manual clock, all running."""

    def __init__(self, log_: EventLog, tmp: Path) -> None:
        self.log = log_
        self.tmp = tmp
        self.clock = ManualClock(START)
        self.house = House(log_, self.clock)
        self.router = CommandRouter(log_, timeout=5)
        self.router.add_owner("house", self.house.owns, self.house.handle)
        self.engine: AutomationEngine | None = None
        self._tasks: list[asyncio.Task[Any]] = []

    def config(self, body: str, *, hub: str = "") -> Any:
        path = self.tmp / "config.yaml"
        head = hub or "hub:\n  timezone: Europe/Berlin\n  latitude: 52.52\n  longitude: 13.40\n  command_timeout: 2s\n"
        path.write_text(head + textwrap.dedent(body))
        return load_config(path)

    async def start(self, body: str, *, transport: Any = None, **kw: Any) -> AutomationEngine:
        cfg = self.config(body, **kw)
        engine = AutomationEngine(self.log, cfg, clock=self.clock)
        if transport is not None:
            from automations.scripts import register

            register(engine, self.router, transport=transport)
        else:
            engine.register_owners(self.router)
        self.engine = engine
        self._tasks.append(asyncio.create_task(self.router.run(self.log.head)))
        self._tasks.append(asyncio.create_task(engine.run()))
        await asyncio.sleep(0.01)
        await self.idle()
        return engine

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def idle(self) -> None:
        assert self.engine is not None
        for _ in range(3):
            await self.engine.idle()
            while self.router.in_flight:
                await asyncio.sleep(0.002)
        await self.engine.idle()

    async def set(self, entity_id: str, state: str, attributes: dict[str, Any] | None = None) -> None:
        await self.log.report_state(entity_id, state, attributes or {}, source="test", time=self.clock.now())
        if self.engine is not None:
            await self.idle()

    async def event(self, type_: str, data: dict[str, Any] | None = None, entity_id: str | None = None) -> Event:
        stored = await self.log.append(Event(type_, "test", entity_id, data or {}, time=self.clock.now()))
        await self.idle()
        return stored

    async def advance(self, seconds: float) -> None:
        await self.clock.advance(seconds)
        await self.idle()

    async def events(self, *types: str, source: str | None = None) -> list[Event]:
        return await self.log.read(EventFilter(types=types, source=source, limit=100_000))

    async def traces(self, automation: str | None = None) -> list[dict[str, Any]]:
        found = await self.events("automation_finished")
        return [e.data for e in found if automation is None or e.data.get("automation") == automation]




async def restart(hub: Hub, body: str, *, later_s: float) -> AutomationEngine:
    """Stop the engine and router as a daemon shutdown would, and start them again `later_s` later."""
    await hub.stop()
    hub.clock = ManualClock(hub.clock.now() + int(later_s * 1_000_000))
    hub.house.clock = hub.clock
    hub.router = CommandRouter(hub.log, timeout=5)
    hub.router.add_owner("house", hub.house.owns, hub.house.handle)
    engine = await hub.start(body)
    await hub.advance(0)  # what came due while the hub was down
    return engine
