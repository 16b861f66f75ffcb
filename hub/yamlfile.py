"""YAML loading as Home Assistant users write it: `!include`, `!include_dir_*`, `!env`,
`!secret`, with the file and line of every mapping key kept for error messages."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from hub.errors import ConfigError


class LineMap(dict):  # type: ignore[type-arg]
    """A mapping that remembers where it and each of its keys were written."""

    file: str = "?"
    line: int = 0
    key_lines: dict[Any, int]


class LineList(list):  # type: ignore[type-arg]
    """A sequence that remembers where it and each item were written."""

    file: str = "?"
    line: int = 0
    item_lines: list[int]


class _Loader(yaml.SafeLoader):
    """SafeLoader with Home Assistant's tags, rooted at one file."""

    def __init__(self, stream: Any, path: Path, secrets: dict[str, Any] | None) -> None:
        super().__init__(stream)
        self.path = path
        self.secrets = secrets


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineMap:
    loader.flatten_mapping(node)
    result = LineMap()
    result.file, result.line, result.key_lines = str(loader.path), node.start_mark.line + 1, {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise ConfigError(f"{loader.path}:{key_node.start_mark.line + 1}: duplicate key {key!r}")
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.file, result.line = str(loader.path), node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


def _where(loader: _Loader, node: yaml.Node) -> str:
    return f"{loader.path}:{node.start_mark.line + 1}"


def _env(loader: _Loader, node: yaml.Node) -> str:
    spec = str(loader.construct_scalar(node)).split(None, 1)  # type: ignore[arg-type]
    if not spec:
        raise ConfigError(f"{_where(loader, node)}: !env needs a variable name")
    value = os.environ.get(spec[0])
    if value is None:
        if len(spec) == 2:
            return spec[1]
        raise ConfigError(f"{_where(loader, node)}: environment variable {spec[0]} is not set")
    return value


def _secret(loader: _Loader, node: yaml.Node) -> Any:
    name = str(loader.construct_scalar(node))  # type: ignore[arg-type]
    if loader.secrets is None:
        secrets_path = loader.path.parent / "secrets.yaml"
        if not secrets_path.exists():
            raise ConfigError(f"{_where(loader, node)}: !secret {name}: there is no {secrets_path}")
        loader.secrets = load_yaml(secrets_path, secrets={}) or {}
    if name not in loader.secrets:
        raise ConfigError(f"{_where(loader, node)}: !secret {name} is not in secrets.yaml")
    return loader.secrets[name]


def _include_path(loader: _Loader, node: yaml.Node) -> Path:
    rel = str(loader.construct_scalar(node))  # type: ignore[arg-type]
    path = (loader.path.parent / rel).resolve()
    if not path.exists():
        raise ConfigError(f"{_where(loader, node)}: included path {rel} does not exist")
    return path


def _include(loader: _Loader, node: yaml.Node) -> Any:
    return load_yaml(_include_path(loader, node), secrets=loader.secrets)


def _yaml_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.yaml") if not any(part.startswith(".") for part in p.parts))


def _include_dir_list(loader: _Loader, node: yaml.Node) -> list[Any]:
    return [load_yaml(p, secrets=loader.secrets) for p in _yaml_files(_include_path(loader, node))]


def _include_dir_merge_list(loader: _Loader, node: yaml.Node) -> list[Any]:
    merged = LineList()
    merged.file, merged.line, merged.item_lines = str(loader.path), node.start_mark.line + 1, []
    for path in _yaml_files(_include_path(loader, node)):
        loaded = load_yaml(path, secrets=loader.secrets)
        if loaded is None:
            continue
        if not isinstance(loaded, list):
            raise ConfigError(f"{path}: !include_dir_merge_list expects a list in each file")
        merged.extend(loaded)
        merged.item_lines.extend(getattr(loaded, "item_lines", [0] * len(loaded)))
    return merged


def _include_dir_named(loader: _Loader, node: yaml.Node) -> dict[str, Any]:
    return {p.stem: load_yaml(p, secrets=loader.secrets) for p in _yaml_files(_include_path(loader, node))}


def _include_dir_merge_named(loader: _Loader, node: yaml.Node) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for path in _yaml_files(_include_path(loader, node)):
        loaded = load_yaml(path, secrets=loader.secrets)
        if isinstance(loaded, dict):
            merged.update(loaded)
    return merged


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)  # type: ignore[arg-type]
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)  # type: ignore[arg-type]
_Loader.add_constructor("!env", _env)  # type: ignore[arg-type]
_Loader.add_constructor("!env_var", _env)  # type: ignore[arg-type]
_Loader.add_constructor("!secret", _secret)  # type: ignore[arg-type]
_Loader.add_constructor("!include", _include)  # type: ignore[arg-type]
_Loader.add_constructor("!include_dir_list", _include_dir_list)  # type: ignore[arg-type]
_Loader.add_constructor("!include_dir_merge_list", _include_dir_merge_list)  # type: ignore[arg-type]
_Loader.add_constructor("!include_dir_named", _include_dir_named)  # type: ignore[arg-type]
_Loader.add_constructor("!include_dir_merge_named", _include_dir_merge_named)  # type: ignore[arg-type]


def load_yaml(path: str | Path, *, secrets: dict[str, Any] | None = None) -> Any:
    """Load one YAML file with the hub's tags; errors name the file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    loader = _Loader(text, path, secrets)
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError(f"{where}: YAML syntax error: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: YAML error: {exc}") from None
    finally:
        loader.dispose()


def locate(root: Any, loc: tuple[Any, ...]) -> str:
    """`file:line` of the deepest part of `root` that pydantic's error location reaches."""
    node, where = root, (getattr(root, "file", "?"), getattr(root, "line", 0))
    for part in loc:
        if isinstance(node, LineMap) and part in node:
            where = (node.file, node.key_lines.get(part, node.line))
            node = node[part]
        elif isinstance(node, LineList) and isinstance(part, int) and 0 <= part < len(node):
            lines = getattr(node, "item_lines", [])
            where = (getattr(node[part], "file", node.file), lines[part] if part < len(lines) else node.line)
            node = node[part]
        else:
            break
        if isinstance(node, (LineMap, LineList)):
            where = (node.file, where[1] if node.file == where[0] else node.line)
    return f"{where[0]}:{where[1]}"


def format_loc(loc: tuple[Any, ...]) -> str:
    """A pydantic location as a key path: `integrations[2].url`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"
