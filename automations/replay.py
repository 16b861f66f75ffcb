"""Replay: run rules over recorded history with simulated time, executing nothing.

`hub automations test FILE [--since 7d]` calls `replay()` and prints
`format_text()` or `format_json()`. Time is a ManualClock moved to each recorded
event's time, so `for:`, delays, cron, time and sun triggers fire when they would
have; commands and events are recorded as "would send", never appended.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automations.clock import ManualClock
from automations.config import RuleSet, load_rules_file
from automations.effects import triggered_data
from automations.engine import AutomationEngine
from automations.runner import Run, jsonable
from hub import events as ev
from hub.events import Event
from hub.projections import state_from_data
from hub.states import State
from hub.store import EventFilter
from hub.times import now_us, to_iso

PAGE = 10_000


@dataclass
class ReplayReport:
    """Every run that would have happened, in order."""

    file: str
    since: int
    until: int
    events: int = 0
    runs: list[dict[str, Any]] = field(default_factory=list)
    elapsed_s: float = 0.0
    automations: int = 0

    def to_dict(self, tz: Any = None) -> dict[str, Any]:
        return {"file": self.file, "since": to_iso(self.since, tz), "until": to_iso(self.until, tz),
                "events": self.events, "automations": self.automations, "elapsed_s": round(self.elapsed_s, 3),
                "runs": self.runs}


class SimStates:
    """States as of the replay's current moment (built lazily from state_changed data)."""

    def __init__(self, initial: dict[str, State]) -> None:
        self._states = initial
        self._raw: dict[str, tuple[dict[str, Any] | None, int]] = {}

    def apply(self, event: Event) -> None:
        if event.type == ev.STATE_CHANGED and event.entity_id:
            self._raw[event.entity_id] = (event.data.get("new_state"), event.time)
        elif event.type == ev.ENTITY_REMOVED and event.entity_id:
            self._raw[event.entity_id] = (None, event.time)

    def get(self, entity_id: str) -> State | None:
        raw = self._raw.pop(entity_id, None)
        if raw is not None:
            state = state_from_data(entity_id, raw[0], raw[1])
            if state is None:
                self._states.pop(entity_id, None)
            else:
                self._states[entity_id] = state
        return self._states.get(entity_id)

    def all(self) -> list[State]:
        for eid in list(self._raw):
            self.get(eid)
        return list(self._states.values())


class ReplayEffects:
    """Effects that record what a run would have done."""

    def __init__(self, report: ReplayReport, clock: ManualClock) -> None:
        self.report = report
        self.clock = clock
        self.engine: AutomationEngine | None = None
        self._seq = 0
        self._records: dict[int, dict[str, Any]] = {}

    def _next(self) -> int:
        self._seq -= 1
        return self._seq

    async def begin(self, run: Run, trigger: dict[str, Any], passed: bool, *, defer: bool = False) -> int:
        seq = self._next()
        record = {"time": to_iso(self.clock.now(), self.engine.rules.timezone if self.engine else None),
                  "time_us": self.clock.now(), "caused_by": run.causation,
                  **triggered_data(run, trigger, passed), "commands": [], "events": [], "result": "pending"}
        self._records[seq] = record
        self.report.runs.append(record)
        return seq

    async def command(self, run: Run, command: str, targets: list[str], data: dict[str, Any]) -> dict[str, Any]:
        record = self._records.get(run.seq or 0)
        if record is not None:
            record["commands"].append({"command": command, "target": targets, "data": jsonable(data),
                                       "time": to_iso(self.clock.now())})
        return {"outcome": "not executed (replay)"}

    async def fire(self, run: Run, event_type: str, data: dict[str, Any]) -> None:
        record = self._records.get(run.seq or 0)
        if record is not None:
            record["events"].append({"event": event_type, "data": data})
        if self.engine is not None:  # other rules in the file may listen for it
            self.engine.dispatch(Event(event_type, run.rule.source, None, data, time=self.clock.now(),
                                       correlation=run.correlation))

    async def waiting(self, run: Run, step: int, until: int) -> None:
        return None

    async def finish(self, run: Run) -> None:
        record = self._records.pop(run.seq or 0, None)
        if record is not None:
            record["result"] = run.result
            if run.error:
                record["error"] = run.error
            if run.steps:
                record["steps"] = jsonable(run.steps)

    async def schedule_fired(self, schedule_id: str, scheduled: int, catch_up: bool) -> tuple[int, str]:
        seq = self._next()
        record = {"time": to_iso(scheduled), "time_us": scheduled, "schedule": schedule_id, "commands": [],
                  "events": [], "result": "fired"}
        self._records[seq] = record
        self.report.runs.append(record)
        return seq, f"replay:{seq}"


async def _initial_states(log_: Any, since: int) -> dict[str, State]:
    states: dict[str, State] = {}
    backend = log_.backend
    for eid in await backend.entity_ids():
        rows = await backend.history(eid, since, since, limit=0, include_start_state=True)
        if rows:
            states[eid] = rows[0]
    return states


async def replay(log_: Any, rules_file: str | Path | RuleSet, since_us: int, *, until_us: int | None = None,
                 hub: Any = None) -> ReplayReport:
    """Run the rules in `rules_file` over the log from `since_us` (to now); returns what would have run."""
    started = time.perf_counter()
    rules = rules_file if isinstance(rules_file, RuleSet) else load_rules_file(rules_file, hub)
    until = until_us if until_us is not None else now_us()
    report = ReplayReport(str(rules_file) if not isinstance(rules_file, RuleSet) else "(rules)", since_us, until,
                          automations=len(rules.automations))
    clock = ManualClock(since_us)
    effects = ReplayEffects(report, clock)
    states = SimStates(await _initial_states(log_, since_us))
    engine = AutomationEngine(None, rules=rules, clock=clock, effects=effects, reader=states,
                              registry=log_.registry(), after=0)
    effects.engine = engine
    engine.arm_all()
    position = 0
    try:
        while True:
            page = await log_.read(EventFilter(after=position, since=since_us, until=until, limit=PAGE))
            if not page:
                break
            position = page[-1].seq or position
            for event in page:
                if event.time > clock.now():
                    await clock.advance_to(event.time)
                states.apply(event)
                engine.dispatch(event)
                if engine.busy:
                    await engine.settle()
            report.events += len(page)
        await clock.advance_to(until)
        await engine.settle()
    finally:
        engine.disarm_all()
        await engine.stop_runs()
    for run in report.runs:
        run.pop("time_us", None)
        if run.get("result") == "pending":
            run["result"] = "still running at the end of the window"
    report.elapsed_s = time.perf_counter() - started
    return report


def _trigger_text(trigger: dict[str, Any]) -> str:
    platform = trigger.get("platform", "?")
    if platform in ("state", "numeric_state"):
        old = (trigger.get("from_state") or {}).get("state")
        new = (trigger.get("to_state") or {}).get("state")
        return f"{platform} {trigger.get('entity_id')} {old} -> {new}"
    if platform == "event":
        return f"event {(trigger.get('event') or {}).get('event_type')}"
    if platform == "mqtt":
        return f"mqtt {trigger.get('topic')} {str(trigger.get('payload'))[:40]!r}"
    return str(platform)


def format_text(report: ReplayReport) -> str:
    """The report for humans: one block per run."""
    lines = [f"{report.file}: {report.automations} automations over {report.events} events "
             f"from {report.since and to_iso(report.since)} to {to_iso(report.until)} "
             f"({report.elapsed_s:.1f}s): {len(report.runs)} runs"]
    for run in report.runs:
        if "schedule" in run:
            lines.append(f"{run['time']}  schedule {run['schedule']} fired")
        else:
            conds = run.get("conditions") or []
            verdict = "conditions passed" if run.get("passed") else "conditions failed: " + ", ".join(
                f"{c.get('path')} {c.get('condition')}" for c in conds if c.get("result") is False)
            lines.append(f"{run['time']}  {run.get('automation') or run.get('script')}  "
                         f"[{_trigger_text(run.get('trigger') or {})}]  {verdict}  -> {run.get('result')}"
                         + (f" ({run['error']})" if run.get("error") else ""))
        for cmd in run.get("commands", []):
            data = f" {json.dumps(cmd['data'], ensure_ascii=False)}" if cmd.get("data") else ""
            lines.append(f"    would send {cmd['command']} to {', '.join(cmd['target'])}{data}")
        for fired in run.get("events", []):
            lines.append(f"    would fire event {fired['event']}")
    return "\n".join(lines)


def format_json(report: ReplayReport) -> str:
    return json.dumps(report.to_dict(), ensure_ascii=False, indent=2)
