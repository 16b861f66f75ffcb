"""Tools: hub_status (health, rates, size, errors) and mqtt_topics (what the broker carries)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Annotated, Any

from fastmcp import FastMCP
from pydantic import Field

from hub import events as ev
from hub.mcp.models import HubStatus, IntegrationHealth, Topic, TopicList
from hub.mcp.paging import fit
from hub.mcp.rows import answers_errors, event_row
from hub.mcp.tools_state import READ
from hub.mcp.view import HubView
from hub.store import EventFilter
from hub.times import now_us, to_iso

HOUR_US = 3_600_000_000
TOPIC_SAMPLE = 5000


def topic_matches(pattern: str, topic: str) -> bool:
    """MQTT filter matching: `+` one level, `#` the rest."""
    p_parts, t_parts = pattern.split("/"), topic.split("/")
    for i, part in enumerate(p_parts):
        if part == "#":
            return True
        if i >= len(t_parts) or (part != "+" and part != t_parts[i]):
            return False
    return len(p_parts) == len(t_parts)


def payload_schema(payload: str) -> dict[str, str] | None:
    """The JSON shape of a payload (key -> type name), or its scalar type."""
    try:
        value = json.loads(payload)
    except (ValueError, TypeError):
        return {"": "text"}
    if isinstance(value, dict):
        return {str(k): type(v).__name__.replace("NoneType", "null").replace("str", "string")
                for k, v in list(value.items())[:30]}
    return {"": type(value).__name__.replace("str", "string")}


def register(mcp: FastMCP[Any], hub: HubView) -> None:
    @mcp.tool(annotations=READ, title="Hub status")
    @answers_errors
    async def hub_status() -> HubStatus:
        """Is the hub healthy? Each integration's connection status and entity counts, event rates, the log's
        size and last seq, and the latest errors (rejected input, failed commands). Start here when something
        seems broken."""
        backend = hub.log.backend
        now = now_us()
        states = await hub.states()
        registry = await hub.registry()
        per: dict[str, list[int]] = {}
        for entity_id, reg in registry.items():
            counts = per.setdefault(str(reg.get("integration") or "?"), [0, 0])
            counts[0] += 1
            st = states.get(entity_id)
            if st is not None and st.state == "unavailable":
                counts[1] += 1
        recent = await hub.log.read(EventFilter(types=(ev.INTEGRATION_STATUS,), descending=True, limit=500))
        latest: dict[str, Any] = {}
        for e in recent:
            latest.setdefault(str(e.data.get("integration") or e.source), e)
        ids = [str(i.get("id", i.get("type"))) for i in hub.config.integrations if isinstance(i, dict)]
        rows = []
        for iid in dict.fromkeys(ids + sorted(latest)):
            e = latest.get(iid)
            status, reason, since = "unknown", None, None
            live = hub.integrations.get(iid)
            if live is not None and getattr(live.ctx, "last_status", None):
                status = str(live.ctx.last_status)
            elif e is not None:
                status = str(e.data.get("status"))
            if e is not None:
                reason, since = e.data.get("reason") or None, to_iso(e.time, hub.tz)
            counts = per.get(iid, [0, 0])
            rows.append(IntegrationHealth(id=iid, type=hub.integration_type(iid), status=status, reason=reason,
                                          since=since, entities=counts[0], unavailable=counts[1]))
        errors = await hub.log.read(EventFilter(types=(ev.INPUT_REJECTED, ev.COMMAND_FAILED),
                                                since=now - 7 * 24 * HOUR_US,
                                                descending=True, limit=10))
        kept, _ = fit([event_row(e, hub.tz) for e in errors], hub.budget // 3)
        return HubStatus(
            name=hub.config.hub.name, last_seq=await backend.head(), log_bytes=await backend.size_bytes(),
            events_last_hour=await backend.count(EventFilter(since=now - HOUR_US)),
            events_last_day=await backend.count(EventFilter(since=now - 24 * HOUR_US)),
            integrations=rows, last_errors=kept, daemon=bool(hub.integrations) or hub.log.project)

    @mcp.tool(annotations=READ, title="MQTT topics")
    @answers_errors
    async def mqtt_topics(
        pattern: Annotated[str | None, Field(description="An MQTT filter like zigbee2mqtt/# or home/+/temp.",
                                             max_length=255)] = None,
        since: Annotated[str | None, Field(description="Window for recorded messages (default 1h).")] = None,
        limit: Annotated[int, Field(ge=1, le=500, description="At most this many topics.")] = 100,
    ) -> TopicList:
        """MQTT topics seen, most active first: message counts and rates, the last payload and the payload's
        inferred JSON schema. Use to find what a device publishes before configuring an entity."""
        live = [i for i in hub.integrations.values() if callable(getattr(i, "topics", None))]
        if live:
            topics: list[Topic] = []
            for integration in live:
                for item in integration.topics(limit, pattern):  # type: ignore[attr-defined]
                    topics.append(_topic_from(item))
            kept, cut = fit(topics, hub.budget - 300, limit=limit)
            return TopicList(topics=kept, source="integration", omitted=len(topics) - len(kept))
        start, end = hub.window(since, None, "1h")
        found = await hub.log.read(EventFilter(types=(ev.MQTT_MESSAGE,), since=start, until=end, descending=True,
                                               limit=TOPIC_SAMPLE))
        counts: Counter[str] = Counter()
        last: dict[str, Any] = {}
        for e in found:
            topic = str(e.data.get("topic", ""))
            if pattern and not topic_matches(pattern, topic):
                continue
            counts[topic] += 1
            last.setdefault(topic, e)
        minutes = max((end - start) / 60_000_000, 1 / 60)
        if len(found) >= TOPIC_SAMPLE and found:
            minutes = max((end - found[-1].time) / 60_000_000, 1 / 60)
        rows = []
        for topic, n in counts.most_common():
            e = last[topic]
            payload = str(e.data.get("payload", ""))
            rows.append(Topic(topic=topic, messages=n, per_minute=round(n / minutes, 3),
                              last_seen=to_iso(e.time, hub.tz), last_payload=payload[:300],
                              payload_schema=payload_schema(payload)))
        kept, cut = fit(rows, hub.budget - 300, limit=limit)
        answer = TopicList(topics=kept, source="log", omitted=len(rows) - len(kept))
        notes = []
        if len(found) >= TOPIC_SAMPLE:
            notes.append(f"counted over the latest {TOPIC_SAMPLE} recorded messages")
        if not found:
            notes.append("no mqtt_message events in the window: only topics listed under the mqtt integration's "
                         "`capture:` are recorded; the daemon's MCP endpoint (HTTP) shows every topic it sees")
        answer.note = "; ".join(notes) or None
        return answer


def _topic_from(item: Any) -> Topic:
    data = item if isinstance(item, dict) else getattr(item, "__dict__", {})
    payload = data.get("last_payload")
    if isinstance(payload, bytes):
        payload = payload[:300].decode("utf-8", errors="backslashreplace")
    last_seen = data.get("last_seen")
    rate = data.get("rate_per_s")
    return Topic(topic=str(data.get("topic")), messages=int(data.get("count", 0) or 0),
                 per_minute=round(float(rate) * 60, 3) if rate is not None else None,
                 last_seen=str(last_seen) if last_seen else None,
                 last_payload=str(payload)[:300] if payload is not None else None,
                 payload_schema=data.get("schema") or (payload_schema(str(payload)) if payload is not None else None))
