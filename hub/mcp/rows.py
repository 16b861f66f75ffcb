"""Events and states as the rows of MCP answers: times in ISO 8601 with the hub's time zone, data bounded."""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastmcp.exceptions import ResourceError, ToolError

from hub.errors import HubError, UserError
from hub.events import Event
from hub.explain import describe
from hub.mcp.models import EventRow
from hub.times import to_iso

MAX_DATA_CHARS = 2000


def bounded_data(data: dict[str, Any], limit: int = MAX_DATA_CHARS) -> dict[str, Any]:
    """`data` itself, or an excerpt of it when its JSON is longer than `limit` characters."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)
    if len(text) <= limit:
        return data
    return {"_truncated": True, "_chars": len(text), "excerpt": text[:limit]}


def event_row(event: Event, tz: Any, *, data: bool = True) -> EventRow:
    return EventRow(seq=event.seq or 0, time=to_iso(event.time, tz) or "", type=event.type, source=event.source,
                    entity_id=event.entity_id, data=bounded_data(event.data) if data else {},
                    causation=event.causation, correlation=event.correlation, summary=describe(event))


F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def _translating(error: type[Exception], fn: F) -> F:
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return await fn(*args, **kwargs)
        except UserError as exc:
            raise error(str(exc)) from None
        except HubError as exc:
            raise error(f"the hub could not answer: {exc}") from None

    return wrapper  # type: ignore[return-value]


def answers_errors(fn: F) -> F:
    """Turns the hub's own errors in a tool into tool errors the model reads (anything else stays masked)."""
    return _translating(ToolError, fn)


def resource_errors(fn: F) -> F:
    """The same for resources."""
    return _translating(ResourceError, fn)
