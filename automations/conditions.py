"""Conditions: evaluated against the current (or replayed) states, the run's variables and the clock."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from automations import models as m
from automations.durations import duration_us, time_of_day, weekdays
from automations.sun import last_sun_event
from automations.templates import Renderer, StateReader, TemplateError, cached
from automations.triggers import numeric_in_range, signed_duration
from hub.states import as_number
from hub.times import to_datetime


class Scope(Protocol):
    """What a condition needs from the run evaluating it."""

    renderer: Renderer
    reader: StateReader
    variables: dict[str, Any]

    def now(self) -> int: ...
    def sun_position(self) -> tuple[float, float]: ...
    def record(self, path: str, entry: dict[str, Any]) -> None: ...


def check_all(conds: list[m.ConditionBase], scope: Scope, path: str) -> bool:
    """True when every (enabled) condition holds; records each result under `path/i`."""
    for i, cond in enumerate(conds):
        if not check(cond, scope, f"{path}/{i}"):
            return False
    return True


def check(cond: m.ConditionBase, scope: Scope, path: str) -> bool:
    if not cond.enabled:
        scope.record(path, {"condition": cond.condition, "result": None, "skipped": "disabled"})
        return True
    entry: dict[str, Any] = {"condition": cond.condition}
    try:
        result = _evaluate(cond, scope, path, entry)
    except (TemplateError, ValueError) as exc:
        result = False
        entry["error"] = str(exc)
    entry["result"] = result
    scope.record(path, entry)
    return result


def _evaluate(cond: m.ConditionBase, scope: Scope, path: str, entry: dict[str, Any]) -> bool:
    if isinstance(cond, m.LogicCondition):
        subs: list[m.ConditionBase] = cond.conditions
        if cond.condition == "and":
            return all(check(c, scope, f"{path}/conditions/{i}") for i, c in enumerate(subs))
        if cond.condition == "or":
            return any(check(c, scope, f"{path}/conditions/{i}") for i, c in enumerate(subs))
        return not any(check(c, scope, f"{path}/conditions/{i}") for i, c in enumerate(subs))
    if isinstance(cond, m.StateCondition):
        return _state(cond, scope, entry)
    if isinstance(cond, m.NumericStateCondition):
        return _numeric(cond, scope, entry)
    if isinstance(cond, m.TemplateCondition):
        return scope.renderer.truthy(cached(cond.value_template), scope.variables)
    if isinstance(cond, m.TimeCondition):
        return _time(cond, scope, entry)
    if isinstance(cond, m.SunCondition):
        return _sun(cond, scope)
    if isinstance(cond, m.TriggerCondition):
        ids = cond.id if isinstance(cond.id, list) else [cond.id]
        trigger = scope.variables.get("trigger") or {}
        return str(trigger.get("id")) in [str(i) for i in ids]
    raise ValueError(f"unsupported condition {cond.condition!r}")


def _state(cond: m.StateCondition, scope: Scope, entry: dict[str, Any]) -> bool:
    wanted = m.state_list(cond.state) or []
    resolved = []
    for w in wanted:  # a wanted state may name an entity (input_select.x) whose state to compare with
        ref = scope.reader.get(w) if "." in w and " " not in w else None
        resolved.append(ref.state if ref is not None else w)
    span = duration_us(cond.for_, scope.renderer, scope.variables) if cond.for_ is not None else 0
    results = []
    seen: dict[str, Any] = {}
    for eid in cond.entity_id:
        st = scope.reader.get(eid)
        if st is None:
            results.append(False)
            seen[eid] = None
            continue
        if cond.attribute is not None:
            raw = st.attributes.get(cond.attribute)
            value = None if raw is None else ("on" if raw is True else "off" if raw is False else str(raw))
        else:
            value = st.state
        seen[eid] = value
        ok = value in resolved
        if ok and span:
            since = st.last_updated if cond.attribute is not None else st.last_changed
            ok = scope.now() - since >= span
        results.append(ok)
    entry["states"] = seen
    return any(results) if cond.match == "any" else all(results)


def _numeric(cond: m.NumericStateCondition, scope: Scope, entry: dict[str, Any]) -> bool:
    values: dict[str, Any] = {}
    ok = True
    for eid in cond.entity_id:
        st = scope.reader.get(eid)
        value: float | None = None
        if st is not None:
            if cond.value_template is not None:
                from automations.templates import TemplateState

                text = scope.renderer.render(cached(cond.value_template),
                                             {**scope.variables, "state": TemplateState(st)})
                value = as_number(text.strip())
            elif cond.attribute is not None:
                raw = st.attributes.get(cond.attribute)
                value = as_number(str(raw)) if raw is not None and not isinstance(raw, bool) else None
            else:
                value = as_number(st.state)
        values[eid] = value
        if not numeric_in_range(value, cond.above, cond.below, scope.reader):
            ok = False
    entry["values"] = values
    return ok


def _clock_value(value: str, scope: Scope, now_local: datetime) -> int | None:
    """Seconds after local midnight for `HH:MM[:SS]` or an entity holding a time or datetime."""
    secs = time_of_day(value)
    if secs is not None:
        return secs
    st = scope.reader.get(value)
    if st is None:
        raise ValueError(f"time condition: {value} has no state")
    secs = time_of_day(st.state[:8]) if len(st.state) <= 8 else None
    if secs is not None:
        return secs
    try:
        dt = datetime.fromisoformat(st.state.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"time condition: {value} holds {st.state!r}, not a time") from None
    if dt.tzinfo is not None:
        dt = dt.astimezone(now_local.tzinfo)
    return dt.hour * 3600 + dt.minute * 60 + dt.second


def _time(cond: m.TimeCondition, scope: Scope, entry: dict[str, Any]) -> bool:
    tz = scope.renderer.tz
    now_local = to_datetime(scope.now(), tz)
    now_secs = now_local.hour * 3600 + now_local.minute * 60 + now_local.second + now_local.microsecond / 1e6
    entry["now"] = now_local.isoformat()
    days = weekdays(cond.weekday)
    if days is not None and now_local.weekday() not in days:
        return False
    after = _clock_value(cond.after, scope, now_local) if cond.after else 0
    before = _clock_value(cond.before, scope, now_local) if cond.before else 86400
    if after <= before:
        return after <= now_secs < before
    return now_secs >= after or now_secs < before  # the window spans midnight (22:00 to 06:00)


def _sun(cond: m.SunCondition, scope: Scope) -> bool:
    lat, lon = scope.sun_position()
    now = scope.now()
    day_start = int(to_datetime(now, scope.renderer.tz).replace(hour=0, minute=0, second=0,
                                                                 microsecond=0).timestamp() * 1_000_000)
    # Today's events (HA compares with today's sunrise/sunset in local time).
    def today(kind: str) -> int | None:
        return last_sun_event(kind, day_start + 86_400_000_000 - 1, lat, lon)

    ok = True
    if cond.after is not None:
        t = today(cond.after)
        ok = ok and t is not None and now >= t + signed_duration(cond.after_offset)
    if cond.before is not None:
        t = today(cond.before)
        ok_before = t is not None and now < t + signed_duration(cond.before_offset)
        if cond.after is not None and cond.after == "sunset" and cond.before == "sunrise":
            return ok or ok_before  # after sunset OR before sunrise: the night spans midnight
        ok = ok and ok_before
    return ok


