"""The shapes of triggers, conditions and actions, as Home Assistant documents them (pydantic).

Nested blocks (`conditions` inside `choose`, `sequence` inside `repeat`) are kept
as raw lists here and parsed recursively by `automations.parse`, so that every
error carries its full key path.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.events import is_entity_id

Scalar = str | int | float | bool


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, arbitrary_types_allowed=True)


def entity_list(value: Any) -> list[str]:
    """`entity_id` as HA accepts it: one id, a comma-separated string, or a list."""
    if value is None:
        return []
    items = [v.strip() for v in value.split(",")] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise ValueError("must be an entity id or a list of entity ids")
    out = []
    for item in items:
        if not isinstance(item, str) or not (is_entity_id(item) or item == "all"):
            raise ValueError(f"{item!r} is not an entity id (domain.object_id, lowercase)")
        out.append(item)
    return out


def state_list(value: Any) -> list[str | None] | None:
    """A from/to value as a list of states; a YAML null in a list stands for "no state" (a new entity)."""
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    return [None if v is None else "on" if v is True else "off" if v is False else str(v) for v in items]


class _Entities(Spec):
    entity_id: list[str]

    @field_validator("entity_id", mode="before")
    @classmethod
    def _entities(cls, v: Any) -> list[str]:
        out = entity_list(v)
        if not out:
            raise ValueError("needs at least one entity id")
        return out


# --- triggers ---------------------------------------------------------------

class TriggerBase(Spec):
    trigger: str
    id: str | None = None
    enabled: bool = True
    variables: dict[str, Any] = Field(default_factory=dict)
    alias: str | None = None


class StateTrigger(TriggerBase, _Entities):
    trigger: Literal["state"]
    from_: Any = Field(None, alias="from")
    to: Any = None
    not_from: Any = None
    not_to: Any = None
    attribute: str | None = None
    for_: Any = Field(None, alias="for")


class NumericStateTrigger(TriggerBase, _Entities):
    trigger: Literal["numeric_state"]
    above: float | str | None = None
    below: float | str | None = None
    attribute: str | None = None
    value_template: str | None = None
    for_: Any = Field(None, alias="for")


class EventTrigger(TriggerBase):
    trigger: Literal["event"]
    event_type: str | list[str]
    event_data: dict[str, Any] = Field(default_factory=dict)
    context: dict[str, Any] = Field(default_factory=dict)


class MqttTrigger(TriggerBase):
    trigger: Literal["mqtt"]
    topic: str
    payload: Scalar | None = None
    value_template: str | None = None
    qos: int = Field(0, ge=0, le=2)
    encoding: str = "utf-8"


class TimeTrigger(TriggerBase):
    trigger: Literal["time"]
    at: str | list[str]
    weekday: str | list[str] | None = None


class TimePatternTrigger(TriggerBase):
    trigger: Literal["time_pattern"]
    hours: int | str | None = None
    minutes: int | str | None = None
    seconds: int | str | None = None


class CronTrigger(TriggerBase):
    trigger: Literal["cron"]
    cron: str
    timezone: str | None = None


class SunTrigger(TriggerBase):
    trigger: Literal["sun"]
    event: Literal["sunrise", "sunset"]
    offset: Any = None


class HubTrigger(TriggerBase):
    trigger: Literal["homeassistant", "hub"]
    event: Literal["start", "shutdown"]


class TemplateTrigger(TriggerBase):
    trigger: Literal["template"]
    value_template: str
    for_: Any = Field(None, alias="for")


TRIGGERS: dict[str, type[TriggerBase]] = {
    "state": StateTrigger, "numeric_state": NumericStateTrigger, "event": EventTrigger, "mqtt": MqttTrigger,
    "time": TimeTrigger, "time_pattern": TimePatternTrigger, "cron": CronTrigger, "sun": SunTrigger,
    "homeassistant": HubTrigger, "hub": HubTrigger, "template": TemplateTrigger,
}


# --- conditions -------------------------------------------------------------

class ConditionBase(Spec):
    condition: str
    alias: str | None = None
    enabled: bool = True


class StateCondition(ConditionBase, _Entities):
    condition: Literal["state"]
    state: Any
    attribute: str | None = None
    for_: Any = Field(None, alias="for")
    match: Literal["all", "any"] = "all"


class NumericStateCondition(ConditionBase, _Entities):
    condition: Literal["numeric_state"]
    above: float | str | None = None
    below: float | str | None = None
    attribute: str | None = None
    value_template: str | None = None


class TimeCondition(ConditionBase):
    condition: Literal["time"]
    after: str | None = None
    before: str | None = None
    weekday: str | list[str] | None = None


class SunCondition(ConditionBase):
    condition: Literal["sun"]
    after: Literal["sunrise", "sunset"] | None = None
    before: Literal["sunrise", "sunset"] | None = None
    after_offset: Any = None
    before_offset: Any = None


class TemplateCondition(ConditionBase):
    condition: Literal["template"]
    value_template: str


class LogicCondition(ConditionBase):
    condition: Literal["and", "or", "not"]
    conditions: Any


class TriggerCondition(ConditionBase):
    condition: Literal["trigger"]
    id: str | list[str]


CONDITIONS: dict[str, type[ConditionBase]] = {
    "state": StateCondition, "numeric_state": NumericStateCondition, "time": TimeCondition,
    "sun": SunCondition, "template": TemplateCondition, "and": LogicCondition, "or": LogicCondition,
    "not": LogicCondition, "trigger": TriggerCondition,
}


# --- actions ----------------------------------------------------------------

class ActionBase(Spec):
    alias: str | None = None
    enabled: bool = True
    continue_on_error: bool = False


class CallAction(ActionBase):
    action: str
    target: dict[str, Any] = Field(default_factory=dict)
    data: dict[str, Any] = Field(default_factory=dict)
    entity_id: Any = None
    response_variable: str | None = None


class DelayAction(ActionBase):
    delay: Any


class WaitTemplateAction(ActionBase):
    wait_template: str
    timeout: Any = None
    continue_on_timeout: bool = True


class WaitForTriggerAction(ActionBase):
    wait_for_trigger: Any
    timeout: Any = None
    continue_on_timeout: bool = True


class ChooseAction(ActionBase):
    choose: Any
    default: Any = None


class IfAction(ActionBase):
    if_: Any = Field(alias="if")
    then: Any
    else_: Any = Field(None, alias="else")


class RepeatAction(ActionBase):
    repeat: dict[str, Any]


class VariablesAction(ActionBase):
    variables: dict[str, Any]


class EventAction(ActionBase):
    event: str
    event_data: dict[str, Any] = Field(default_factory=dict)


class StopAction(ActionBase):
    stop: str = ""
    error: bool = False
    response_variable: str | None = None


class ParallelAction(ActionBase):
    parallel: Any


class SequenceAction(ActionBase):
    sequence: Any


class ConditionAction(ActionBase):
    condition: Any


# The key that identifies each action, in the order they are tried.
ACTIONS: list[tuple[str, type[ActionBase]]] = [
    ("action", CallAction), ("service", CallAction), ("delay", DelayAction),
    ("wait_template", WaitTemplateAction), ("wait_for_trigger", WaitForTriggerAction),
    ("choose", ChooseAction), ("if", IfAction), ("repeat", RepeatAction), ("variables", VariablesAction),
    ("event", EventAction), ("stop", StopAction), ("parallel", ParallelAction), ("sequence", SequenceAction),
    ("condition", ConditionAction),
]
