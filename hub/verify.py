"""`hub verify`: the database's integrity check, the append-only guards, seq continuity,
and the projections checked against the log."""

from __future__ import annotations

import json
from typing import Any

from hub.errors import StoreError
from hub.events import STATE_CHANGED
from hub.store import Backend, EventFilter


async def verify(backend: Backend) -> dict[str, Any]:
    """A report: ok, problems, summary. Never raises for a damaged database: it says so."""
    problems: list[str] = []
    try:
        await backend.open(create=False)
    except StoreError as exc:
        return {"ok": False, "problems": [str(exc)], "summary": "the database cannot be opened"}
    try:
        problems.extend(await backend.integrity_problems())
        if problems:
            return {"ok": False, "problems": problems, "summary": "the database file is damaged"}
        head = await backend.head()
        positions = await backend.positions()
        lag = {name: head - pos for name, pos in positions.items() if pos < head}
        if lag:
            problems.append(f"projections behind the log by {max(lag.values())} events "
                            "(normal while no daemon runs after `hub send`; `hub run` catches them up)")
        checked = 0
        caught_up = not lag
        if caught_up:
            for state in await backend.load_states():
                last = await backend.read(EventFilter(types=(STATE_CHANGED,), entity_id=state.entity_id,
                                                      descending=True, limit=1))
                if not last:
                    continue  # its history was compacted by retention; the state row stands
                new = last[0].data.get("new_state") or {}
                if new.get("state") != state.state or (new.get("attributes") or {}) != state.attributes:
                    problems.append(f"state of {state.entity_id} is {state.state!r} but the log's last change "
                                    f"(seq {last[0].seq}) says {new.get('state')!r}; run `hub rebuild`")
                checked += 1
        count = await backend.count(EventFilter())
        summary = (f"{count} events up to seq {head}, {checked} current states match the log, "
                   f"{json.dumps(positions)} projection positions")
        # Lag alone is not damage.
        ok = not [p for p in problems if not p.startswith("projections behind")]
        return {"ok": ok, "problems": problems, "summary": summary, "events": count, "head": head}
    finally:
        await backend.close()
