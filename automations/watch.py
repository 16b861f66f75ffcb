"""Reload on change: a polling task over the files that make up the configuration (no threads).

The daemon starts `watch(engine, config_path)` in its task group, and on SIGHUP
calls `await reload_file(engine, config_path)`. A broken file leaves the running
rules in place; the problems are logged and recorded as `input_rejected`.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from hub import events as ev
from hub.errors import ConfigError
from hub.events import Event, excerpt

log = logging.getLogger(__name__)


def config_files(raw: Any, config_path: Path) -> set[Path]:
    """The config file, every file it included, and the folders holding included files."""
    found: set[Path] = {config_path.resolve()}

    def walk(node: Any, depth: int = 0) -> None:
        if depth > 50:
            return
        name = getattr(node, "file", None)
        if isinstance(name, str) and name != "?":
            found.add(Path(name).resolve())
        if isinstance(node, dict):
            for value in node.values():
                walk(value, depth + 1)
        elif isinstance(node, list):
            for value in node:
                walk(value, depth + 1)

    walk(raw)
    return found


def _fingerprint(files: set[Path]) -> dict[str, float]:
    out: dict[str, float] = {}
    folders = {p.parent for p in files}
    for folder in folders:  # new files in an include_dir folder count as a change
        try:
            for child in folder.glob("*.yaml"):
                out[str(child)] = child.stat().st_mtime
        except OSError:
            continue
    for path in files:
        try:
            out[str(path)] = path.stat().st_mtime
        except OSError:
            out[str(path)] = -1.0
    return out


async def reload_file(engine: Any, config_path: str | Path) -> list[str]:
    """Load the configuration again and swap in its rules; returns the problems (empty: reloaded)."""
    from hub.config import load_config

    try:
        cfg = load_config(config_path)
    except ConfigError as exc:
        problems = exc.problems
    else:
        problems = engine.reload(cfg)
        if not problems:
            return []
    log.error("configuration %s not reloaded, previous automations keep running: %s", config_path,
              "; ".join(problems))
    if engine.log is not None:
        await engine.log.append(Event(ev.INPUT_REJECTED, "hub", None, {
            "origin": f"reload {config_path}", "reason": f"{len(problems)} problem(s); previous rules kept",
            "excerpt": excerpt("\n".join(problems))}))
    return problems


async def watch(engine: Any, config_path: str | Path, *, interval: float = 2.0) -> None:
    """Poll the configuration's files every `interval` seconds and reload when one changes."""
    path = Path(config_path)
    raw = getattr(engine.config, "raw", None)
    files = config_files(raw, path)
    seen = _fingerprint(files)
    while True:
        await asyncio.sleep(interval)
        now = _fingerprint(files)
        if now == seen:
            continue
        seen = now
        log.info("configuration changed, reloading automations")
        if not await reload_file(engine, path):
            files = config_files(getattr(engine.config, "raw", None), path)
            seen = _fingerprint(files)
