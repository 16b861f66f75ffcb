"""Topic filters, and the in-memory projection of topics seen (for the MCP tool `mqtt_topics`)."""

from __future__ import annotations

import fnmatch
import json
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from hub.events import excerpt
from hub.times import to_iso

LAST_PAYLOAD_CHARS = 200
SCHEMA_EVERY = 1.0      # seconds between schema merges per topic, so a busy topic costs little
RATE_WINDOW = 60.0


def matches(pattern: str, topic: str) -> bool:
    """MQTT filter matching: `+` one level, `#` the rest (including the parent level)."""
    if "+" not in pattern and "#" not in pattern:
        return pattern == topic
    p_parts, t_parts = pattern.split("/"), topic.split("/")
    for i, part in enumerate(p_parts):
        if part == "#":
            return not t_parts[0].startswith("$") or i > 0
        if i >= len(t_parts):
            return False
        if part != "+" and part != t_parts[i]:
            return False
        if i == 0 and part == "+" and t_parts[0].startswith("$"):
            return False
    return len(p_parts) == len(t_parts)


def valid_filter(pattern: str) -> bool:
    """True for a well-formed MQTT topic filter."""
    if not pattern or len(pattern.encode()) > 65535 or "\x00" in pattern:
        return False
    parts = pattern.split("/")
    for i, part in enumerate(parts):
        if "#" in part and (part != "#" or i != len(parts) - 1):
            return False
        if "+" in part and part != "+":
            return False
    return True


def infer_schema(value: Any, depth: int = 0) -> dict[str, Any]:
    """A small JSON Schema describing `value` (objects and arrays to a bounded depth)."""
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer"}
    if isinstance(value, float):
        return {"type": "number"}
    if isinstance(value, str):
        return {"type": "string"}
    if value is None:
        return {"type": "null"}
    if depth >= 4:
        return {"type": "object" if isinstance(value, dict) else "array"}
    if isinstance(value, dict):
        props = {str(k): infer_schema(v, depth + 1) for k, v in list(value.items())[:50]}
        return {"type": "object", "properties": props}
    schema: dict[str, Any] = {"type": "array"}
    if value:
        items = infer_schema(value[0], depth + 1)
        for item in value[1:20]:
            items = merge_schema(items, infer_schema(item, depth + 1))
        schema["items"] = items
    return schema


def merge_schema(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """The schema that admits both `a` and `b` (types unioned, object properties merged)."""
    if a == b:
        return a
    ta, tb = a.get("type"), b.get("type")
    if ta == tb == "object":
        props = dict(a.get("properties", {}))
        for key, sub in b.get("properties", {}).items():
            props[key] = merge_schema(props[key], sub) if key in props else sub
        return {"type": "object", "properties": props}
    if ta == tb == "array":
        if "items" in a and "items" in b:
            return {"type": "array", "items": merge_schema(a["items"], b["items"])}
        return a if "items" in a else b
    types = sorted({*(ta if isinstance(ta, list) else [ta]), *(tb if isinstance(tb, list) else [tb])})
    if set(types) == {"integer", "number"}:
        return {"type": "number"}
    return {"type": types}


@dataclass(slots=True)
class TopicStats:
    count: int = 0
    bytes: int = 0
    first_seen: float = 0.0
    last_seen: float = 0.0
    last_payload: bytes = b""
    retained: bool = False
    schema: dict[str, Any] | None = None
    schema_at: float = 0.0
    window: list[float] = field(default_factory=lambda: [0.0, 0.0])  # [window start, count in window]
    rate: float = 0.0


class TopicTable:
    """Topics seen: count, rate, last payload excerpt and inferred JSON schema; bounded in size."""

    def __init__(self, max_topics: int = 10_000) -> None:
        self.max_topics = max_topics
        self._topics: OrderedDict[str, TopicStats] = OrderedDict()

    def __len__(self) -> int:
        return len(self._topics)

    def seen(self, topic: str, payload: bytes, retained: bool = False, now: float | None = None) -> None:
        now = time.time() if now is None else now
        stats = self._topics.get(topic)
        if stats is None:
            if len(self._topics) >= self.max_topics:
                self._topics.popitem(last=False)  # the least recently seen topic goes
            stats = self._topics[topic] = TopicStats(first_seen=now, window=[now, 0.0])
        else:
            self._topics.move_to_end(topic)
        stats.count += 1
        stats.bytes += len(payload)
        stats.last_seen = now
        stats.last_payload = payload[: LAST_PAYLOAD_CHARS * 4]
        stats.retained = retained
        if now - stats.window[0] >= RATE_WINDOW:
            stats.rate = stats.window[1] / (now - stats.window[0])
            stats.window = [now, 0.0]
        stats.window[1] += 1
        if now - stats.schema_at >= SCHEMA_EVERY and payload[:1] in (b"{", b"["):
            stats.schema_at = now
            try:
                value = json.loads(payload)
            except ValueError:
                return
            new = infer_schema(value)
            stats.schema = new if stats.schema is None else merge_schema(stats.schema, new)

    def query(self, limit: int = 100, pattern: str | None = None, now: float | None = None) -> list[dict[str, Any]]:
        """Topics matching `pattern` (an MQTT filter or a glob), busiest first, as plain dicts."""
        now = time.time() if now is None else now
        out = []
        for topic, stats in self._topics.items():
            if pattern and not (matches(pattern, topic) or fnmatch.fnmatchcase(topic, pattern)):
                continue
            out.append((topic, stats))
        out.sort(key=lambda item: (-self._rate(item[1], now), -item[1].count, item[0]))
        return [self._row(topic, stats, now) for topic, stats in out[:limit]]

    def _rate(self, stats: TopicStats, now: float) -> float:
        elapsed = now - stats.window[0]
        if elapsed >= RATE_WINDOW or stats.rate == 0.0:
            # The current window is all there is (or is already a full window long).
            return stats.window[1] / max(elapsed, 1.0) if elapsed < 2 * RATE_WINDOW else 0.0
        return stats.rate

    def _row(self, topic: str, stats: TopicStats, now: float) -> dict[str, Any]:
        try:
            last = stats.last_payload.decode("utf-8")
            binary = False
        except UnicodeDecodeError:
            last, binary = excerpt(stats.last_payload, LAST_PAYLOAD_CHARS), True
        if len(last) > LAST_PAYLOAD_CHARS:
            last = last[: LAST_PAYLOAD_CHARS - 3] + "..."
        row: dict[str, Any] = {
            "topic": topic, "count": stats.count, "rate_per_s": round(self._rate(stats, now), 3),
            "bytes": stats.bytes, "first_seen": to_iso(int(stats.first_seen * 1e6)),
            "last_seen": to_iso(int(stats.last_seen * 1e6)),
            "retained": stats.retained, "last_payload": last,
        }
        if binary:
            row["binary"] = True
        if stats.schema is not None:
            row["schema"] = stats.schema
        return row
