"""Schedules: cron entries that append `schedule_fired` and fire an event or run actions.

With `catch_up: true`, a run missed while the hub was down fires once at start:
the last `schedule_fired` in the log says when the schedule last ran.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from automations import cron
from automations.clock import Timer
from automations.config import Schedule
from automations.runner import Rule, Run
from hub import events as ev
from hub.store import EventFilter

if TYPE_CHECKING:
    from automations.engine import AutomationEngine

log = logging.getLogger(__name__)


class Schedules:
    def __init__(self, engine: AutomationEngine) -> None:
        self.engine = engine
        self.timers: dict[str, Timer] = {}

    def _zone(self, sched: Schedule) -> ZoneInfo:
        return ZoneInfo(sched.timezone) if sched.timezone else self.engine.rules.timezone

    def arm(self) -> None:
        for sched in self.engine.rules.schedules:
            if sched.enabled:
                self._schedule(sched, self.engine.clock.now())

    def disarm(self) -> None:
        for timer in self.timers.values():
            timer.cancel()
        self.timers.clear()

    def _schedule(self, sched: Schedule, after: int) -> None:
        when = cron.next_fire(sched.cron, after, self._zone(sched))
        self.timers[sched.id] = self.engine.clock.call_at(when, lambda: self._due(sched, when))

    def _due(self, sched: Schedule, when: int) -> None:
        self._schedule(sched, when)
        self.engine.spawn(self.fire(sched, when, catch_up=False))

    async def fire(self, sched: Schedule, when: int, *, catch_up: bool) -> None:
        """Append schedule_fired, then its event and/or run its actions (caused by it)."""
        engine = self.engine
        seq, correlation = await engine.effects.schedule_fired(sched.id, when, catch_up)
        rule = Rule("schedule", sched.id, None, sched.actions or [])
        run = Run(engine, rule, {}, correlation=correlation, causation=seq)
        run.seq = seq
        if sched.event is not None:
            await engine.effects.fire(run, sched.event, {"schedule": sched.id, **sched.event_data})
        if sched.actions:
            run.variables = engine._variables(rule, {"platform": "schedule", "id": sched.id, "catch_up": catch_up})
            run.seq = await engine.effects.begin(run, {"platform": "schedule", "id": sched.id}, True)
            await run.execute()
            await engine.effects.finish(run)

    async def catch_up(self) -> None:
        """Fire once each catch_up schedule whose run was missed since it last fired (live log only)."""
        engine = self.engine
        if engine.log is None:
            return
        now = engine.clock.now()
        for sched in engine.rules.schedules:
            if not (sched.enabled and sched.catch_up):
                continue
            last = await engine.log.read(EventFilter(types=(ev.SCHEDULE_FIRED,), source=f"schedule:{sched.id}",
                                                     descending=True, limit=1))
            if not last:
                continue
            previous = last[0].data.get("scheduled_us")
            if not isinstance(previous, int):
                continue
            missed = cron.next_fire(sched.cron, previous, self._zone(sched))
            latest = missed
            while True:  # the most recent missed time, fired once
                following = cron.next_fire(sched.cron, latest, self._zone(sched))
                if following > now:
                    break
                latest = following
            if missed <= now:
                log.info("schedule %s: catching up the run missed at %s", sched.id, latest)
                engine.spawn(self.fire(sched, latest, catch_up=True))

    def next_runs(self) -> dict[str, Any]:
        return {sid: t.when for sid, t in self.timers.items()}
