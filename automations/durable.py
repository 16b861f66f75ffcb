"""Durable timers: at start, pending `for:` and delays resume from what the log says.

- A `for:` on a state or numeric_state trigger is derived from the entity's current
  state and the state_changed that made it so (its `last_changed`): if the state
  still qualifies and no automation_triggered of that trigger has recorded it since,
  the timer is armed for the remaining time (or fires at once if it elapsed while
  the hub was down).
- A top-level `delay` appends `automation_waiting` (run, step, until, variables)
  before it sleeps; a run with such a fact and no automation_finished resumes after
  that step when `until` comes. Nested delays (inside choose, repeat, ...) and waits
  are not resumed: the run is recorded as finished with an `interrupted` error.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from automations import models as m
from automations.effects import AUTOMATION_WAITING
from automations.runner import Run
from automations.triggers import NumericArmed, StateArmed
from hub import events as ev
from hub.store import EventFilter

if TYPE_CHECKING:
    from automations.engine import AutomationEngine

log = logging.getLogger(__name__)

WAIT_LOOKBACK_US = 7 * 86_400_000_000


async def resume(engine: AutomationEngine) -> None:
    await resume_for_timers(engine)
    await resume_delays(engine)


async def resume_for_timers(engine: AutomationEngine) -> None:
    read = engine.log.read
    for slot in engine.slots.values():
        for armed in slot.armed:
            if not isinstance(armed, (StateArmed, NumericArmed)) or getattr(armed.spec, "for_", None) is None:
                continue
            for eid in armed.spec.entity_id:
                state = engine.reader.get(eid)
                if state is None:
                    continue
                since = state.last_updated if getattr(armed.spec, "attribute", None) else state.last_changed
                found = await read(EventFilter(types=(ev.STATE_CHANGED,), entity_id=eid, since=since,
                                               descending=True, limit=200))
                change = _change_event(found, state.state, bool(getattr(armed.spec, "attribute", None)))
                if change is None:
                    continue
                fired = await read(EventFilter(types=(ev.AUTOMATION_TRIGGERED,), source=slot.rule.source,
                                               since=change.time, limit=1000))
                if any(_same(e.data.get("trigger") or {}, armed.idx, eid) for e in fired):
                    continue
                engine.ctx.cause = (change.seq, change.correlation)
                try:
                    armed.on_event(change)
                finally:
                    engine.ctx.cause = None
                if eid in armed.pending:
                    log.info("%s: resumed the `for:` of trigger %d on %s", slot.rule.source, armed.idx, eid)


def _change_event(found: list[Any], current: str, attribute: bool) -> Any:
    """The state_changed (newest first in `found`) that made the entity's current state."""
    if attribute:
        return found[0] if found else None
    for event in found:
        old = event.data.get("old_state") or {}
        if old.get("state") != current:
            return event
    return None


def _same(trigger: dict[str, Any], idx: int, eid: str) -> bool:
    return str(trigger.get("idx")) == str(idx) and trigger.get("entity_id") == eid


async def resume_delays(engine: AutomationEngine) -> None:
    now = engine.clock.now()
    waits = await engine.log.read(EventFilter(types=(AUTOMATION_WAITING,), since=now - WAIT_LOOKBACK_US,
                                              descending=True, limit=1000))
    latest: dict[int, Any] = {}
    for event in waits:
        run_seq = event.data.get("run")
        if isinstance(run_seq, int) and run_seq not in latest:
            latest[run_seq] = event
    for run_seq, event in sorted(latest.items()):
        done = await engine.log.read(EventFilter(types=(ev.AUTOMATION_FINISHED,), causation=run_seq, limit=1))
        if done:
            continue
        data = event.data
        slot = engine.slots.get(str(data.get("automation")))
        step = data.get("step")
        rule = slot.rule if slot is not None else None
        run = Run(engine, rule, dict(data.get("variables") or {}), correlation=event.correlation,
                  causation=None) if rule is not None else None
        if run is None or slot is None or not isinstance(step, int) or step >= len(rule.actions) \
                or not isinstance(rule.actions[step], m.DelayAction):
            log.warning("run %s of %s cannot resume after the restart (the automation changed or is gone)",
                        run_seq, data.get("automation"))
            continue
        run.seq = run_seq
        run.resume_from = step + 1
        until = data.get("until_us") if isinstance(data.get("until_us"), int) else now
        log.info("%s: resuming run %s after its delay (step %d)", rule.source, run_seq, step)
        engine.spawn(_resume_run(engine, slot, run, until))


async def _resume_run(engine: AutomationEngine, slot: Any, run: Run, until: int) -> None:
    run.steps.append({"path": f"action/{run.resume_from - 1}", "action": "delay", "resumed": True})
    if until > engine.clock.now():
        await engine.suspend(engine.clock.future_at(until))
    await engine._execute(slot, run)
