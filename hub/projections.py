"""The projections as one fold over the log: events in, row operations out.

The fold is backend-agnostic: it keeps the current states in memory and turns a
run of events into `Ops` (rows to insert or upsert) that a backend executes in
the same transaction as the events themselves and the projection positions.
Nothing is changed in memory until the backend reports the commit (`commit()`),
so a failed transaction leaves the fold as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from hub import events as ev
from hub.errors import InputRejected
from hub.events import Event, decode_json, encode_json, excerpt
from hub.states import State, as_number

PROJECTIONS = ("states", "history", "statistics", "registry")
FIVE_MIN = 300_000_000
HOUR = 3_600_000_000
NUMBERS_CACHED = 16_384  # state strings whose numeric value the fold remembers, at most


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MISSING = object()
_ONE_US = timedelta(microseconds=1)
_ONE_SECOND = timedelta(seconds=1)


def iso_to_us(value: str | None, default: int) -> int:
    """An ISO 8601 time with an offset as exact microseconds (no float rounding); `default` if
    missing or without an offset."""
    if not value:
        return default
    if len(value) == 32 and value[19] == "." and value[26:] == "+00:00":
        # The form the hub writes (`to_iso` in UTC), once or twice in every state change: each
        # second is parsed once (append_many checks a batch's times before the fold reads them:
        # a batch's seconds are remembered), its microseconds are six ASCII digits.
        micro = value[20:26]
        if micro.isascii() and micro.isdigit():
            prefix = value[:19]
            seconds = _iso_seconds.get(prefix)
            if seconds is None:
                seconds = (datetime.fromisoformat(prefix + "+00:00") - _EPOCH) // _ONE_SECOND
                if len(_iso_seconds) >= SECONDS_CACHED:
                    _iso_seconds.clear()
                _iso_seconds[prefix] = seconds
            return seconds * 1_000_000 + int(micro)
    dt = datetime.fromisoformat(value)
    return (dt - _EPOCH) // _ONE_US if dt.utcoffset() is not None else default


SECONDS_CACHED = 16_384  # seconds' texts whose value iso_to_us remembers, at most
_iso_seconds: dict[str, int] = {}


def new_state_of(entity_id: str, data: dict[str, Any], default_time: int) -> State | None:
    """state_changed's `new_state` as the fold reads it (`state_from_data`), or InputRejected when
    the fold cannot read it: not an object, or its times not ISO 8601 text."""
    new = data.get("new_state")
    if new and not isinstance(new, dict):
        raise InputRejected(f"new_state must be an object or null, not {type(new).__name__}")
    try:
        return state_from_data(entity_id, new, default_time)
    except (ValueError, TypeError) as exc:
        for key in ("last_updated", "last_changed"):
            value = new.get(key)
            if value and not isinstance(value, str):
                raise InputRejected(f"new_state.{key} must be ISO 8601 text, not {type(value).__name__}") from None
            try:
                iso_to_us(value, 0)
            except ValueError:
                raise InputRejected(f"new_state.{key} {excerpt(value, 64)} is not an ISO 8601 time ({exc})") from None
        raise InputRejected(f"new_state cannot be read: {exc}") from None


def check_registration(data: dict[str, Any]) -> None:
    """Raise InputRejected unless entity_registered's fields that the registry stores as text are
    text (or absent): the entity's name, area and integration, its device's id, name and area."""
    device = data.get("device")
    checked = [(key, data.get(key)) for key in ("name", "area", "integration")]
    if isinstance(device, dict):  # any other device is left out of the registry
        checked += [(f"device.{key}", device.get(key)) for key in ("id", "name", "area")]
    for key, value in checked:
        if value is not None and not isinstance(value, str):
            raise InputRejected(f"entity_registered {key} must be text, not {type(value).__name__}")


def state_from_data(entity_id: str, data: dict[str, Any] | None, default_time: int) -> State | None:
    """A State from state_changed's `new_state`/`old_state` shape."""
    if not data:
        return None
    updated_text = data.get("last_updated")
    changed_text = data.get("last_changed")
    updated = iso_to_us(updated_text, default_time)
    changed = updated if changed_text == updated_text else iso_to_us(changed_text, default_time)
    return State(entity_id, str(data.get("state", "unknown")), data.get("attributes") or {}, changed, updated)


@dataclass
class Ops:
    """Rows for the backend to write: in the transaction that stores the events, or under heavy
    load in later ones (hub.backlog)."""

    history: list[tuple[str, int, int, str, str, int]] = field(default_factory=list)
    # entity_id -> its newest history row (entity_id, time, seq, state, attributes, last_changed)
    states: dict[str, tuple[str, int, int, str, str, int]] = field(default_factory=dict)
    removed_states: set[str] = field(default_factory=set)
    stats_5m: dict[tuple[str, int], list[float]] = field(default_factory=dict)
    stats_hour: dict[tuple[str, int], list[float]] = field(default_factory=dict)
    state_time: dict[tuple[str, int, str], float] = field(default_factory=dict)
    entities: dict[str, tuple[str, str | None, str | None, str | None, str | None, str, str, int]] = field(
        default_factory=dict)
    devices: dict[str, tuple[str, str | None, str | None, str | None, str]] = field(default_factory=dict)
    removed_entities: set[str] = field(default_factory=set)
    # State changes of an entity without a new state (no history row): how they are found by entity.
    unhistoried: list[tuple[str, int]] = field(default_factory=list)

    def state_rows(self) -> list[tuple[str, str, str, int, int, int]]:
        """The current states as the states table's rows: entity_id, state, attributes,
        last_changed, last_updated, seq (`states` holds them in history's shape)."""
        return [(e, state, attrs, changed, updated, seq) for e, updated, seq, state, attrs, changed
                in self.states.values()]

    def registry_and_states(self) -> Ops:
        """Only the current states and the registry (a rebuild in SQL writes the rest)."""
        return Ops(states=self.states, removed_states=self.removed_states, entities=self.entities,
                   devices=self.devices, removed_entities=self.removed_entities)

    @staticmethod
    def merged(parts: list[Ops]) -> Ops:
        """The rows of successive batches as one batch's (oldest first): what a later batch says
        of an entity or a bucket wins or adds up, as writing the parts one after another would."""
        out = Ops()
        for part in parts:
            out.history.extend(part.history)
            out.unhistoried.extend(part.unhistoried)
            for entity_id in part.removed_states:
                out.states.pop(entity_id, None)
                out.removed_states.add(entity_id)
            for entity_id, state_row in part.states.items():  # a part never both sets and removes one
                out.removed_states.discard(entity_id)
                out.states[entity_id] = state_row
            for mine, theirs in ((out.stats_5m, part.stats_5m), (out.stats_hour, part.stats_hour)):
                for bucket, (low, high, total, count, last) in theirs.items():
                    stat = mine.get(bucket)
                    if stat is None:
                        mine[bucket] = [low, high, total, count, last]
                    else:
                        stat[0], stat[1] = min(stat[0], low), max(stat[1], high)
                        stat[2] += total
                        stat[3] += count
                        stat[4] = last
            for in_state, seconds in part.state_time.items():
                out.state_time[in_state] = out.state_time.get(in_state, 0.0) + seconds
            for entity_id in part.removed_entities:
                out.entities.pop(entity_id, None)
                out.removed_entities.add(entity_id)
            for entity_id, entity_row in part.entities.items():
                out.removed_entities.discard(entity_id)
                out.entities[entity_id] = entity_row
            out.devices.update(part.devices)
        return out

    def empty(self) -> bool:
        return not (self.history or self.states or self.removed_states or self.stats_5m or self.stats_hour
                    or self.state_time or self.entities or self.devices or self.removed_entities
                    or self.unhistoried)


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


def registry_row(entity_id: str, integration: str | None, name: str | None, area: str | None,
                 device_id: str | None, info: dict[str, Any], seq: int) -> dict[str, Any]:
    """An entity of the registry, as the entities table stores it (`Backend.load_registry`)."""
    return {"entity_id": entity_id, "integration": integration, "name": name, "area": area,
            "device_id": device_id, "domain": entity_id.split(".", 1)[0], "info": info, "seq": seq}


def _entities_row(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["entity_id"], row["integration"], row["name"], row["area"], row["device_id"], row["domain"],
            encode_json(row["info"]), row["seq"])


class Fold:
    """Current states and registry in memory, and the fold of events into Ops."""

    def __init__(self) -> None:
        self.states: dict[str, State] = {}
        self.registry: dict[str, dict[str, Any]] = {}  # entity_id -> registry_row()
        self.position = 0  # the last seq folded into memory
        # Uncommitted changes, one layer per batch begun and not yet committed, oldest first:
        # the writer folds batch N+1 while batch N is being committed.
        self._layers: list[tuple[dict[str, State | None], dict[str, dict[str, Any] | None], list[int]]] = []
        self._overlay: dict[str, State | None] = {}
        self._registry_overlay: dict[str, dict[str, Any] | None] = {}
        self._pending_position = [0]
        # The newest uncommitted value of each entity over all layers (a read is one lookup, not a
        # walk down the layers); emptied when no layer is left.
        self._newest: dict[str, State | None] = {}
        self._newest_registry: dict[str, dict[str, Any] | None] = {}
        # State strings' numbers (`as_number`), twice per change otherwise: sensors repeat values.
        self._numbers: dict[str, float | None] = {}

    # --- reads through the uncommitted layers ------------------------------

    def get(self, entity_id: str) -> State | None:
        state = self._newest.get(entity_id, _MISSING)
        return self.states.get(entity_id) if state is _MISSING else state  # type: ignore[return-value]

    def _known(self, entity_id: str) -> dict[str, Any] | None:
        row = self._newest_registry.get(entity_id, _MISSING)
        return self.registry.get(entity_id) if row is _MISSING else row  # type: ignore[return-value]

    def _set(self, entity_id: str, state: State | None) -> None:
        self._overlay[entity_id] = self._newest[entity_id] = state

    def _set_registry(self, entity_id: str, row: dict[str, Any] | None) -> None:
        self._registry_overlay[entity_id] = self._newest_registry[entity_id] = row

    # --- the fold ----------------------------------------------------------

    def begin(self) -> Ops:
        """Start a batch: a new layer on top of those begun and not yet committed."""
        position = self._layers[-1][2][0] if self._layers else self.position
        self._overlay, self._registry_overlay, self._pending_position = {}, {}, [position]
        self._layers.append((self._overlay, self._registry_overlay, self._pending_position))
        return Ops()

    def apply(self, ops: Ops, event: Event, new: State | None = None, *, emit: bool = True) -> None:
        """Fold one stored event (seq set). `emit=False` updates memory only (already projected)."""
        assert event.seq is not None
        self._pending_position[0] = event.seq
        etype = event.type
        if etype == ev.STATE_CHANGED:
            if new is None and event.entity_id is not None:
                new = state_from_data(event.entity_id, event.data.get("new_state"), event.time)
            self._state_changed(ops, event.entity_id, event.seq, event.source, new, emit)
        elif etype == ev.ENTITY_REGISTERED:
            self._registered(ops, event, emit)
        elif etype == ev.ENTITY_REMOVED:
            self._set_registry(event.entity_id or "", None)
            self._set(event.entity_id or "", None)
            if emit and event.entity_id:
                ops.entities.pop(event.entity_id, None)
                ops.removed_entities.add(event.entity_id)
                ops.removed_states.add(event.entity_id)
                ops.states.pop(event.entity_id, None)

    def apply_rows(self, ops: Ops, rows: list[tuple[Any, ...]], upto: int, *, derived: bool = True) -> None:
        """Fold stored rows in the shape `Backend.rows_to_fold` reads (seq, type, source, entity_id,
        time, payload), the rows of every seq up to `upto` that the fold uses: the catch-up and
        rebuild path, with no Event built for a state change. `derived=False`: the current states
        and the registry only, for a rebuild whose history and statistics are written in SQL (its
        rows skip the changes between, so what they would derive is not wanted anyway)."""
        state_changed = self._state_changed
        for seq, etype, source, entity_id, time, payload in rows:
            if etype == ev.STATE_CHANGED:
                if entity_id is not None:
                    new = state_from_data(entity_id, decode_json(payload) if payload else None, time)
                    state_changed(ops, entity_id, seq, source, new, True, derived)
                continue
            self.apply(ops, Event(etype, source, entity_id, decode_json(payload) if payload else {}, time=time,
                                  seq=seq))
        self._pending_position[0] = upto

    def _state_changed(self, ops: Ops, entity_id: str | None, seq: int, source: str, new: State | None,
                       emit: bool, derived: bool = True) -> None:
        if entity_id is None:
            return
        old = self.get(entity_id)
        self._set(entity_id, new)
        if not emit:
            return
        if new is None:
            ops.removed_states.add(entity_id)
            ops.states.pop(entity_id, None)
            ops.unhistoried.append((entity_id, seq))
            return
        state = new.state
        t = new.last_updated
        attributes = new.attributes
        attrs = new.attributes_json  # report_state encodes them
        if attrs is None:
            if old is not None and old.attributes_json is not None and old.attributes == attributes:
                attrs = old.attributes_json  # attributes seldom change: their JSON neither
            else:
                attrs = encode_json(attributes)
            new.attributes_json = attrs
        # One tuple for both: the history row, and the entity's current state (Ops.state_rows).
        ops.states[entity_id] = history_row = (entity_id, t, seq, state, attrs, new.last_changed)
        if ops.removed_states:
            ops.removed_states.discard(entity_id)
        if derived:
            ops.history.append(history_row)
            numbers = self._numbers
            if state in numbers:
                value = numbers[state]
            else:
                if len(numbers) >= NUMBERS_CACHED:
                    numbers.clear()
                numbers[state] = value = as_number(state)
            if value is not None:
                _stat(ops.stats_5m, (entity_id, t - t % FIVE_MIN), value)
                _stat(ops.stats_hour, (entity_id, t - t % HOUR), value)
            if old is not None and old.state != state and (
                    as_number(old.state) if old.state not in numbers else numbers[old.state]) is None:
                for bucket, secs in split_hours(old.last_changed, new.last_changed):
                    key = (entity_id, bucket, old.state)
                    ops.state_time[key] = ops.state_time.get(key, 0.0) + secs
        if self._known(entity_id) is None:
            # An entity first seen by its state is registered to the integration that reported it.
            row = registry_row(entity_id, source, None, None, None, {}, seq)
            self._set_registry(entity_id, row)
            ops.removed_entities.discard(entity_id)
            ops.entities[entity_id] = _entities_row(row)

    def _registered(self, ops: Ops, event: Event, emit: bool) -> None:
        entity_id = event.entity_id
        if entity_id is None:
            return
        info = dict(event.data)
        device = info.get("device") or {}
        if not isinstance(device, dict):
            device = {}
        integration = info.get("integration") or event.source
        name, area, device_id = info.get("name"), info.get("area") or device.get("area"), device.get("id")
        seq = event.seq or 0
        prev = self._known(entity_id)
        if prev is not None:
            # A registration updates the stored row: what it leaves out, the row keeps.
            name = prev["name"] if name is None else name
            area = prev["area"] if area is None else area
            device_id = prev["device_id"] if device_id is None else device_id
            if not info:
                info, seq = prev["info"], prev["seq"]
        row = registry_row(entity_id, integration, name, area, device_id, info, seq)
        self._set_registry(entity_id, row)
        if not emit:
            return
        ops.removed_entities.discard(entity_id)
        ops.entities[entity_id] = _entities_row(row)
        if device.get("id"):  # this registration's device (not one the row kept)
            ops.devices[device["id"]] = (device["id"], integration, device.get("name"), device.get("area"),
                                         encode_json(device))

    def commit(self) -> None:
        """The backend committed the oldest batch begun: make its layer the truth."""
        if not self._layers:
            return
        overlay, registry, position = self._layers.pop(0)
        for entity_id, state in overlay.items():
            if state is None:
                self.states.pop(entity_id, None)
            else:
                self.states[entity_id] = state
        for entity_id, info in registry.items():
            if info is None:
                self.registry.pop(entity_id, None)
            else:
                self.registry[entity_id] = info
        self.position = max(self.position, position[0])
        if not self._layers:
            self._newest.clear()
            self._newest_registry.clear()

    def rollback(self) -> None:
        """Forget every batch begun and not committed."""
        self._layers.clear()
        self._overlay, self._registry_overlay, self._pending_position = {}, {}, [self.position]
        self._newest.clear()
        self._newest_registry.clear()
