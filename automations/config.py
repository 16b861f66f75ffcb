"""The rules section of config.yaml: automations, scripts, notifiers and schedules.

`validate_rules(cfg, raw)` is called by hub.config.load_config and returns every
problem as `file:line: key.path: message`. `load_rules(cfg)` returns the parsed
RuleSet (raising ConfigError with every problem) for the engine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, HttpUrl, SecretStr, field_validator

from automations import cron, parse
from automations import models as m
from hub.errors import ConfigError
from hub.events import EVENT_TYPE, is_entity_id
from hub.yamlfile import format_loc, load_yaml, locate

_ID = re.compile(r"^[a-z0-9_]+$")
MODES = ("single", "restart", "queued", "parallel")


class Automation(m.Spec):
    """One automation; nested blocks are parsed specs after load."""

    id: str
    alias: str | None = None
    description: str | None = None
    mode: Literal["single", "restart", "queued", "parallel"] = "single"
    max: int = Field(10, ge=1, le=10_000)
    max_exceeded: Literal["silent", "warning", "error", "debug", "info", "critical"] = "warning"
    initial_state: bool = True
    trace: dict[str, Any] = Field(default_factory=dict)
    variables: dict[str, Any] = Field(default_factory=dict)
    trigger_variables: dict[str, Any] = Field(default_factory=dict)
    triggers: Any = Field(default_factory=list)
    conditions: Any = Field(default_factory=list)
    actions: Any = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError(f"{v!r} must be lowercase letters, digits and underscores")
        return v


class Script(m.Spec):
    alias: str | None = None
    description: str | None = None
    icon: str | None = None
    mode: Literal["single", "restart", "queued", "parallel"] = "single"
    max: int = Field(10, ge=1, le=10_000)
    max_exceeded: str = "warning"
    fields: dict[str, Any] = Field(default_factory=dict)
    variables: dict[str, Any] = Field(default_factory=dict)
    sequence: Any = Field(default_factory=list)


class Notifier(m.Spec):
    name: str
    type: Literal["ntfy", "pushover", "telegram", "webhook"]
    url: HttpUrl | None = None
    token: SecretStr | None = None
    user: SecretStr | None = None
    chat_id: str | int | None = None
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    retries: int = Field(3, ge=0, le=10)
    timeout: float = Field(10.0, gt=0, le=120)
    priority: int | str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError(f"{v!r} must be lowercase letters, digits and underscores")
        return v


class Schedule(m.Spec):
    id: str
    cron: str
    timezone: str | None = None
    event: str | None = None
    event_data: dict[str, Any] = Field(default_factory=dict)
    actions: Any = None
    catch_up: bool = False
    enabled: bool = True


@dataclass
class RuleSet:
    """Everything the engine runs; built only when the rules are free of errors."""

    automations: list[Automation] = field(default_factory=list)
    scripts: dict[str, Script] = field(default_factory=dict)
    notifiers: dict[str, Notifier] = field(default_factory=dict)
    schedules: list[Schedule] = field(default_factory=list)
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    latitude: float = 0.0
    longitude: float = 0.0
    command_timeout: float = 10.0


def parse_automation(raw: Any, loc: parse.Loc, problems: parse.Problems) -> Automation | None:
    if not isinstance(raw, dict):
        problems.append((loc, "an automation must be a mapping"))
        return None
    data = dict(raw)
    for singular, plural in (("trigger", "triggers"), ("condition", "conditions"), ("action", "actions")):
        if singular in data and plural not in data:  # HA's older singular keys
            data[plural] = data.pop(singular)
    if "id" not in data and isinstance(data.get("alias"), str):
        data["id"] = re.sub(r"[^a-z0-9]+", "_", data["alias"].lower()).strip("_") or "automation"
    auto = parse._model(Automation, data, loc, problems)
    if auto is None:
        return None
    parse._templates(auto.variables, loc + ("variables",), problems)
    auto.triggers = parse.triggers(data.get("triggers"), loc + ("triggers",), problems)
    if not data.get("triggers"):
        problems.append((loc + ("triggers",), "needs at least one trigger"))
    auto.conditions = parse.conditions(data.get("conditions"), loc + ("conditions",), problems)
    auto.actions = parse.actions(data.get("actions"), loc + ("actions",), problems)
    return auto


def _parse_all(cfg: Any, raw: Any) -> tuple[RuleSet, parse.Problems]:
    problems: parse.Problems = []
    rules = RuleSet()
    hub = getattr(cfg, "hub", None)
    if hub is not None:
        rules.timezone = ZoneInfo(hub.timezone)
        rules.latitude, rules.longitude = hub.latitude, hub.longitude
        try:
            from hub.times import parse_duration_us

            rules.command_timeout = parse_duration_us(hub.command_timeout) / 1_000_000
        except (ValueError, TypeError):
            pass
    seen: dict[str, int] = {}
    for i, item in enumerate(cfg.automations or []):
        auto = parse_automation(item, ("automations", i), problems)
        if auto is None:
            continue
        if auto.id in seen:
            problems.append((("automations", i, "id"), f"duplicate automation id {auto.id!r} "
                                                        f"(also automations[{seen[auto.id]}])"))
            continue
        seen[auto.id] = i
        rules.automations.append(auto)
    for name, item in (cfg.scripts or {}).items():
        loc = ("scripts", name)
        if not isinstance(name, str) or not _ID.match(name):
            problems.append((loc, f"script id {name!r} must be lowercase letters, digits and underscores"))
            continue
        script = parse._model(Script, item if isinstance(item, dict) else {"sequence": item}, loc, problems)
        if script is None:
            continue
        parse._templates(script.variables, loc + ("variables",), problems)
        script.sequence = parse.actions(script.sequence, loc + ("sequence",), problems)
        rules.scripts[name] = script
    for i, item in enumerate(cfg.notify or []):
        notifier = parse._model(Notifier, item, ("notify", i), problems)
        if notifier is None:
            continue
        from automations.notify import config_problem

        problem = config_problem(notifier)
        if problem:
            problems.append((("notify", i), problem))
        elif notifier.name in rules.notifiers:
            problems.append((("notify", i, "name"), f"duplicate notifier {notifier.name!r}"))
        else:
            rules.notifiers[notifier.name] = notifier
    ids: set[str] = set()
    for i, item in enumerate(cfg.schedules or []):
        loc = ("schedules", i)
        sched = parse._model(Schedule, item, loc, problems)
        if sched is None:
            continue
        tz = rules.timezone
        if sched.timezone:
            try:
                tz = ZoneInfo(sched.timezone)
            except (ZoneInfoNotFoundError, ValueError):
                problems.append((loc + ("timezone",), f"unknown time zone {sched.timezone!r}"))
        try:
            cron.check(sched.cron, tz)
        except cron.CronError as exc:
            problems.append((loc + ("cron",), str(exc)))
        if sched.event is None and sched.actions is None:
            problems.append((loc, "needs an `event` to fire or `actions` to run"))
        if sched.event is not None and not EVENT_TYPE.match(sched.event):
            problems.append((loc + ("event",), f"{sched.event!r} is not an event type (snake_case)"))
        if sched.actions is not None:
            sched.actions = parse.actions(sched.actions, loc + ("actions",), problems)
        if sched.id in ids:
            problems.append((loc + ("id",), f"duplicate schedule id {sched.id!r}"))
        ids.add(sched.id)
        rules.schedules.append(sched)
    return rules, problems


def _format(problems: parse.Problems, raw: Any) -> list[str]:
    return [f"{locate(raw, loc)}: {format_loc(loc)}: {msg}" for loc, msg in problems]


def validate_rules(cfg: Any, raw: Any) -> list[str]:
    """Every error in automations, scripts, notify and schedules, as `file:line: key.path: message`."""
    _, problems = _parse_all(cfg, raw)
    return _format(problems, raw)


def load_rules(cfg: Any) -> RuleSet:
    """The parsed rules of a loaded Config; raises ConfigError listing every problem."""
    rules, problems = _parse_all(cfg, cfg.raw)
    if problems:
        lines = _format(problems, cfg.raw)
        raise ConfigError(lines[0], lines)
    return rules


class _FileConfig:
    def __init__(self, raw: Any, hub: Any = None) -> None:
        self.raw = raw
        self.hub = hub
        section = raw if isinstance(raw, list) else (raw or {})
        self.automations = section if isinstance(raw, list) else section.get("automations", [])
        self.scripts = {} if isinstance(raw, list) else section.get("scripts", {})
        self.notify: list[Any] = []
        self.schedules = [] if isinstance(raw, list) else section.get("schedules", [])


def load_rules_file(path: str | Path, hub: Any = None) -> RuleSet:
    """Rules from a file holding a list of automations (automations.yaml) or a config with `automations:`."""
    raw = load_yaml(path)
    if raw is not None and not isinstance(raw, (list, dict)):
        raise ConfigError(f"{path}:1: expected a list of automations or a mapping with `automations:`")
    if isinstance(raw, dict) and "hub" in raw and hub is None:
        from hub.config import HubSection

        hub = HubSection.model_validate(raw["hub"])
    if isinstance(raw, list):  # a bare list of automations: locate errors as `automations[i]...`
        from hub.yamlfile import LineMap

        wrapper = LineMap({"automations": raw})
        wrapper.file, wrapper.line = getattr(raw, "file", str(path)), getattr(raw, "line", 1)
        wrapper.key_lines = {"automations": wrapper.line}
        raw = wrapper
    fc = _FileConfig(raw, hub)
    rules, problems = _parse_all(fc, raw)
    if problems:
        lines = _format(problems, raw)
        raise ConfigError(lines[0], lines)
    return rules


_ENTITY_FIELDS = ("entity_id", "at", "above", "below", "after", "before", "state")
_NESTED_FIELDS = ("triggers", "conditions", "actions", "wait_for_trigger", "choose", "default", "if_", "then",
                  "else_", "repeat", "parallel", "sequence", "condition", "while", "until")


def referenced_entities(rules: RuleSet) -> set[str]:
    """Every entity id the rules name literally in entity fields (for unknown-entity warnings)."""
    found: set[str] = set()

    def add(value: Any) -> None:
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, str) and is_entity_id(v) and not v.split(".")[1][:1].isdigit():
                found.add(v)

    def walk(value: Any) -> None:
        if isinstance(value, m.Spec):
            for name in type(value).model_fields:
                item = getattr(value, name)
                if name in _ENTITY_FIELDS:
                    add(item)
                elif name == "target" and isinstance(item, dict):
                    add(item.get("entity_id"))
                elif name in _NESTED_FIELDS:
                    walk(item)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)

    for auto in rules.automations:
        walk([auto.triggers, auto.conditions, auto.actions])
    for script in rules.scripts.values():
        walk(script.sequence)
    return found


def rule_warnings(rules: RuleSet, known: set[str]) -> list[str]:
    """Warnings (not errors) for entity ids that no integration has registered yet."""
    return [f"automations: entity {eid} is not known (yet); rules naming it wait for it to appear"
            for eid in sorted(referenced_entities(rules) - known) if eid != "sun.sun"]
