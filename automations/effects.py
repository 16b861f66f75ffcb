"""What a run does to the world: live it appends facts and commands to the log; in replay, nothing.

Live effects append `automation_triggered` before the first action (its seq is the
causation of every command the run sends), `automation_waiting` before each
top-level delay (so the delay survives a restart), and `automation_finished` with
the trace.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Protocol

from hub import events as ev
from hub.commands import request_event
from hub.errors import CommandError, HubError
from hub.events import Event
from hub.times import to_iso

if TYPE_CHECKING:
    from automations.runner import Run
    from hub.log import EventLog

log = logging.getLogger(__name__)

AUTOMATION_WAITING = "automation_waiting"
MAX_TRACE_BYTES = 512 * 1024


class Effects(Protocol):
    async def begin(self, run: Run, trigger: dict[str, Any], passed: bool, *, defer: bool = False) -> int: ...
    async def command(self, run: Run, command: str, targets: list[str], data: dict[str, Any]) -> dict[str, Any]: ...
    async def fire(self, run: Run, event_type: str, data: dict[str, Any]) -> None: ...
    async def waiting(self, run: Run, step: int, until: int) -> None: ...
    async def finish(self, run: Run) -> None: ...
    async def schedule_fired(self, schedule_id: str, scheduled: int, catch_up: bool) -> tuple[int, str]: ...


def trace_data(run: Run) -> dict[str, Any]:
    """automation_finished's data: the whole trace of the run."""
    from automations.runner import jsonable

    data: dict[str, Any] = {
        run.rule.kind: run.rule.id, "run": run.seq, "result": run.result, "error": run.error,
        "started": to_iso(run.started), "finished": to_iso(run.host.clock.now()),
        "duration_ms": round((run.host.clock.now() - run.started) / 1000, 3),
        "steps": jsonable(run.steps), "commands": jsonable(run.commands),
    }
    if run.truncated:
        data["truncated"] = True
    return data


def triggered_data(run: Run, trigger: dict[str, Any], passed: bool) -> dict[str, Any]:
    from automations.runner import jsonable

    return {run.rule.kind: run.rule.id, "alias": run.rule.alias, "trigger": jsonable(trigger),
            "conditions": jsonable(run.conditions), "passed": passed, "mode": run.rule.mode}


class Outcomes:
    """Futures for command outcomes, resolved as the engine reads them from the log."""

    def __init__(self) -> None:
        self.waiting: dict[int, asyncio.Future[Event | None]] = {}
        self.early: OrderedDict[int, Event] = OrderedDict()

    def seen(self, event: Event) -> None:
        cause = event.causation
        if cause is None:
            return
        future = self.waiting.pop(cause, None)
        if future is not None:
            if not future.done():
                future.set_result(event)
            return
        self.early[cause] = event
        while len(self.early) > 2000:
            self.early.popitem(last=False)

    def expect(self, seq: int) -> asyncio.Future[Event | None]:
        future: asyncio.Future[Event | None] = asyncio.get_running_loop().create_future()
        early = self.early.pop(seq, None)
        if early is not None:
            future.set_result(early)
        else:
            self.waiting[seq] = future
        return future


class LiveEffects:
    """Effects through the event log of the daemon."""

    def __init__(self, log_: EventLog, outcomes: Outcomes, clock: Any, *, command_timeout: float = 10.0) -> None:
        self.log = log_
        self.clock = clock
        self.outcomes = outcomes
        self.command_timeout = command_timeout

    async def begin(self, run: Run, trigger: dict[str, Any], passed: bool, *, defer: bool = False) -> int:
        """Record the run. With `defer` (its first action is a command) the record waits for that
        command and both go into the log in one commit, halving trigger-to-command latency."""
        event = Event(ev.AUTOMATION_TRIGGERED, run.rule.source, None, triggered_data(run, trigger, passed),
                      time=run.host.clock.now(), causation=run.causation, correlation=run.correlation)
        if defer and passed:
            run.pending_begin = event
            return 0
        stored = await self.log.append(event)
        return stored.seq or 0

    async def _flush(self, run: Run) -> None:
        """Store a deferred automation_triggered (idempotent by id, so a retry after cancel is safe)."""
        if run.pending_begin is not None:
            stored = await self.log.append(run.pending_begin)
            run.seq, run.pending_begin = stored.seq, None

    async def command(self, run: Run, command: str, targets: list[str], data: dict[str, Any]) -> dict[str, Any]:
        try:
            request = request_event(command, targets, data, source=run.rule.source, causation=run.seq,
                                    correlation=run.correlation)
        except CommandError as exc:
            await self._flush(run)
            return {"outcome": "failed", "reason": str(exc)}
        request.time = run.host.clock.now()
        if run.pending_begin is not None:
            request.causation = ev.PREVIOUS
            triggered, stored = await self.log.append_many([run.pending_begin, request])
            run.seq, run.pending_begin = triggered.seq, None
        else:
            stored = await self.log.append(request)
        seq = stored.seq or 0
        future = self.outcomes.expect(seq)
        timer = run.host.clock.call_at(run.host.clock.now() + int(self.command_timeout * 1_000_000),
                                       lambda: future.done() or future.set_result(None))
        try:
            outcome = await run.host.suspend(future)
        finally:
            timer.cancel()
            self.outcomes.waiting.pop(seq, None)
        if outcome is None:
            return {"request": seq, "outcome": "failed",
                    "reason": f"no outcome within {self.command_timeout:g}s (is its integration running?)"}
        result: dict[str, Any] = {"request": seq, "outcome_seq": outcome.seq}
        if outcome.type == ev.COMMAND_FAILED:
            result.update(outcome="failed", reason=outcome.data.get("reason"))
        else:
            result.update(outcome="succeeded")
            if outcome.data.get("result"):
                result["result"] = outcome.data["result"]
        return result

    async def fire(self, run: Run, event_type: str, data: dict[str, Any]) -> None:
        await self._flush(run)
        try:
            await self.log.append(Event(event_type, run.rule.source, None, data, causation=run.seq,
                                        correlation=run.correlation, time=run.host.clock.now()))
        except HubError as exc:
            from automations.runner import RunError

            raise RunError(f"event {event_type}: {exc}") from None

    async def waiting(self, run: Run, step: int, until: int) -> None:
        from automations.runner import jsonable

        await self._flush(run)
        await self.log.append(Event(AUTOMATION_WAITING, run.rule.source, None, {
            run.rule.kind: run.rule.id, "run": run.seq, "step": step, "until": to_iso(until), "until_us": until,
            "variables": jsonable({k: v for k, v in run.variables.items() if k != "this"}),
        }, causation=run.seq, correlation=run.correlation, time=run.host.clock.now()))

    async def finish(self, run: Run) -> None:
        await self._flush(run)
        data = trace_data(run)
        event = Event(ev.AUTOMATION_FINISHED, run.rule.source, None, data, causation=run.seq,
                      correlation=run.correlation, time=run.host.clock.now())
        try:
            await self.log.append(event)
        except HubError as exc:  # a trace too large for one event: keep the outcome, drop the steps
            log.warning("%s: trace of run %s not stored whole: %s", run.rule.source, run.seq, exc)
            data["steps"], data["truncated"] = data["steps"][:50], True
            await self.log.append(Event(ev.AUTOMATION_FINISHED, run.rule.source, None, data,
                                        causation=run.seq, correlation=run.correlation))

    async def schedule_fired(self, schedule_id: str, scheduled: int, catch_up: bool) -> tuple[int, str]:
        from hub.events import new_id

        correlation = new_id()
        stored = await self.log.append(Event(ev.SCHEDULE_FIRED, f"schedule:{schedule_id}", None, {
            "schedule": schedule_id, "scheduled_for": to_iso(scheduled), "scheduled_us": scheduled,
            "catch_up": catch_up}, correlation=correlation, time=self.clock.now()))
        return stored.seq or 0, correlation
