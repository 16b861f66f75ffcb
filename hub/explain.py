"""Why something happened: walk the causation of an event back to its first cause, and
list what it caused in turn, as data and as a short readable chain."""

from __future__ import annotations

import json
from typing import Any

from hub import events as ev
from hub.errors import UserError
from hub.events import Event
from hub.log import EventLog
from hub.store import EventFilter
from hub.times import to_iso

MAX_DEPTH = 50


def describe(event: Event) -> str:
    """One line in words for an event."""
    d = event.data
    who = event.entity_id or "-"
    if event.type == ev.STATE_CHANGED:
        old = (d.get("old_state") or {}).get("state")
        new = (d.get("new_state") or {}).get("state")
        return f"{who} changed from {old} to {new}" if old is not None else f"{who} became {new}"
    if event.type == ev.COMMAND_REQUESTED:
        data = d.get("data") or {}
        extra = f" with {json.dumps(data, separators=(',', ':'))}" if data else ""
        return f"{event.source} requested {d.get('command')} on {', '.join(d.get('target') or [])}{extra}"
    if event.type == ev.COMMAND_SUCCEEDED:
        return f"{d.get('command')} on {', '.join(d.get('target') or [])} succeeded ({d.get('duration_ms')} ms)"
    if event.type == ev.COMMAND_FAILED:
        return f"{d.get('command')} on {', '.join(d.get('target') or [])} failed: {d.get('reason')}"
    if event.type == ev.AUTOMATION_TRIGGERED:
        name = d.get("alias") or d.get("automation") or event.source
        trig = d.get("trigger") or {}
        desc = trig.get("description") if isinstance(trig, dict) else None
        return f"automation {name} triggered" + (f" by {desc}" if desc else "")
    if event.type == ev.AUTOMATION_FINISHED:
        return f"automation {d.get('alias') or d.get('automation') or event.source} finished: {d.get('result', 'done')}"
    if event.type == ev.DEVICE_EVENT:
        return f"{who} reported {d.get('event_type', 'an event')}"
    if event.type == ev.MQTT_MESSAGE:
        return f"MQTT message on {d.get('topic')}: {str(d.get('payload'))[:80]}"
    if event.type == ev.SCHEDULE_FIRED:
        return f"schedule {d.get('schedule') or event.source} fired"
    if event.type == ev.INTEGRATION_STATUS:
        return f"integration {d.get('integration') or event.source} is {d.get('status')}: {d.get('reason')}"
    return f"{event.type} from {event.source} on {who}"


async def last_change(log_: EventLog, entity_id: str) -> int | None:
    """The seq of an entity's last state change (the one behind its current state); without a
    state, of its last event; None if it has none."""
    await log_.sync_projections()
    seq = await log_.backend.change_seq(entity_id)
    if seq is None:
        found = await log_.read(EventFilter(entity_id=entity_id, descending=True, limit=1))
        seq = found[0].seq if found else None
    return seq


async def change_at(log_: EventLog, entity_id: str, at: int) -> int | None:
    """The seq of the state change of an entity in force at `at` (its last one at or before it, from
    the history projection); None if it had no state then."""
    await log_.sync_projections()
    return await log_.backend.change_seq(entity_id, at)


async def change_of(log_: EventLog, entity_id: str, at: int | None = None, *, tz: Any = None) -> int:
    """The seq of an entity's last change, or with `at` of the change in force then; a UserError
    saying why when there is none."""
    if at is None:
        seq = await last_change(log_, entity_id)
        if seq is None:
            raise UserError(f"no events of {entity_id} in the log")
    else:
        seq = await change_at(log_, entity_id, at)
        if seq is None:
            raise UserError(f"{entity_id} had no recorded state at {to_iso(at, tz)}")
    return seq


async def explain(log_: EventLog, seq: int, *, tz: Any = None, effects: int = 20) -> dict[str, Any]:
    """The chain of causes from the first cause to `seq`, and up to `effects` direct effects."""
    event = await log_.get(seq)
    if event is None:
        head = await log_.backend.head()
        raise UserError(f"no event with seq {seq} (the log holds 1..{head}; old events may be dropped by retention)")
    chain = [event]
    seen = {seq}
    while chain[0].causation is not None and len(chain) < MAX_DEPTH:
        cause = await log_.get(chain[0].causation)
        if cause is None or cause.seq in seen:
            break
        seen.add(cause.seq or 0)
        chain.insert(0, cause)
    caused = await log_.read(EventFilter(causation=seq, limit=effects))
    first = chain[0]
    note = None
    if first.causation is not None:
        note = f"the chain goes on before seq {first.causation}, which is no longer in the log"
    elif first.type == ev.STATE_CHANGED and first.source not in ("hub",):
        note = f"the first cause was reported by {first.source} (a device or integration)"
    return {
        "seq": seq,
        "chain": [{**e.to_dict(tz), "summary": describe(e)} for e in chain],
        "caused": [{**e.to_dict(tz), "summary": describe(e)} for e in caused],
        "note": note,
    }


def format_chain(result: dict[str, Any]) -> str:
    lines = []
    for i, item in enumerate(result["chain"]):
        arrow = "   " if i == 0 else "-> "
        lines.append(f"{arrow}[{item['seq']}] {item['time']}  {item['summary']}")
    if result["caused"]:
        lines.append("which caused:")
        lines.extend(f"   [{c['seq']}] {c['time']}  {c['summary']}" for c in result["caused"])
    if result.get("note"):
        lines.append(f"({result['note']})")
    return "\n".join(lines)
