"""Triggers at run time: each armed trigger says which events can concern it (its index keys),
and calls `fire(variables)` when it matches, after its `for:` when it has one."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from automations import cron
from automations import models as m
from automations.clock import Clock, Timer
from automations.durations import duration_us, time_of_day, weekdays
from automations.sun import next_sun_event
from automations.templates import Renderer, StateReader, TemplateError, TemplateState, cached, referenced_entities
from hub import events as ev
from hub.events import Event
from hub.projections import state_from_data
from hub.states import as_number
from hub.times import to_datetime

log = logging.getLogger(__name__)

Key = tuple[str, str]
Fire = Callable[[dict[str, Any]], None]
ANY_STATE: Key = ("state", "*")


@dataclass
class TriggerContext:
    """What triggers need from their engine."""

    clock: Clock
    reader: StateReader
    renderer: Renderer
    tz: ZoneInfo
    latitude: float
    longitude: float
    on_error: Callable[[str], None]
    cause: tuple[int | None, str | None] | None = None  # the event being dispatched (seq, correlation)


def state_obj(entity_id: str, data: dict[str, Any] | None, t: int, tz: Any = None) -> TemplateState | None:
    state = state_from_data(entity_id, data, t)
    return TemplateState(state, tz) if state is not None else None


class Armed:
    """One trigger of one automation (or of one wait_for_trigger), ready to receive events."""

    def __init__(self, spec: m.TriggerBase, idx: int, ctx: TriggerContext, fire: Fire) -> None:
        self.spec = spec
        self.idx = idx
        self.ctx = ctx
        self._fire = fire
        self.pending: dict[str, tuple[Timer, Any]] = {}

    def keys(self) -> list[Key]:
        return []

    def arm(self) -> None:
        """Start timers (time-based triggers)."""

    def disarm(self) -> None:
        for timer, _ in self.pending.values():
            timer.cancel()
        self.pending.clear()

    def on_event(self, event: Event) -> None:
        """An event under one of this trigger's keys."""

    def base_vars(self, platform: str) -> dict[str, Any]:
        return {"platform": platform, "id": self.spec.id if self.spec.id is not None else str(self.idx),
                "idx": str(self.idx), "alias": self.spec.alias}

    def fire(self, variables: dict[str, Any]) -> None:
        self._fire(variables)

    def _for_us(self, variables: dict[str, Any]) -> int | None:
        value = getattr(self.spec, "for_", None)
        if value is None:
            return None
        try:
            return duration_us(value, self.ctx.renderer, {"trigger": variables})
        except (ValueError, TemplateError) as exc:
            self.ctx.on_error(f"trigger {self.idx}: `for` is not a duration: {exc}")
            return None

    def _start_for(self, key: str, since: int, variables: dict[str, Any], keep: Any) -> None:
        """Fire `variables` once `for:` has elapsed since `since`, unless cancelled first."""
        span = self._for_us(variables)
        if span is None:
            self.fire(variables)
            return
        current = self.pending.get(key)
        if current is not None and current[1] == keep:
            return  # still the same qualifying state: the running timer stands
        if current is not None:
            current[0].cancel()
        variables["for"] = timedelta(microseconds=span)
        variables["for_since"] = since
        cause = self.ctx.cause

        def done() -> None:
            self.pending.pop(key, None)
            variables["_cause"] = cause
            self.fire(variables)

        self.pending[key] = (self.ctx.clock.call_at(since + span, done), keep)

    def _cancel_for(self, key: str) -> None:
        current = self.pending.pop(key, None)
        if current is not None:
            current[0].cancel()


def _values(value: Any) -> list[str] | None:
    return m.state_list(value)


class StateArmed(Armed):
    spec: m.StateTrigger

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        s = self.spec
        self.to, self.from_ = _values(s.to), _values(s.from_)
        self.not_to, self.not_from = _values(s.not_to) or [], _values(s.not_from) or []
        explicit = s.model_fields_set
        self.match_all = not ({"to", "from_", "not_to", "not_from"} & explicit)

    def keys(self) -> list[Key]:
        return [("state", e) for e in self.spec.entity_id]

    def _value(self, data: dict[str, Any] | None) -> Any:
        if data is None:
            return None
        if self.spec.attribute is not None:
            value = (data.get("attributes") or {}).get(self.spec.attribute)
            return None if value is None else ("on" if value is True else "off" if value is False else str(value))
        return data.get("state")

    def matches(self, old: dict[str, Any] | None, new: dict[str, Any]) -> bool:
        old_v, new_v = self._value(old), self._value(new)
        if self.spec.attribute is not None and old_v == new_v:
            return False
        if not self.match_all and old_v == new_v:
            return False
        if self.to is not None and new_v not in self.to:
            return False
        if self.from_ is not None and old_v not in self.from_:
            return False
        return new_v not in self.not_to and old_v not in self.not_from

    def on_event(self, event: Event) -> None:
        if event.type != ev.STATE_CHANGED or event.entity_id is None:
            return
        old, new = event.data.get("old_state"), event.data.get("new_state")
        eid = event.entity_id
        if new is None:
            self._cancel_for(eid)
            return
        pending = self.pending.get(eid)
        if pending is not None and pending[1] != self._value(new):
            self._cancel_for(eid)
        if not self.matches(old, new):
            return
        tz = self.ctx.tz
        variables = {**self.base_vars("state"), "entity_id": eid, "from_state": state_obj(eid, old, event.time, tz),
                     "to_state": state_obj(eid, new, event.time, tz), "attribute": self.spec.attribute,
                     "for": None}
        self._start_for(eid, event.time, variables, self._value(new))


class NumericArmed(Armed):
    spec: m.NumericStateTrigger

    def keys(self) -> list[Key]:
        keys = [("state", e) for e in self.spec.entity_id]
        for bound in (self.spec.above, self.spec.below):
            if isinstance(bound, str) and "." in bound:
                keys.append(("state", bound))
        return keys

    def value(self, entity_id: str, data: dict[str, Any] | None, t: int) -> float | None:
        if data is None:
            return None
        if self.spec.value_template is not None:
            st = state_obj(entity_id, data, t, self.ctx.tz)
            try:
                out = self.ctx.renderer.render(cached(self.spec.value_template), {"state": st})
            except TemplateError as exc:
                self.ctx.on_error(f"trigger {self.idx}: value_template: {exc}")
                return None
            return as_number(out.strip())
        if self.spec.attribute is not None:
            raw = (data.get("attributes") or {}).get(self.spec.attribute)
            return float(raw) if isinstance(raw, (int, float)) and not isinstance(raw, bool) else \
                as_number(str(raw)) if raw is not None else None
        return as_number(str(data.get("state", "")))

    def in_range(self, value: float | None) -> bool:
        return numeric_in_range(value, self.spec.above, self.spec.below, self.ctx.reader)

    def on_event(self, event: Event) -> None:
        if event.type != ev.STATE_CHANGED or event.entity_id is None:
            return
        eid = event.entity_id
        if eid not in self.spec.entity_id:
            return  # a bound entity changed: HA re-evaluates only on the watched entity's changes
        old, new = event.data.get("old_state"), event.data.get("new_state")
        now_in = self.in_range(self.value(eid, new, event.time))
        if not now_in:
            self._cancel_for(eid)
            return
        if self.in_range(self.value(eid, old, event.time)) and eid not in self.pending:
            return  # already in range: crossing only
        tz = self.ctx.tz
        variables = {**self.base_vars("numeric_state"), "entity_id": eid, "above": self.spec.above,
                     "below": self.spec.below, "from_state": state_obj(eid, old, event.time, tz),
                     "to_state": state_obj(eid, new, event.time, tz), "for": None}
        self._start_for(eid, event.time, variables, True)


def numeric_in_range(value: float | None, above: Any, below: Any, reader: StateReader) -> bool:
    if value is None:
        return False

    def bound(b: Any) -> float | None:
        if b is None or isinstance(b, (int, float)):
            return b
        number = as_number(b)
        if number is not None:
            return number
        st = reader.get(b)
        return as_number(st.state) if st is not None else None

    lo, hi = bound(above), bound(below)
    if above is not None and (lo is None or not value > lo):
        return False
    if below is not None and (hi is None or not value < hi):
        return False
    return True


class EventArmed(Armed):
    spec: m.EventTrigger

    def keys(self) -> list[Key]:
        types = self.spec.event_type if isinstance(self.spec.event_type, list) else [self.spec.event_type]
        return [("event", t) for t in types]

    def on_event(self, event: Event) -> None:
        data = dict(event.data)
        event_type = event.type
        if event.type == ev.DEVICE_EVENT and "event_type" in data:
            event_type = str(data.pop("event_type"))
        if event.entity_id:
            data.setdefault("entity_id", event.entity_id)
        for key, want in self.spec.event_data.items():
            if data.get(key) != want and str(data.get(key)) != str(want):
                return
        self.fire({**self.base_vars("event"), "event": {"event_type": event_type, "data": data,
                                                        "origin": event.source, "time_fired": event.time,
                                                        "seq": event.seq}})


def topic_matches(pattern: str, topic: str) -> bool:
    p, t = pattern.split("/"), topic.split("/")
    for i, part in enumerate(p):
        if part == "#":
            return True
        if i >= len(t) or (part != "+" and part != t[i]):
            return False
    return len(p) == len(t)


class MqttArmed(Armed):
    spec: m.MqttTrigger

    def keys(self) -> list[Key]:
        topic = self.spec.topic
        return [("mqtt", topic if "+" not in topic and "#" not in topic else "*")]

    def on_event(self, event: Event) -> None:
        topic = str(event.data.get("topic", ""))
        if not topic_matches(self.spec.topic, topic):
            return
        payload = event.data.get("payload", "")
        payload = payload if isinstance(payload, str) else str(payload)
        import json

        try:
            payload_json = json.loads(payload)
        except ValueError:
            payload_json = None
        variables = {**self.base_vars("mqtt"), "topic": topic, "payload": payload, "payload_json": payload_json,
                     "qos": event.data.get("qos", 0), "retain": event.data.get("retain", False)}
        if self.spec.payload is not None:
            compare = payload
            if self.spec.value_template is not None:
                try:
                    compare = self.ctx.renderer.render(cached(self.spec.value_template),
                                                       {"value": payload, "value_json": payload_json}).strip()
                except TemplateError as exc:
                    self.ctx.on_error(f"trigger {self.idx}: value_template: {exc}")
                    return
            if compare != str(self.spec.payload):
                return
        self.fire(variables)


class TemplateArmed(Armed):
    spec: m.TemplateTrigger

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.last: bool | None = None

    def keys(self) -> list[Key]:
        refs = referenced_entities(self.spec.value_template)
        return [("state", e) for e in sorted(refs)] if refs else [ANY_STATE]

    def arm(self) -> None:
        self.last = self._eval()

    def _eval(self) -> bool | None:
        try:
            return self.ctx.renderer.truthy(cached(self.spec.value_template), {})
        except TemplateError as exc:
            self.ctx.on_error(f"trigger {self.idx}: value_template: {exc}")
            return None

    def on_event(self, event: Event) -> None:
        result = self._eval()
        was, self.last = self.last, result
        if not result:
            self._cancel_for("template")
            return
        if was:
            return
        tz = self.ctx.tz
        eid = event.entity_id or ""
        variables = {**self.base_vars("template"), "entity_id": eid,
                     "from_state": state_obj(eid, event.data.get("old_state"), event.time, tz),
                     "to_state": state_obj(eid, event.data.get("new_state"), event.time, tz), "for": None}
        self._start_for("template", event.time, variables, True)


class HubArmed(Armed):
    spec: m.HubTrigger

    def keys(self) -> list[Key]:
        return [("event", ev.HUB_STARTED if self.spec.event == "start" else ev.HUB_STOPPED)]

    def on_event(self, event: Event) -> None:
        self.fire({**self.base_vars(self.spec.trigger), "event": self.spec.event})


class TimedArmed(Armed):
    """Triggers that fire at computed times: time, time_pattern, cron, sun."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.timer: Timer | None = None

    def next_time(self, after: int) -> int | None:
        raise NotImplementedError

    def arm(self) -> None:
        self._schedule(self.ctx.clock.now())

    def disarm(self) -> None:
        super().disarm()
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _schedule(self, after: int) -> None:
        if self.timer is not None:
            self.timer.cancel()
        when = self.next_time(after)
        self.timer = None if when is None else self.ctx.clock.call_at(when, lambda: self._due(when))

    def _due(self, when: int) -> None:
        self.timer = None
        variables = {**self.base_vars(self.spec.trigger), "now": to_datetime(when, self.ctx.tz),
                     "scheduled": when}
        self._schedule(when)
        self.fire(variables)


class TimeArmed(TimedArmed):
    spec: m.TimeTrigger

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.ats = self.spec.at if isinstance(self.spec.at, list) else [self.spec.at]
        self.days = weekdays(self.spec.weekday)

    def keys(self) -> list[Key]:
        return [("state", a) for a in self.ats if time_of_day(a) is None]

    def on_event(self, event: Event) -> None:
        self._schedule(self.ctx.clock.now())  # the entity holding the time changed

    def next_time(self, after: int) -> int | None:
        best: int | None = None
        for at in self.ats:
            t = self._next_for(at, after)
            if t is not None and (best is None or t < best):
                best = t
        return best

    def _next_for(self, at: str, after: int) -> int | None:
        tz = self.ctx.tz
        secs = time_of_day(at)
        if secs is None:
            st = self.ctx.reader.get(at)
            if st is None:
                return None
            secs = time_of_day(st.state[:8]) if len(st.state) <= 8 else None
            if secs is None:
                try:
                    dt = datetime.fromisoformat(st.state.replace("Z", "+00:00"))
                except ValueError:
                    return None
                if dt.tzinfo is None:
                    dt = dt.replace(tzinfo=tz)
                when = int(dt.timestamp() * 1_000_000)
                return when if when > after else None
        day = to_datetime(after, tz).date()
        for i in range(9):
            d = day + timedelta(days=i)
            if self.days is not None and d.weekday() not in self.days:
                continue
            local = datetime(d.year, d.month, d.day, secs // 3600, secs // 60 % 60, secs % 60, tzinfo=tz)
            when = int(local.timestamp() * 1_000_000)
            if when > after:
                return when
        return None


def _pattern_field(value: int | str | None, default: str) -> str:
    if value is None:
        return default
    text = str(value).strip()
    if text.startswith("/"):
        return "*" + text
    if text == "*" or text.isdigit():
        return text
    raise ValueError(f"{value!r} is not a number, `*` or `/N`")


def pattern_cron(spec: m.TimePatternTrigger) -> str:
    """A time_pattern as a six-field cron (minute hour day month weekday second)."""
    h, mi, s = spec.hours, spec.minutes, spec.seconds
    if h is None and mi is None and s is None:
        raise ValueError("needs hours, minutes or seconds")
    sec = _pattern_field(s, "0")
    minute = _pattern_field(mi, "*" if s is not None else "0")
    hour = _pattern_field(h, "*" if (mi is not None or s is not None) else "0")
    return f"{minute} {hour} * * * {sec}"


class CronArmed(TimedArmed):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        if isinstance(self.spec, m.CronTrigger):
            self.expr = self.spec.cron
            self.zone = ZoneInfo(self.spec.timezone) if self.spec.timezone else self.ctx.tz
        else:
            self.expr = pattern_cron(self.spec)  # type: ignore[arg-type]
            self.zone = self.ctx.tz

    def next_time(self, after: int) -> int | None:
        return cron.next_fire(self.expr, after, self.zone)


class SunArmed(TimedArmed):
    spec: m.SunTrigger

    def next_time(self, after: int) -> int | None:
        offset = signed_duration(self.spec.offset)
        return next_sun_event(self.spec.event, after, self.ctx.latitude, self.ctx.longitude, offset)

    def _due(self, when: int) -> None:
        self.timer = None
        self._schedule(when)
        self.fire({**self.base_vars("sun"), "event": self.spec.event, "offset": self.spec.offset,
                   "now": to_datetime(when, self.ctx.tz)})


def signed_duration(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, str) and value.strip().startswith("-"):
        return -duration_us(value.strip()[1:])
    return duration_us(value)


ARMED: dict[type[m.TriggerBase], type[Armed]] = {
    m.StateTrigger: StateArmed, m.NumericStateTrigger: NumericArmed, m.EventTrigger: EventArmed,
    m.MqttTrigger: MqttArmed, m.TemplateTrigger: TemplateArmed, m.HubTrigger: HubArmed,
    m.TimeTrigger: TimeArmed, m.TimePatternTrigger: CronArmed, m.CronTrigger: CronArmed, m.SunTrigger: SunArmed,
}


def arm(spec: m.TriggerBase, idx: int, ctx: TriggerContext, fire: Fire) -> Armed:
    return ARMED[type(spec)](spec, idx, ctx, fire)


def index_keys(event: Event) -> list[Key]:
    """The index keys under which triggers that may match `event` are filed."""
    t = event.type
    if t == ev.STATE_CHANGED:
        return [("state", event.entity_id or ""), ANY_STATE]
    if t == ev.MQTT_MESSAGE:
        return [("mqtt", str(event.data.get("topic", ""))), ("mqtt", "*"), ("event", t)]
    if t == ev.DEVICE_EVENT:
        return [("event", str(event.data.get("event_type", ""))), ("event", t)]
    return [("event", t)]
