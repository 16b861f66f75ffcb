"""Fixtures for the Ring integration: the fake Ring cloud, a session that reaches it, a token
file it accepts, and the harness that runs RingIntegration."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from ring_fake_cloud import FakeRingCloud
from ring_helpers import Harness, Listeners

from hub.log import EventLog
from integrations.ring.token import StoredToken, TokenFile

# ring-doorbell 0.9.14 passes aiohttp.BasicAuth as `auth=`, deprecated since aiohttp 3.14; third-party
# warnings that the lead may move into pyproject's filterwarnings (see docs/ring.md).
RING_DOORBELL_WARNINGS = ("ignore:BasicAuth is deprecated:DeprecationWarning",
                          "ignore:The 'auth' parameter is deprecated:DeprecationWarning")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            for warning in RING_DOORBELL_WARNINGS:
                item.add_marker(pytest.mark.filterwarnings(warning))


@pytest.fixture
async def cloud() -> AsyncIterator[FakeRingCloud]:
    fake = FakeRingCloud()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
async def session(cloud: FakeRingCloud) -> AsyncIterator[aiohttp.ClientSession]:
    async with cloud.client_session() as s:
        yield s


@pytest.fixture
def token_path(tmp_path: Path, cloud: FakeRingCloud) -> Path:
    path = tmp_path / "data" / "ring-token.json"
    TokenFile(path).save(StoredToken(token=cloud.issue_token(), hardware_id="hw-test-1"))
    return path


@pytest.fixture
def listeners() -> Listeners:
    return Listeners()


@pytest.fixture
def harness(hub_log: EventLog, session: aiohttp.ClientSession, token_path: Path, listeners: Listeners) -> Harness:
    return Harness(hub_log, session, token_path, listeners)
