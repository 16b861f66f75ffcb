"""Helpers for the Ring tests: a listener that leaves FCM out, notification builders, and a
harness that runs RingIntegration on a real log and IntegrationContext."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
from ring_doorbell import Ring, RingEventListener
from ring_fake_cloud import load_fixture

from hub.events import Event
from hub.integration import IntegrationContext
from hub.log import EventLog
from hub.store import EventFilter
from integrations.ring import RingConfig, RingIntegration

PUSH_CREDENTIALS = {"fcm": {"registration": {"token": "fcm-registration-token"}},
                    "gcm": {"android_id": 1234, "security_token": 5678}}


class InjectedListener(RingEventListener):
    """RingEventListener with FCM left out: start() subscribes nothing on Google's side, and
    tests hand notifications to the library's own `_on_notification`, where FCM would."""

    def __init__(self, ring: Ring, credentials: dict[str, Any] | None,
                 on_credentials: Callable[[dict[str, Any]], None], *, refuse: bool = False) -> None:
        super().__init__(ring, credentials, on_credentials)
        self.refuse = refuse

    async def start(self, *, timeout: int = 10) -> bool:
        if self.refuse:
            raise aiohttp.ClientConnectionError("cannot reach the FCM registration service")
        if self._credentials is None:
            self._credentials_updated_cb(PUSH_CREDENTIALS)  # what FCM registration does the first time
        self.started = True
        return True

    async def stop(self) -> None:
        self.started = False

    def deliver(self, notification: dict[str, Any]) -> None:
        self._on_notification(notification, "persistent-id-1")


class Listeners:
    """A listener factory that remembers what it built."""

    def __init__(self) -> None:
        self.built: list[InjectedListener] = []
        self.refuse = False

    def __call__(self, ring: Ring, credentials: dict[str, Any] | None,
                 on_credentials: Callable[[dict[str, Any]], None]) -> InjectedListener:
        listener = InjectedListener(ring, credentials, on_credentials, refuse=self.refuse)
        self.built.append(listener)
        return listener

    @property
    def current(self) -> InjectedListener:
        return self.built[-1]


def push_notification(fixture: str, created_at: str) -> dict[str, Any]:
    """An FCM notification as RingEventListener receives it (new-style: JSON strings in data)."""
    raw = json.dumps(load_fixture(fixture)).replace("CREATED_AT", created_at)
    parsed = json.loads(raw)
    return {"data": {"android_config": json.dumps(parsed["android_config"]), "data": json.dumps(parsed["data"])}}


def legacy_notification(fixture: str) -> dict[str, Any]:
    return {"data": {"gcmData": json.dumps(load_fixture(fixture))}}


def iso_now(offset_s: float = 0.0) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + offset_s))


class Harness:
    """Builds and runs RingIntegration instances against the fake cloud."""

    def __init__(self, log: EventLog, session: aiohttp.ClientSession, token_path: Path, listeners: Listeners) -> None:
        self.log = log
        self.session = session
        self.token_path = token_path
        self.listeners = listeners
        self.sleeps: list[float] = []

    def build(self, **overrides: Any) -> RingIntegration:
        fields: dict[str, Any] = {"type": "ring", "id": "ring", "token_file": str(self.token_path),
                                  "poll_interval": 0.05, "health_interval": 3600, "max_backoff": 1.0}
        fields.update(overrides)
        config = RingConfig.model_validate(fields)
        ctx = IntegrationContext(self.log, config.id)
        return RingIntegration(config, ctx, session=self.session, listener_factory=self.listeners,
                               sleep=self._sleep)

    async def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await asyncio.sleep(min(seconds, 0.02))

    @contextlib.asynccontextmanager
    async def running(self, integration: RingIntegration, *,
                      ends: bool = False) -> AsyncIterator[asyncio.Task[None]]:
        """Run the integration for the block; its run must not end unless `ends` (then the
        test inspects the task's outcome itself)."""
        task = asyncio.create_task(integration.run(), name="ring-under-test")
        try:
            yield task
        finally:
            if not (ends and task.done()):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def events(self, type_: str | None = None, entity: str | None = None) -> list[Event]:
        await self.log.flush()
        return await self.log.read(EventFilter(types=(type_,) if type_ else (), entity_id=entity, limit=10_000))

    async def status_events(self) -> list[dict[str, Any]]:
        return [e.data for e in await self.events("integration_status")]


async def wait_until(predicate: Callable[[], Any], what: str, timeout: float = 10.0) -> None:
    """Wait for a condition (bounded, for slow shared machines; no timing is asserted)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
