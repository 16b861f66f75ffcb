"""Raw YAML blocks into validated specs, recursively, collecting every problem with its key path."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ValidationError

from automations import cron
from automations import models as m
from automations.durations import check_duration, time_of_day, weekdays
from automations.templates import TemplateError, check_templates, compile_template
from hub.events import EVENT_TYPE, is_entity_id

Loc = tuple[Any, ...]
Problems = list[tuple[Loc, str]]


def _model(model: type[BaseModel], data: Any, loc: Loc, problems: Problems) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
            problems.append((loc + tuple(err["loc"]), msg))
        return None


def _templates(value: Any, loc: Loc, problems: Problems) -> None:
    for where, message in check_templates(value):
        problems.append((loc + where, message))


def _template_field(obj: Any, name: str, loc: Loc, problems: Problems, key: str | None = None) -> None:
    value = getattr(obj, name, None)
    if isinstance(value, str):
        try:
            compile_template(value)
        except TemplateError as exc:
            problems.append((loc + (key or name,), str(exc)))


def _duration(value: Any, loc: Loc, problems: Problems) -> None:
    try:
        check_duration(value)
    except ValueError as exc:
        problems.append((loc, str(exc)))


def block(raw: Any, loc: Loc, problems: Problems) -> list[Any]:
    """A list (or one item) as HA allows both."""
    if raw is None:
        return []
    if isinstance(raw, list):
        return raw
    return [raw]


# --- triggers -----------------------------------------------------------------

def trigger(raw: Any, loc: Loc, problems: Problems) -> m.TriggerBase | None:
    if not isinstance(raw, dict):
        problems.append((loc, "a trigger must be a mapping with a `trigger:` key"))
        return None
    data = dict(raw)
    if "platform" in data and "trigger" not in data:  # the pre-2024.10 spelling
        data["trigger"] = data.pop("platform")
    kind = data.get("trigger")
    model = m.TRIGGERS.get(kind) if isinstance(kind, str) else None
    if model is None:
        problems.append((loc + ("trigger",), f"unknown trigger {kind!r} (known: {', '.join(sorted(m.TRIGGERS))})"))
        return None
    spec = _model(model, data, loc, problems)
    if spec is None:
        return None
    _templates(spec.variables, loc + ("variables",), problems)
    for name in ("value_template",):
        _template_field(spec, name, loc, problems)
    if hasattr(spec, "for_"):
        _duration(spec.for_, loc + ("for",), problems)
    if isinstance(spec, m.NumericStateTrigger):
        _numeric_bounds(spec, loc, problems)
    elif isinstance(spec, m.EventTrigger):
        types = spec.event_type if isinstance(spec.event_type, list) else [spec.event_type]
        for t in types:
            if not isinstance(t, str) or not EVENT_TYPE.match(t):
                problems.append((loc + ("event_type",), f"{t!r} is not an event type (snake_case)"))
    elif isinstance(spec, m.TimeTrigger):
        for at in spec.at if isinstance(spec.at, list) else [spec.at]:
            if time_of_day(at) is None and not is_entity_id(at):
                problems.append((loc + ("at",), f"{at!r} is neither HH:MM[:SS] nor an entity id"))
        _weekday(spec.weekday, loc + ("weekday",), problems)
    elif isinstance(spec, m.CronTrigger):
        tz = _zone(spec.timezone, loc + ("timezone",), problems)
        try:
            cron.check(spec.cron, tz or ZoneInfo("UTC"))
        except cron.CronError as exc:
            problems.append((loc + ("cron",), str(exc)))
    elif isinstance(spec, m.TimePatternTrigger):
        from automations.triggers import pattern_cron

        try:
            cron.check(pattern_cron(spec), ZoneInfo("UTC"))
        except (cron.CronError, ValueError) as exc:
            problems.append((loc, f"time_pattern: {exc}"))
    elif isinstance(spec, m.SunTrigger):
        _duration(_strip_sign(spec.offset), loc + ("offset",), problems)
    elif isinstance(spec, m.MqttTrigger):
        if not spec.topic or ("#" in spec.topic and not spec.topic.endswith("#")):
            problems.append((loc + ("topic",), f"invalid topic filter {spec.topic!r}"))
    return spec


def _strip_sign(value: Any) -> Any:
    return value[1:] if isinstance(value, str) and value.startswith("-") else value


def _zone(name: str | None, loc: Loc, problems: Problems) -> ZoneInfo | None:
    if name is None:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append((loc, f"unknown time zone {name!r}"))
        return None


def _weekday(value: Any, loc: Loc, problems: Problems) -> None:
    try:
        weekdays(value)
    except ValueError as exc:
        problems.append((loc, str(exc)))


def _numeric_bounds(spec: Any, loc: Loc, problems: Problems) -> None:
    if spec.above is None and spec.below is None:
        problems.append((loc, "needs `above`, `below` or both"))
    for key in ("above", "below"):
        value = getattr(spec, key)
        if isinstance(value, str) and not is_entity_id(value):
            try:
                float(value)
            except ValueError:
                problems.append((loc + (key,), f"{value!r} is neither a number nor an entity id"))


# --- conditions ---------------------------------------------------------------

def condition(raw: Any, loc: Loc, problems: Problems) -> m.ConditionBase | None:
    if isinstance(raw, str):
        raw = {"condition": "template", "value_template": raw}
    if not isinstance(raw, dict):
        problems.append((loc, "a condition must be a mapping or a template string"))
        return None
    data = dict(raw)
    if "condition" not in data:
        for key in ("and", "or", "not"):
            if key in data:  # shorthand: `- or: [...]`
                data = {"condition": key, "conditions": data.pop(key), **data}
                break
    kind = data.get("condition")
    model = m.CONDITIONS.get(kind) if isinstance(kind, str) else None
    if model is None:
        problems.append((loc + ("condition",),
                         f"unknown condition {kind!r} (known: {', '.join(sorted(m.CONDITIONS))})"))
        return None
    spec = _model(model, data, loc, problems)
    if spec is None:
        return None
    if isinstance(spec, m.LogicCondition):
        spec.conditions = conditions(spec.conditions, loc + ("conditions",), problems)
    elif isinstance(spec, (m.TemplateCondition, m.NumericStateCondition)):
        _template_field(spec, "value_template", loc, problems)
        if isinstance(spec, m.NumericStateCondition):
            _numeric_bounds(spec, loc, problems)
    elif isinstance(spec, m.StateCondition):
        _duration(spec.for_, loc + ("for",), problems)
    elif isinstance(spec, m.TimeCondition):
        for key in ("after", "before"):
            value = getattr(spec, key)
            if value is not None and time_of_day(value) is None and not is_entity_id(value):
                problems.append((loc + (key,), f"{value!r} is neither HH:MM[:SS] nor an entity id"))
        _weekday(spec.weekday, loc + ("weekday",), problems)
        if spec.after is None and spec.before is None and spec.weekday is None:
            problems.append((loc, "needs `after`, `before` or `weekday`"))
    elif isinstance(spec, m.SunCondition):
        if spec.after is None and spec.before is None:
            problems.append((loc, "needs `after`, `before` or both"))
        _duration(_strip_sign(spec.after_offset), loc + ("after_offset",), problems)
        _duration(_strip_sign(spec.before_offset), loc + ("before_offset",), problems)
    return spec


def conditions(raw: Any, loc: Loc, problems: Problems) -> list[m.ConditionBase]:
    out = []
    for i, item in enumerate(block(raw, loc, problems)):
        spec = condition(item, loc + (i,) if isinstance(raw, list) else loc, problems)
        if spec is not None:
            out.append(spec)
    return out


# --- actions ------------------------------------------------------------------

def action(raw: Any, loc: Loc, problems: Problems) -> m.ActionBase | None:
    if not isinstance(raw, dict):
        problems.append((loc, "an action must be a mapping"))
        return None
    for key, model in m.ACTIONS:  # noqa: B007 (model is used after the loop)
        if key in raw:
            break
    else:
        problems.append((loc, "unknown action (expected one of: action, delay, wait_template, wait_for_trigger, "
                              "choose, if, repeat, variables, event, stop, parallel, sequence, condition)"))
        return None
    data = dict(raw)
    if key == "condition":
        base = {k: data.pop(k) for k in ("continue_on_error",) if k in data}
        cond = condition(data, loc, problems)
        return m.ConditionAction(condition=cond, **base) if cond is not None else None
    if key == "service":
        data["action"] = data.pop("service")
    spec = _model(model, data, loc, problems)
    if spec is None:
        return None
    if isinstance(spec, m.CallAction):
        if "." not in spec.action:
            problems.append((loc + ("action",), f"{spec.action!r} is not domain.service (like light.turn_on)"))
        _templates(spec.data, loc + ("data",), problems)
        _templates(spec.target, loc + ("target",), problems)
        for k in spec.target:
            if k not in ("entity_id", "area_id", "device_id", "label_id"):
                problems.append((loc + ("target", k), "unknown key"))
        targets = spec.target.get("entity_id", spec.entity_id)
        if targets is not None and not (isinstance(targets, str) and "{{" in targets):
            try:
                m.entity_list(targets)
            except ValueError as exc:
                problems.append((loc + ("target", "entity_id"), str(exc)))
    elif isinstance(spec, m.DelayAction):
        _duration(spec.delay, loc + ("delay",), problems)
    elif isinstance(spec, m.WaitTemplateAction):
        _template_field(spec, "wait_template", loc, problems)
        _duration(spec.timeout, loc + ("timeout",), problems)
    elif isinstance(spec, m.WaitForTriggerAction):
        spec.wait_for_trigger = [t for i, r in enumerate(block(spec.wait_for_trigger, loc, problems))
                                 if (t := trigger(r, loc + ("wait_for_trigger", i), problems)) is not None]
        _duration(spec.timeout, loc + ("timeout",), problems)
    elif isinstance(spec, m.ChooseAction):
        options = []
        for i, option in enumerate(block(spec.choose, loc, problems)):
            where = loc + ("choose", i)
            if not isinstance(option, dict) or "sequence" not in option:
                problems.append((where, "each choice needs `conditions` and `sequence`"))
                continue
            extra = set(option) - {"conditions", "sequence", "alias"}
            for k in extra:
                problems.append((where + (k,), "unknown key"))
            options.append((conditions(option.get("conditions"), where + ("conditions",), problems),
                            actions(option["sequence"], where + ("sequence",), problems)))
        spec.choose = options
        spec.default = actions(spec.default, loc + ("default",), problems) if spec.default is not None else None
    elif isinstance(spec, m.IfAction):
        spec.if_ = conditions(spec.if_, loc + ("if",), problems)
        spec.then = actions(spec.then, loc + ("then",), problems)
        spec.else_ = actions(spec.else_, loc + ("else",), problems) if spec.else_ is not None else None
    elif isinstance(spec, m.RepeatAction):
        _repeat(spec, loc + ("repeat",), problems)
    elif isinstance(spec, m.VariablesAction):
        _templates(spec.variables, loc + ("variables",), problems)
    elif isinstance(spec, m.EventAction):
        if not EVENT_TYPE.match(spec.event):
            problems.append((loc + ("event",), f"{spec.event!r} is not an event type (snake_case)"))
        _templates(spec.event_data, loc + ("event_data",), problems)
    elif isinstance(spec, m.ParallelAction):
        branches = []
        for i, item in enumerate(block(spec.parallel, loc, problems)):
            where = loc + ("parallel", i)
            if isinstance(item, dict) and set(item) <= {"sequence", "alias"} and "sequence" in item:
                branches.append(actions(item["sequence"], where + ("sequence",), problems))
            else:
                one = action(item, where, problems)
                branches.append([one] if one is not None else [])
        spec.parallel = branches
    elif isinstance(spec, m.SequenceAction):
        spec.sequence = actions(spec.sequence, loc + ("sequence",), problems)
    return spec


def _repeat(spec: m.RepeatAction, loc: Loc, problems: Problems) -> None:
    data = dict(spec.repeat)
    kinds = [k for k in ("count", "while", "until", "for_each") if k in data]
    if len(kinds) != 1:
        problems.append((loc, "needs exactly one of count, while, until, for_each"))
    for k in set(data) - {"count", "while", "until", "for_each", "sequence"}:
        problems.append((loc + (k,), "unknown key"))
    if "sequence" not in data:
        problems.append((loc, "needs a `sequence`"))
    data["sequence"] = actions(data.get("sequence"), loc + ("sequence",), problems)
    for k in ("while", "until"):
        if k in data:
            data[k] = conditions(data[k], loc + (k,), problems)
    if "count" in data:
        _templates(data["count"], loc + ("count",), problems)
    if "for_each" in data:
        _templates(data["for_each"], loc + ("for_each",), problems)
    spec.repeat = data


def actions(raw: Any, loc: Loc, problems: Problems) -> list[m.ActionBase]:
    out = []
    items = block(raw, loc, problems)
    for i, item in enumerate(items):
        spec = action(item, loc + (i,) if isinstance(raw, list) else loc, problems)
        if spec is not None:
            out.append(spec)
    return out


def triggers(raw: Any, loc: Loc, problems: Problems) -> list[m.TriggerBase]:
    out = []
    for i, item in enumerate(block(raw, loc, problems)):
        spec = trigger(item, loc + (i,) if isinstance(raw, list) else loc, problems)
        if spec is not None:
            out.append(spec)
    return out
