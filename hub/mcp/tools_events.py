"""Tools: query_events (the log, cursor-paged) and explain (the causal chain of an event)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastmcp import FastMCP
from pydantic import Field

from hub import events as ev
from hub.errors import UserError
from hub.explain import change_of, format_chain
from hub.explain import explain as explain_seq
from hub.mcp.models import EventList, EventRow, Explanation
from hub.mcp.paging import fit, size_tokens
from hub.mcp.rows import answers_errors, bounded_data, event_row
from hub.mcp.tools_state import READ
from hub.mcp.view import HubView
from hub.store import EventFilter

GLOB = re.compile(r"^[a-z0-9_.*?\[\]]+$")
KNOWN_TYPES = {v for k, v in vars(ev).items() if k.isupper() and isinstance(v, str) and ev.EVENT_TYPE.match(v)}


def register(mcp: FastMCP[Any], hub: HubView) -> None:
    @mcp.tool(annotations=READ, title="Query events")
    @answers_errors
    async def query_events(
        types: Annotated[list[str] | None, Field(description="Event types, e.g. [\"device_event\"], "
                                                 "[\"command_requested\", \"command_failed\"], "
                                                 "[\"state_changed\"], [\"mqtt_message\"], [\"input_rejected\"].",
                                                 max_length=20)] = None,
        entity_id: Annotated[str | None, Field(description="One entity, or a glob like light.*.",
                                               max_length=255)] = None,
        source: Annotated[str | None, Field(description="Who appended: an integration id, mcp, cli, hub, "
                                            "automation:<id>.", max_length=128)] = None,
        since: Annotated[str | None, Field(description="ISO 8601 or a duration back from now (24h, 7d).")] = None,
        until: Annotated[str | None, Field(description="ISO 8601 or a duration back from now.")] = None,
        text: Annotated[str | None, Field(description="Plain text that must appear in the event's data "
                                          "(no wildcards). Slow on a large log without a window or type.",
                                          max_length=200)] = None,
        limit: Annotated[int, Field(ge=1, le=500, description="At most this many events.")] = 50,
        cursor: Annotated[str | None, Field(description="From a previous answer, to continue.")] = None,
    ) -> EventList:
        """The raw log, newest first: what happened, filtered by type, entity, source, time window and text.
        Use for 'what happened at', 'when did X last', 'which commands failed'. For why something happened
        use `explain`; for one entity's values over time use `get_history`."""
        type_list = tuple(dict.fromkeys(t.strip() for t in types or []))
        for t in type_list:
            if not ev.EVENT_TYPE.match(t):
                raise UserError(f"event type {t!r} is not snake_case (known: {', '.join(sorted(KNOWN_TYPES))})")
        entity = entity_id.strip() if entity_id else None
        glob = None
        if entity and any(c in entity for c in "*?["):
            if not GLOB.match(entity):
                raise UserError(f"entity pattern {entity!r} may hold only a-z, 0-9, _, ., * and ?")
            glob, entity = entity, None
        elif entity:
            await hub.check_entities([entity])
        query = {"types": type_list, "entity": entity, "glob": glob, "source": source, "since": since,
                 "until": until, "text": text}
        before = None
        if cursor:
            pos = hub.cursors.resume("query_events", query, cursor)
            before, start, end = int(pos["before"]), pos.get("since"), pos.get("until")
        else:
            start = hub.time(since, "", "since") if since else None
            end = hub.time(until, "", "until") if until else None
        if start is not None and end is not None and end <= start:
            raise UserError("the window is empty: since is not before until")
        flt = EventFilter(types=type_list, entity_id=entity, entity_glob=glob, source=source or None,
                          since=start, until=end, text=text or None, before=before, descending=True,
                          limit=limit + 1)
        found = await hub.log.read(flt)
        rows = [event_row(e, hub.tz) for e in found]
        kept, cut = fit(rows, hub.budget - 300, limit=limit)
        answer = EventList(events=kept)
        unknown = [t for t in type_list if t not in KNOWN_TYPES]
        if unknown:
            answer.note = f"not a type the hub writes: {', '.join(unknown)}"
        if cut and kept:
            answer.omitted = -1
            answer.cursor = hub.cursors.issue("query_events", query, {"before": kept[-1].seq, "since": start,
                                                                      "until": end})
            more = "more events match (newest first); pass the cursor for older ones"
            answer.note = f"{answer.note}; {more}" if answer.note else more
        return answer

    @mcp.tool(annotations=READ, title="Explain")
    @answers_errors
    async def explain(
        seq: Annotated[int | None, Field(ge=1, description="The event to explain (its seq).")] = None,
        entity_id: Annotated[str | None, Field(description="Or: explain this entity's last change.",
                                               max_length=255)] = None,
        at: Annotated[str | None, Field(description="With entity_id: the change in effect at this time (its last "
                                        "one at or before it), ISO 8601 or a duration back from now like 9h.",
                                        max_length=64)] = None,
    ) -> Explanation:
        """Why something happened: from an event (or an entity's last change) back through its causes to the
        first one (an MQTT message, a device's report, an automation run, a command and who sent it), and
        what it caused in turn, as data and as short readable lines."""
        if (seq is None) == (entity_id is None):
            raise UserError("give either seq (an event) or entity_id (its last change), not both or neither")
        if at is not None and entity_id is None:
            raise UserError("at goes with entity_id (a seq names one event already)")
        if seq is not None:
            target = seq
        else:
            entity_id = (entity_id or "").strip()
            await hub.check_entities([entity_id])
            target = await change_of(hub.log, entity_id, None if at is None else hub.time(at, "now", "at"), tz=hub.tz)
        result = await explain_seq(hub.log, target, tz=hub.tz)
        chain = [_row(item) for item in result["chain"]]
        caused = [_row(item) for item in result["caused"]]
        answer = Explanation(seq=target, chain=chain, caused=caused, text=format_chain(result),
                             note=result.get("note"))
        return _shrink(answer, result, hub.budget)


def _shrink(answer: Explanation, result: dict[str, Any], budget: int) -> Explanation:
    """Fit an explanation into the budget: drop data, then effects, then the middle of the chain."""
    def size() -> int:
        return size_tokens(answer.model_dump(mode="json"))

    if size() <= budget:
        return answer
    for row in answer.chain + answer.caused:
        row.data = {}
    while answer.caused and size() > budget:
        answer.caused.pop()
        answer.omitted += 1
    chain = list(result["chain"])
    while len(answer.chain) > 2 and size() > budget:
        del answer.chain[len(answer.chain) // 2]
        del chain[len(chain) // 2]
        answer.omitted += 1
        answer.text = format_chain({**result, "chain": chain, "caused": result["caused"][:len(answer.caused)]})
    answer.text = format_chain({**result, "chain": chain, "caused": result["caused"][:len(answer.caused)]})
    while size() > budget and len(answer.text) > 200:
        answer.text = answer.text[: len(answer.text) // 2] + "..."
    answer.note = "bounded: event data left out" + (f", {answer.omitted} events left out" if answer.omitted else "") \
        + "; query_events or explain on a single seq shows more"
    return answer


def _row(item: dict[str, Any]) -> EventRow:
    return EventRow(seq=item["seq"], time=item["time"], type=item["type"], source=item["source"],
                    entity_id=item.get("entity_id"), data=bounded_data(item.get("data") or {}, 600),
                    causation=item.get("causation"), correlation=item.get("correlation"),
                    summary=item.get("summary"))
