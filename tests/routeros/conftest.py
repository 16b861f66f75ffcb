"""Fixtures for the RouterOS tests: a fake router with REST and SSH fronts on loopback, a real
event log and IntegrationContext, and a factory for integrations pointed at them."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from hub.integration import IntegrationContext
from hub.log import EventLog
from integrations.routeros import RouterOSConfig, RouterOSIntegration
from tests.routeros.fake_rest import FakeRestServer
from tests.routeros.fake_router import FIXTURES, FakeRouter
from tests.routeros.fake_ssh import FakeSshServer

PASSWORD = "s3cret-Pa55"


@pytest.fixture
def router() -> FakeRouter:
    return FakeRouter()


@pytest.fixture
async def rest(router: FakeRouter) -> AsyncIterator[FakeRestServer]:
    server = await FakeRestServer(router, password=PASSWORD).start()
    yield server
    await server.stop()


@pytest.fixture
async def ssh(router: FakeRouter) -> AsyncIterator[FakeSshServer]:
    server = await FakeSshServer(router, password=PASSWORD).start()
    yield server
    await server.stop()


@pytest.fixture
def ros6_recorded() -> dict[str, str]:
    data: dict[str, str] = json.loads((FIXTURES / "ros6_console.json").read_text())
    data.pop("_note")
    return data


@pytest.fixture
def ctx(hub_log: EventLog, tmp_path: Path) -> IntegrationContext:
    return IntegrationContext(hub_log, "router", data_dir=tmp_path / "data")


Make = Callable[..., RouterOSIntegration]


@pytest.fixture
def make(ctx: IntegrationContext, rest: FakeRestServer, ssh: FakeSshServer) -> Make:
    """An integration on the fake router; keyword arguments override config fields."""

    def build(**overrides: Any) -> RouterOSIntegration:
        fields: dict[str, Any] = {"type": "routeros", "id": "router", "url": rest.url, "username": "admin",
                                  "password": PASSWORD, "ssh_port": ssh.port, "timeout": "1s",
                                  "verify_timeout": "0.5s", "poll_interval": "0.05s", "consider_home": "60s"}
        fields.update(overrides)
        integration_ctx = fields.pop("ctx", ctx)
        return RouterOSIntegration(RouterOSConfig.model_validate(fields), integration_ctx)

    return build


@contextlib.asynccontextmanager
async def running(integration: RouterOSIntegration) -> AsyncIterator[asyncio.Task[None]]:
    """Run the integration's poll loop for the block; cancel it afterwards."""
    task = asyncio.create_task(integration.run(), name=f"routeros:{integration.id}")
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll a condition (no timing asserted: the timeout only bounds a failing test)."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)
