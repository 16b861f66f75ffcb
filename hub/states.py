"""States of entities as the state projection and state_changed events carry them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from hub.times import to_iso


@dataclass(slots=True)
class State:
    """The current state of one entity; times are UTC microseconds."""

    entity_id: str
    state: str
    attributes: dict[str, Any] = field(default_factory=dict)
    last_changed: int = 0
    last_updated: int = 0
    _data: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    # The attributes as the projections store them (JSON), once the fold has made it.
    attributes_json: str | None = field(default=None, repr=False, compare=False)

    def as_data(self) -> dict[str, Any]:
        """The shape stored in state_changed's old_state/new_state (times as ISO strings)."""
        if self._data is None:
            updated = to_iso(self.last_updated)
            self._data = {
                "state": self.state,
                "attributes": self.attributes,
                "last_changed": updated if self.last_changed == self.last_updated else to_iso(self.last_changed),
                "last_updated": updated,
            }
        return self._data

    def to_dict(self, tz: Any = None) -> dict[str, Any]:
        return {
            "entity_id": self.entity_id,
            "state": self.state,
            "attributes": self.attributes,
            "last_changed": to_iso(self.last_changed, tz),
            "last_updated": to_iso(self.last_updated, tz),
        }


def state_string(value: object) -> str:
    """A reported value as Home Assistant's state string (`on`/`off` for booleans)."""
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return repr(round(value, 6)) if value != int(value) or abs(value) >= 1e15 else f"{value:.1f}"
    return str(value)


def as_number(state: str) -> float | None:
    """The numeric value of a state string, or None for non-numeric states."""
    if not state or state[0] not in "-+.0123456789":
        return None
    try:
        value = float(state)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
