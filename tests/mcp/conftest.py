"""Fixtures: a real log in tmp_path filled with a small house, its config, the MCP server and a client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client

from hub.config import Config, load_config
from hub.log import EventLog, open_log
from hub.mcp import build_server
from tests.mcp.house import House, fill_house, serve_commands

CONFIG = """\
hub:
  name: Test house
  timezone: Europe/Berlin
  database: hub.db
mcp:
  allow: ["light.*", "switch.*"]
  confirm: ["lock.*"]
  max_tokens: {max_tokens}
integrations:
  - {{type: demo, id: demo}}
automations:
  - id: porch_light
    alias: Porch light on motion
    triggers: [{{trigger: state, entity_id: binary_sensor.porch_motion, to: "on"}}]
    actions: [{{action: light.turn_on, target: {{entity_id: light.porch}}}}]
  - id: never_ran
    alias: Never ran
    triggers: [{{trigger: state, entity_id: binary_sensor.porch_motion, to: "off"}}]
    actions: [{{action: light.turn_off, target: {{entity_id: light.porch}}}}]
"""


def write_config(folder: Path, max_tokens: int = 8000) -> Path:
    path = folder / "config.yaml"
    path.write_text(CONFIG.format(max_tokens=max_tokens))
    return path


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return write_config(tmp_path)


@pytest.fixture
def config(config_path: Path) -> Config:
    return load_config(config_path, check_rules=False)


@pytest.fixture
async def log(config: Config) -> AsyncIterator[EventLog]:
    async with open_log(config.database_url, synchronous="normal") as log_:
        yield log_


@pytest.fixture
async def house(log: EventLog) -> House:
    return await fill_house(log)


@pytest.fixture
async def client(log: EventLog, config: Config, house: House) -> AsyncIterator[Client[Any]]:
    async with Client(build_server(log, config)) as c:
        yield c


@pytest.fixture
async def router(log: EventLog, house: House) -> AsyncIterator[Any]:
    router = await serve_commands(log)
    task = asyncio.create_task(router.run())
    await asyncio.sleep(0)
    try:
        yield router
    finally:
        task.cancel()
        with __import__("contextlib").suppress(asyncio.CancelledError):
            await task
