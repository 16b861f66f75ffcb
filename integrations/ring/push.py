"""Glue around ring-doorbell's RingEventListener: its callbacks (plain functions called in
the event loop) feed an asyncio queue that the integration drains into the log."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

import aiohttp
from ring_doorbell import Ring, RingError, RingEvent, RingEventListener

log = logging.getLogger(__name__)


class Listener(Protocol):
    """What the integration needs of RingEventListener (tests pass a subclass that skips FCM)."""

    def add_notification_callback(self, callback: Callable[[RingEvent], None]) -> int: ...
    async def start(self, *, timeout: int = 10) -> bool: ...
    async def stop(self) -> None: ...


ListenerFactory = Callable[[Ring, "dict[str, Any] | None", Callable[[dict[str, Any]], None]], Listener]


def default_listener(ring: Ring, credentials: dict[str, Any] | None,
                     on_credentials: Callable[[dict[str, Any]], None]) -> Listener:
    return RingEventListener(ring, credentials, on_credentials)


# What starting the listener may raise: Ring's errors, the FCM registration's HTTP errors,
# the connection to FCM, and the listener's own start timeout.
START_ERRORS = (RingError, aiohttp.ClientError, OSError, TimeoutError, ValueError, KeyError)


class PushFeed:
    """Starts the listener with the stored push credentials and yields what it hands over."""

    def __init__(self, ring: Ring, credentials: dict[str, Any] | None,
                 on_credentials: Callable[[dict[str, Any]], None],
                 factory: ListenerFactory = default_listener) -> None:
        self.ring = ring
        self.credentials = credentials
        self.on_credentials = on_credentials
        self.factory = factory
        self.listener: Listener | None = None
        self.error: str | None = None
        self._queue: asyncio.Queue[RingEvent] = asyncio.Queue()

    @property
    def running(self) -> bool:
        return self.listener is not None

    def _received(self, event: RingEvent) -> None:
        # Called synchronously by the listener; never blocks and never loses an event.
        self._queue.put_nowait(event)

    async def start(self, timeout: int = 10) -> bool:
        """Start listening; False (with `error` set) when push is unavailable."""
        listener = self.factory(self.ring, self.credentials, self.on_credentials)
        listener.add_notification_callback(self._received)
        try:
            started = await listener.start(timeout=timeout)
        except START_ERRORS as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            started = False
        if not started:
            self.error = self.error or "the push service refused the subscription"
            await listener.stop()
            return False
        self.error = None
        self.listener = listener
        return True

    async def stop(self) -> None:
        listener, self.listener = self.listener, None
        if listener is not None:
            await listener.stop()

    async def events(self) -> AsyncIterator[RingEvent]:
        while True:
            yield await self._queue.get()
