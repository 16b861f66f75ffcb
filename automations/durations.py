"""Durations and times of day as Home Assistant writes them: `00:05:00`, `300`, `{minutes: 5}`, templates."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from automations.templates import Renderer, cached, is_template
from hub.errors import UserError
from hub.times import parse_duration_us

_UNITS = {"days": 86_400_000_000, "hours": 3_600_000_000, "minutes": 60_000_000, "seconds": 1_000_000,
          "milliseconds": 1_000}


def check_duration(value: Any) -> None:
    """Raise ValueError unless `value` is a duration (or a template that renders one)."""
    if value is None or is_template(value):
        return
    if isinstance(value, dict):
        for key, part in value.items():
            if key not in _UNITS:
                raise ValueError(f"unknown duration unit {key!r} (use {', '.join(_UNITS)})")
            if not is_template(part) and not isinstance(part, (int, float)):
                raise ValueError(f"duration {key} must be a number")
        return
    try:
        if isinstance(value, bool):
            raise UserError("a boolean is not a duration")
        if parse_duration_us(value) < 0:
            raise ValueError("a duration cannot be negative")
    except UserError as exc:
        raise ValueError(str(exc)) from None


def duration_us(value: Any, renderer: Renderer | None = None, variables: Mapping[str, Any] | None = None) -> int:
    """A duration in microseconds, rendering templates first; raises ValueError if it is not one."""
    if value is None:
        return 0
    if is_template(value):
        if renderer is None:
            raise ValueError("a templated duration needs a renderer")
        value = renderer.render_native(cached(value), variables or {})
    if isinstance(value, dict):
        total = 0.0
        for key, part in value.items():
            if key not in _UNITS:
                raise ValueError(f"unknown duration unit {key!r}")
            if is_template(part) and renderer is not None:
                part = renderer.render_native(cached(part), variables or {})
            total += float(part) * _UNITS[key]
        return int(total)
    try:
        return parse_duration_us(value if not isinstance(value, str) else value.strip())
    except UserError as exc:
        raise ValueError(str(exc)) from None


def time_of_day(value: str) -> int | None:
    """`HH:MM` or `HH:MM:SS` as seconds after midnight; None when it is not a time of day."""
    parts = value.strip().split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
        return None
    h, m, s = int(parts[0]), int(parts[1]), int(parts[2]) if len(parts) == 3 else 0
    if h > 23 or m > 59 or s > 59:
        return None
    return h * 3600 + m * 60 + s


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def weekdays(value: str | list[str] | None) -> frozenset[int] | None:
    """`mon`..`sun` (one or a list) as Python weekday numbers; raises ValueError on others."""
    if value is None:
        return None
    items = [value] if isinstance(value, str) else value
    out = set()
    for item in items:
        if item not in WEEKDAYS:
            raise ValueError(f"unknown weekday {item!r} (use {', '.join(WEEKDAYS)})")
        out.add(WEEKDAYS.index(item))
    return frozenset(out)
