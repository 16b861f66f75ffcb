"""Tools: list_entities and get_state."""

from __future__ import annotations

from typing import Annotated, Any

from fastmcp import FastMCP
from mcp.types import ToolAnnotations
from pydantic import Field

from hub.errors import UserError
from hub.mcp.models import EntityList, EntityRow, EntityState, StateList
from hub.mcp.paging import fit, size_tokens
from hub.mcp.rows import answers_errors
from hub.mcp.view import HubView
from hub.states import State
from hub.times import to_iso

READ = ToolAnnotations(readOnlyHint=True, destructiveHint=False, idempotentHint=True, openWorldHint=False)


def entity_row(entity_id: str, state: State | None, reg: dict[str, Any] | None, tz: Any) -> EntityRow:
    reg = reg or {}
    info = reg.get("info") or {}
    return EntityRow(entity_id=entity_id, name=reg.get("name") or info.get("name"),
                     state=state.state if state else None, unit=info.get("unit"), area=reg.get("area"),
                     integration=reg.get("integration"), device_class=info.get("device_class"),
                     last_changed=to_iso(state.last_changed, tz) if state else None)


def register(mcp: FastMCP[Any], hub: HubView) -> None:
    @mcp.tool(annotations=READ, title="List entities")
    @answers_errors
    async def list_entities(
        text: Annotated[str | None, Field(description="Words to find in the entity id or name (plain text, "
                                          "case-insensitive; no wildcards).", max_length=200)] = None,
        domain: Annotated[str | None, Field(description="Only this domain: light, sensor, lock, "
                                            "device_tracker, ...", max_length=64)] = None,
        integration: Annotated[str | None, Field(description="Only entities of this integration instance id.",
                                                 max_length=128)] = None,
        area: Annotated[str | None, Field(description="Only entities in this area.", max_length=128)] = None,
        state: Annotated[str | None, Field(description="Only entities in this state (on, unavailable, ...).",
                                           max_length=255)] = None,
        limit: Annotated[int, Field(ge=1, le=1000, description="At most this many entities.")] = 200,
        cursor: Annotated[str | None, Field(description="From a previous answer, to continue.")] = None,
    ) -> EntityList:
        """Find entities (lights, sensors, locks, trackers, ...) with their current state. Start here to learn
        entity ids. Most recently changed first. Filters combine; all are optional."""
        query = {"text": text, "domain": domain, "integration": integration, "area": area, "state": state}
        states = await hub.states()
        registry = await hub.registry()
        needle = (text or "").strip().lower()
        rows = []
        for entity_id in set(states) | set(registry):
            reg = registry.get(entity_id) or {}
            st = states.get(entity_id)
            if domain and entity_id.split(".", 1)[0] != domain.strip().lower():
                continue
            if integration and reg.get("integration") != integration:
                continue
            if area and (reg.get("area") or "").lower() != area.strip().lower():
                continue
            if state and (st is None or st.state != state):
                continue
            if needle:
                name = (reg.get("name") or (reg.get("info") or {}).get("name") or "").lower()
                if needle not in entity_id and needle not in name and needle.replace(" ", "_") not in entity_id:
                    continue
            rows.append((-(st.last_changed if st else 0), entity_id, st, reg))
        rows.sort(key=lambda r: (r[0], r[1]))
        total = len(rows)
        if cursor:
            pos = hub.cursors.resume("list_entities", query, cursor)
            after = (int(pos["k"]), str(pos["e"]))
            rows = [r for r in rows if (r[0], r[1]) > after]
        out = [entity_row(r[1], r[2], r[3], hub.tz) for r in rows]
        kept, cut = fit(out, hub.budget - 200, limit=limit)
        answer = EntityList(entities=kept, total=total, omitted=len(rows) - len(kept))
        if cut and kept:
            last = rows[len(kept) - 1]
            answer.cursor = hub.cursors.issue("list_entities", query, {"k": last[0], "e": last[1]})
            answer.note = f"{len(rows) - len(kept)} more; narrow the filters or pass the cursor"
        return answer

    @mcp.tool(annotations=READ, title="Get state")
    @answers_errors
    async def get_state(
        entity_ids: Annotated[list[str], Field(min_length=1, max_length=100,
                                               description="One or more entity ids, e.g. [\"light.porch\"].")],
        cursor: Annotated[str | None, Field(description="From a previous answer, to continue.")] = None,
    ) -> StateList:
        """The current state of entities with all their attributes, when they last changed, their area,
        integration and device. Unknown ids are an error that lists close matches."""
        wanted = list(dict.fromkeys(e.strip() for e in entity_ids))
        await hub.check_entities(wanted)
        query = {"entity_ids": wanted}
        start = 0
        if cursor:
            start = int(hub.cursors.resume("get_state", query, cursor)["i"])
        states = await hub.states()
        registry = await hub.registry()
        rows = []
        for entity_id in wanted[start:]:
            st = states.get(entity_id)
            reg = registry.get(entity_id) or {}
            info = reg.get("info") or {}
            device = info.get("device") if isinstance(info.get("device"), dict) else None
            rows.append(EntityState(
                entity_id=entity_id, state=st.state if st else None, attributes=st.attributes if st else {},
                last_changed=to_iso(st.last_changed, hub.tz) if st else None,
                last_updated=to_iso(st.last_updated, hub.tz) if st else None,
                name=reg.get("name") or info.get("name"), area=reg.get("area"),
                integration=reg.get("integration"), device=device))
        kept, cut = fit(rows, hub.budget - 200)
        if not kept:
            big = rows[0]
            raise UserError(f"the attributes of {big.entity_id} alone exceed the answer bound "
                            f"(about {size_tokens(big.attributes)} tokens); ask history or events instead")
        answer = StateList(states=kept, omitted=len(rows) - len(kept))
        if cut:
            answer.cursor = hub.cursors.issue("get_state", query, {"i": start + len(kept)})
            answer.note = "the attributes are large; pass the cursor for the remaining entities"
        return answer
