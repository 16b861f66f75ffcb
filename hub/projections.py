"""The projections as one fold over the log: events in, row operations out.

The fold is backend-agnostic: it keeps the current states in memory and turns a
run of events into `Ops` (rows to insert or upsert) that a backend executes in
the same transaction as the events themselves and the projection positions.
Nothing is changed in memory until the backend reports the commit (`commit()`),
so a failed transaction leaves the fold as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub import events as ev
from hub.events import Event, encode_json
from hub.states import State, as_number

PROJECTIONS = ("states", "history", "statistics", "registry")
FIVE_MIN = 300_000_000
HOUR = 3_600_000_000


def iso_to_us(value: str | None, default: int) -> int:
    if not value:
        return default
    dt = datetime.fromisoformat(value)
    return int(dt.timestamp() * 1_000_000) if dt.utcoffset() is not None else default


def state_from_data(entity_id: str, data: dict[str, Any] | None, default_time: int) -> State | None:
    """A State from state_changed's `new_state`/`old_state` shape."""
    if not data:
        return None
    return State(entity_id, str(data.get("state", "unknown")), data.get("attributes") or {},
                 iso_to_us(data.get("last_changed"), default_time),
                 iso_to_us(data.get("last_updated"), default_time))


@dataclass
class Ops:
    """Rows for the backend to write, in the transaction that stores the events."""

    history: list[tuple[str, int, int, str, str, int]] = field(default_factory=list)
    states: dict[str, tuple[str, str, str, int, int, int]] = field(default_factory=dict)
    removed_states: set[str] = field(default_factory=set)
    stats_5m: dict[tuple[str, int], list[float]] = field(default_factory=dict)
    stats_hour: dict[tuple[str, int], list[float]] = field(default_factory=dict)
    state_time: dict[tuple[str, int, str], float] = field(default_factory=dict)
    entities: dict[str, tuple[str, str | None, str | None, str | None, str | None, str, str, int]] = field(
        default_factory=dict)
    devices: dict[str, tuple[str, str | None, str | None, str | None, str]] = field(default_factory=dict)
    removed_entities: set[str] = field(default_factory=set)

    def empty(self) -> bool:
        return not (self.history or self.states or self.removed_states or self.stats_5m or self.stats_hour
                    or self.state_time or self.entities or self.devices or self.removed_entities)


def _stat(acc: dict[tuple[str, int], list[float]], key: tuple[str, int], value: float) -> None:
    row = acc.get(key)
    if row is None:
        acc[key] = [value, value, value, 1, value]
    else:
        if value < row[0]:
            row[0] = value
        if value > row[1]:
            row[1] = value
        row[2] += value
        row[3] += 1
        row[4] = value


def split_hours(start: int, end: int) -> list[tuple[int, float]]:
    """[start, end) cut at hour boundaries: (hour bucket, seconds) pairs."""
    out = []
    t = start
    while t < end:
        bucket = t - t % HOUR
        stop = min(end, bucket + HOUR)
        out.append((bucket, (stop - t) / 1_000_000))
        t = stop
    return out


class Fold:
    """Current states and registry in memory, and the fold of events into Ops."""

    def __init__(self) -> None:
        self.states: dict[str, State] = {}
        self.registry: dict[str, dict[str, Any]] = {}
        self.position = 0  # the last seq folded into memory
        self._overlay: dict[str, State | None] = {}
        self._registry_overlay: dict[str, dict[str, Any] | None] = {}
        self._pending_position = 0

    # --- reads through the uncommitted overlay -----------------------------

    def get(self, entity_id: str) -> State | None:
        if entity_id in self._overlay:
            return self._overlay[entity_id]
        return self.states.get(entity_id)

    # --- the fold ----------------------------------------------------------

    def begin(self) -> Ops:
        self._overlay.clear()
        self._registry_overlay.clear()
        self._pending_position = self.position
        return Ops()

    def apply(self, ops: Ops, event: Event, new: State | None = None, *, emit: bool = True) -> None:
        """Fold one stored event (seq set). `emit=False` updates memory only (already projected)."""
        assert event.seq is not None
        self._pending_position = event.seq
        etype = event.type
        if etype == ev.STATE_CHANGED:
            self._state_changed(ops, event, new, emit)
        elif etype == ev.ENTITY_REGISTERED:
            self._registered(ops, event, emit)
        elif etype == ev.ENTITY_REMOVED:
            self._registry_overlay[event.entity_id or ""] = None
            self._overlay[event.entity_id or ""] = None
            if emit and event.entity_id:
                ops.entities.pop(event.entity_id, None)
                ops.removed_entities.add(event.entity_id)
                ops.removed_states.add(event.entity_id)
                ops.states.pop(event.entity_id, None)

    def _state_changed(self, ops: Ops, event: Event, new: State | None, emit: bool) -> None:
        entity_id = event.entity_id
        if entity_id is None:
            return
        if new is None:
            new = state_from_data(entity_id, event.data.get("new_state"), event.time)
        old = self.get(entity_id)
        self._overlay[entity_id] = new
        if not emit:
            return
        if new is None:
            ops.removed_states.add(entity_id)
            ops.states.pop(entity_id, None)
            return
        attrs = encode_json(new.attributes)
        seq = event.seq or 0
        ops.states[entity_id] = (entity_id, new.state, attrs, new.last_changed, new.last_updated, seq)
        ops.removed_states.discard(entity_id)
        ops.history.append((entity_id, new.last_updated, seq, new.state, attrs, new.last_changed))
        value = as_number(new.state)
        t = new.last_updated
        if value is not None:
            _stat(ops.stats_5m, (entity_id, t - t % FIVE_MIN), value)
            _stat(ops.stats_hour, (entity_id, t - t % HOUR), value)
        if old is not None and old.state != new.state and as_number(old.state) is None:
            for bucket, secs in split_hours(old.last_changed, new.last_changed):
                key = (entity_id, bucket, old.state)
                ops.state_time[key] = ops.state_time.get(key, 0.0) + secs
        known = self._registry_overlay[entity_id] if entity_id in self._registry_overlay \
            else self.registry.get(entity_id)
        if known is None:
            self._registry_overlay[entity_id] = {"integration": event.source}
            ops.removed_entities.discard(entity_id)
            ops.entities.setdefault(entity_id, (entity_id, event.source, None, None, None,
                                                entity_id.split(".", 1)[0], "{}", seq))

    def _registered(self, ops: Ops, event: Event, emit: bool) -> None:
        entity_id = event.entity_id
        if entity_id is None:
            return
        info = dict(event.data)
        self._registry_overlay[entity_id] = info
        if not emit:
            return
        device = info.get("device") or {}
        device_id = device.get("id") if isinstance(device, dict) else None
        ops.removed_entities.discard(entity_id)
        ops.entities[entity_id] = (
            entity_id, info.get("integration") or event.source, info.get("name"),
            info.get("area") or (device.get("area") if isinstance(device, dict) else None), device_id,
            entity_id.split(".", 1)[0], encode_json(info), event.seq or 0,
        )
        if device_id:
            ops.devices[device_id] = (device_id, info.get("integration") or event.source, device.get("name"),
                                      device.get("area"), encode_json(device))

    def commit(self) -> None:
        """The backend committed: make the overlay the truth."""
        for entity_id, state in self._overlay.items():
            if state is None:
                self.states.pop(entity_id, None)
            else:
                self.states[entity_id] = state
        for entity_id, info in self._registry_overlay.items():
            if info is None:
                self.registry.pop(entity_id, None)
            else:
                self.registry[entity_id] = info
        self.position = max(self.position, self._pending_position)
        self._overlay.clear()
        self._registry_overlay.clear()

    def rollback(self) -> None:
        self._overlay.clear()
        self._registry_overlay.clear()
        self._pending_position = self.position
