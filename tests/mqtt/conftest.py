"""Fixtures: a private Mosquitto, a publisher client, and an MQTT integration running on a real log."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from mqtt_broker import Broker

from hub.events import Event
from hub.integration import IntegrationContext
from hub.log import EventLog
from hub.store import EventFilter
from integrations.mqtt import MqttConfig, MqttIntegration


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(tmp_path / "mosquitto")
    b.start()
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture
async def publisher(broker: Broker) -> AsyncIterator[aiomqtt.Client]:
    """A second client, for publishing devices' messages and watching the hub's commands."""
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="test-device") as client:
        yield client


async def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll `predicate` (sync or async) until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = predicate()
        if isinstance(value, Awaitable):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def events(log: EventLog, type_: str | None = None, entity: str | None = None) -> list[Event]:
    return await log.read(EventFilter(types=(type_,) if type_ else (), entity_glob=entity, limit=100_000))


class Running:
    """An MqttIntegration whose run() is a task, with its context and log."""

    def __init__(self, integration: MqttIntegration, task: asyncio.Task[None], log: EventLog) -> None:
        self.integration = integration
        self.task = task
        self.log = log
        self.ctx = integration.ctx

    def state(self, entity_id: str) -> str | None:
        s = self.ctx.state(entity_id)
        return s.state if s else None

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


@pytest.fixture
async def start_mqtt(hub_log: EventLog, broker: Broker) -> AsyncIterator[Callable[..., Awaitable[Running]]]:
    """Start the integration with config overrides; waits until it is connected and subscribed."""
    running: list[Running] = []

    async def start(**overrides: Any) -> Running:
        raw = {"type": "mqtt", "id": "mqtt", "url": broker.url, "reconnect_max": 1.0, **overrides}
        cfg = MqttConfig.model_validate(raw)
        ctx = IntegrationContext(hub_log, cfg.id)
        integration = MqttIntegration(cfg, ctx)
        task = asyncio.create_task(integration.run(), name=f"mqtt:{cfg.id}")
        r = Running(integration, task, hub_log)
        running.append(r)
        await wait_for(lambda: integration.connected and integration._subscribed, what="connection")
        return r

    yield start
    for r in running:
        await r.stop()
