"""Jinja2 templates in a sandbox, with Home Assistant's helpers over the hub's current states.

A template is compiled once at load time (syntax errors are configuration errors)
and rendered against a `StateReader` (the live log's in-memory states, or the
replay's simulated ones), the run's variables and the clock.
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any, Protocol

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from hub.states import State, as_number
from hub.times import to_datetime, to_iso

_ENTITY_REF = re.compile(r"\b([a-z0-9_]+\.[a-z0-9_]+)\b")
_MAX_RESULT = 64 * 1024


class TemplateError(Exception):
    """A template failed to render; the message says which and why."""


class StateReader(Protocol):
    def get(self, entity_id: str) -> State | None: ...
    def all(self) -> list[State]: ...


class TemplateState:
    """A state as templates see it: `.state`, `.attributes`, `.last_changed`, `.name`, ..."""

    __slots__ = ("_s", "_tz")

    def __init__(self, state: State, tz: tzinfo | None = None) -> None:
        self._s = state
        self._tz = tz

    entity_id = property(lambda self: self._s.entity_id)
    state = property(lambda self: self._s.state)
    attributes = property(lambda self: self._s.attributes)
    domain = property(lambda self: self._s.entity_id.split(".", 1)[0])
    object_id = property(lambda self: self._s.entity_id.split(".", 1)[1])
    name = property(lambda self: self._s.attributes.get("friendly_name") or self.object_id.replace("_", " "))
    last_changed = property(lambda self: to_datetime(self._s.last_changed, self._tz))
    last_updated = property(lambda self: to_datetime(self._s.last_updated, self._tz))

    def as_dict(self) -> dict[str, Any]:
        return {"entity_id": self._s.entity_id, **self._s.as_data()}

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    def __str__(self) -> str:
        return self._s.state

    def __repr__(self) -> str:
        return f"<state {self._s.entity_id}={self._s.state}>"


_NOT_NAMES = frozenset({"unsafe_callable", "alters_data", "jinja_pass_arg", "jinja_async_variant"})


class _Domain:
    def __init__(self, reader: StateReader, domain: str, tz: tzinfo | None) -> None:
        self._reader, self._domain, self._tz = reader, domain, tz

    def __getattr__(self, object_id: str) -> Any:
        if object_id.startswith("_") or object_id in _NOT_NAMES:
            raise AttributeError(object_id)
        state = self._reader.get(f"{self._domain}.{object_id}")
        return TemplateState(state, self._tz) if state is not None else jinja2.Undefined(name=object_id)

    def __iter__(self) -> Iterator[TemplateState]:
        prefix = self._domain + "."
        return iter(sorted((TemplateState(s, self._tz) for s in self._reader.all()
                            if s.entity_id.startswith(prefix)), key=lambda t: t.entity_id))


class _States:
    """`states('x')`, `states.light.porch.state`, `states.light` (iterable)."""

    def __init__(self, reader: StateReader, tz: tzinfo | None) -> None:
        self._reader, self._tz = reader, tz

    def __call__(self, entity_id: str, *_: Any, **__: Any) -> str:
        state = self._reader.get(str(entity_id))
        return state.state if state is not None else "unknown"

    def __getattr__(self, domain: str) -> _Domain:
        if domain.startswith("_") or domain in _NOT_NAMES:
            raise AttributeError(domain)
        return _Domain(self._reader, domain, self._tz)

    def __iter__(self) -> Iterator[TemplateState]:
        return iter(sorted((TemplateState(s, self._tz) for s in self._reader.all()), key=lambda t: t.entity_id))


def _float(value: Any, default: Any = None) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        if default is None:
            raise TemplateError(f"float got invalid input {value!r} and no default was given") from None
        return default


def _int(value: Any, default: Any = None, base: int = 10) -> Any:
    try:
        if isinstance(value, str) and base != 10:
            return int(value, base)
        return int(float(value)) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        if default is None:
            raise TemplateError(f"int got invalid input {value!r} and no default was given") from None
        return default


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return math.isfinite(value)
    return isinstance(value, str) and as_number(value) is not None


def _as_timestamp(value: Any, default: Any = None) -> Any:
    if isinstance(value, TemplateState):
        value = value.last_changed
    if isinstance(value, datetime):
        return value.timestamp()
    try:
        if isinstance(value, (int, float)):
            return float(value)
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).timestamp()
    except (TypeError, ValueError):
        if default is None:
            raise TemplateError(f"as_timestamp got invalid input {value!r}") from None
        return default


def _as_datetime(value: Any, default: Any = None) -> Any:
    try:
        if isinstance(value, (int, float)):
            return datetime.fromtimestamp(value, tz=timezone.utc)
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)
    except (TypeError, ValueError):
        if default is None:
            raise TemplateError(f"as_datetime got invalid input {value!r}") from None
        return default


def _iif(value: Any, if_true: Any = True, if_false: Any = False, if_none: Any = False) -> Any:
    if value is None:
        return if_none
    return if_true if value else if_false


_ENV = ImmutableSandboxedEnvironment(undefined=jinja2.Undefined, autoescape=False)
_ENV.filters.update({
    "float": _float, "int": _int, "is_number": _is_number, "as_timestamp": _as_timestamp,
    "as_datetime": _as_datetime, "iif": _iif, "to_json": lambda v: json.dumps(v, default=str),
    "from_json": json.loads, "round": lambda v, n=0, *_: round(_float(v), int(n)),
    "timestamp_local": lambda v: to_iso(int(_float(v) * 1_000_000)),
    "regex_match": lambda v, p: re.match(p, str(v)) is not None,
    "regex_search": lambda v, p: re.search(p, str(v)) is not None,
})
_ENV.tests.update({"is_number": _is_number, "match": lambda v, p: re.match(p, str(v)) is not None,
                   "search": lambda v, p: re.search(p, str(v)) is not None})
_ENV.globals.update({"float": _float, "int": _int, "is_number": _is_number, "as_timestamp": _as_timestamp,
                     "as_datetime": _as_datetime, "iif": _iif, "timedelta": timedelta, "min": min, "max": max})


def compile_template(source: str) -> jinja2.Template:
    """Compile a template; raises TemplateError naming the syntax problem."""
    try:
        return _ENV.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error: {exc.message} (line {exc.lineno} of the template)") from None


def is_template(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def referenced_entities(source: str) -> set[str]:
    """Entity ids that a template names literally (for indexing template triggers)."""
    return {m for m in _ENTITY_REF.findall(source) if not m.split(".")[0].isdigit()}


class Renderer:
    """Renders templates against states, variables and the clock's `now`."""

    def __init__(self, reader: StateReader, now: Callable[[], int], tz: tzinfo | None = None) -> None:
        self.reader = reader
        self.now = now
        self.tz = tz
        self._globals = self._make_globals()

    def _make_globals(self) -> dict[str, Any]:
        reader, tz = self.reader, self.tz

        def is_state(entity_id: str, value: Any) -> bool:
            s = reader.get(entity_id)
            values = value if isinstance(value, (list, tuple)) else [value]
            return s is not None and s.state in [str(v) for v in values]

        def state_attr(entity_id: str, name: str) -> Any:
            s = reader.get(entity_id)
            return None if s is None else s.attributes.get(name)

        def is_state_attr(entity_id: str, name: str, value: Any) -> bool:
            return state_attr(entity_id, name) == value

        def has_value(entity_id: str) -> bool:
            s = reader.get(entity_id)
            return s is not None and s.state not in ("unknown", "unavailable")

        def now() -> datetime:
            return to_datetime(self.now(), tz)

        def utcnow() -> datetime:
            return to_datetime(self.now())

        def today_at(value: str = "00:00") -> datetime:
            parts = [int(p) for p in str(value).split(":")] + [0, 0]
            return now().replace(hour=parts[0], minute=parts[1], second=parts[2], microsecond=0)

        return {"states": _States(reader, tz), "is_state": is_state, "state_attr": state_attr,
                "is_state_attr": is_state_attr, "has_value": has_value, "now": now, "utcnow": utcnow,
                "today_at": today_at}

    def render(self, template: jinja2.Template, variables: Mapping[str, Any]) -> str:
        """Render to text; raises TemplateError on any failure inside the template."""
        try:
            out = template.render({**self._globals, **variables})
        except TemplateError:
            raise
        except jinja2.TemplateError as exc:
            raise TemplateError(f"template error: {exc}") from None
        except (TypeError, ValueError, AttributeError, KeyError, ZeroDivisionError, OverflowError) as exc:
            raise TemplateError(f"template error: {type(exc).__name__}: {exc}") from None
        if len(out) > _MAX_RESULT:
            raise TemplateError(f"template result is longer than {_MAX_RESULT} characters")
        return out

    def render_native(self, template: jinja2.Template, variables: Mapping[str, Any]) -> Any:
        """Render and turn the text into a number, bool, list or dict when it reads as one (as HA does)."""
        return native(self.render(template, variables))

    def truthy(self, template: jinja2.Template, variables: Mapping[str, Any]) -> bool:
        """A template condition's result: true for `true`, `on`, `yes`, `1`, and non-zero numbers."""
        text = self.render(template, variables).strip().lower()
        if text in ("true", "on", "yes", "enable"):
            return True
        number = as_number(text)
        return number is not None and number != 0


def native(text: str) -> Any:
    stripped = text.strip()
    if not stripped:
        return text
    if stripped in ("True", "False", "None") or stripped[0] in "-+.0123456789[{(\"'":
        try:
            value = ast.literal_eval(stripped)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return text
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and stripped.startswith("0") and len(stripped) > 1 \
                and stripped[1].isdigit():
            return text  # keep "0123" (a code, not a number)
        return value
    return text


def render_value(renderer: Renderer, value: Any, variables: Mapping[str, Any]) -> Any:
    """Render a data structure whose strings may be templates (compiled on first use, cached)."""
    if isinstance(value, str):
        if not is_template(value):
            return value
        return renderer.render_native(cached(value), variables)
    if isinstance(value, dict):
        return {k: render_value(renderer, v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(renderer, v, variables) for v in value]
    return value


_CACHE: dict[str, jinja2.Template] = {}


def cached(source: str) -> jinja2.Template:
    template = _CACHE.get(source)
    if template is None:
        if len(_CACHE) > 10_000:
            _CACHE.clear()
        template = _CACHE[source] = compile_template(source)
    return template


def check_templates(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], str]]:
    """Every template syntax error in a data structure, with where it is."""
    found: list[tuple[tuple[Any, ...], str]] = []
    if isinstance(value, str) and is_template(value):
        try:
            cached(value)
        except TemplateError as exc:
            found.append((path, str(exc)))
    elif isinstance(value, dict):
        for k, v in value.items():
            found.extend(check_templates(v, path + (k,)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found.extend(check_templates(v, path + (i,)))
    return found
