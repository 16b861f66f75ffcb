"""Value and command templates (Jinja2 in a sandbox, as Home Assistant writes them) and JSON paths."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from hub.errors import InputRejected

_env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
_env.filters["from_json"] = json.loads
_env.filters["to_json"] = lambda v: json.dumps(v, separators=(",", ":"))
_env.filters["is_defined"] = lambda v: v
_env.globals["float"] = float
_env.globals["int"] = int

_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


@lru_cache(maxsize=1024)
def _compile(source: str) -> Any:
    return _env.from_string(source)


def check_template(source: str) -> None:
    """Raise ValueError if `source` is not a valid template (for configuration checks)."""
    try:
        _compile(source)
    except TemplateError as exc:
        raise ValueError(f"invalid template {source!r}: {exc}") from None


def uses_json(source: str | None) -> bool:
    return source is not None and "value_json" in source


def render(source: str, variables: dict[str, Any]) -> str:
    """Render `source` with `variables`; InputRejected names the template and the failure."""
    try:
        return str(_compile(source).render(**variables)).strip()
    except TemplateError as exc:
        raise InputRejected(f"template {source!r} failed: {exc}") from None
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise InputRejected(f"template {source!r} failed: {type(exc).__name__}: {exc}") from None


def parse_json(text: str) -> Any:
    """The payload as JSON, or InputRejected saying why it is not."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InputRejected(f"payload is not valid JSON ({exc})") from None


def render_value(template: str | None, json_path: str | None, text: str) -> str:
    """Apply a value template or JSON path (if any) to a text payload."""
    if json_path is not None:
        return json_path_value(parse_json(text), json_path)
    if template is None:
        return text
    variables: dict[str, Any] = {"value": text}
    if uses_json(template):
        variables["value_json"] = parse_json(text)
    return render(template, variables)


def json_path_value(data: Any, path: str) -> str:
    """`a.b[0].c` (optionally starting with `$.`) looked up in `data`, as a state string."""
    cur = data
    for name, index in _PATH_PART.findall(path.removeprefix("$").lstrip(".")):
        try:
            cur = cur[int(index)] if index else cur[name]
        except (KeyError, IndexError, TypeError):
            raise InputRejected(f"JSON path {path!r} not found in payload") from None
    if isinstance(cur, (dict, list)):
        return json.dumps(cur, separators=(",", ":"))
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return "unknown" if cur is None else str(cur)
