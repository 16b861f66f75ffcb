"""Clocks for the engine: the real one, and a manual one for tests and replay (simulated time).

Everything in the engine that waits for time (a `for:`, a delay, a cron or time
trigger) goes through `Clock.call_at`, so a manual clock can run hours of rules
in no real time.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

from hub.times import now_us


class Timer:
    """A scheduled callback; `cancel()` stops it if it has not run."""

    __slots__ = ("when", "callback", "cancelled", "_handle")

    def __init__(self, when: int, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False
        self._handle: asyncio.TimerHandle | None = None

    def cancel(self) -> None:
        self.cancelled = True
        if self._handle is not None:
            self._handle.cancel()


class Clock:
    """Wall time in UTC microseconds and callbacks at a wall time."""

    def now(self) -> int:
        return now_us()

    def call_at(self, when: int, callback: Callable[[], None]) -> Timer:
        timer = Timer(when, callback)
        delay = max(0.0, (when - self.now()) / 1_000_000)
        timer._handle = asyncio.get_running_loop().call_later(delay, self._fire, timer)
        return timer

    def _fire(self, timer: Timer) -> None:
        # The loop's monotonic clock may run ahead of wall time by a hair: never fire early.
        remaining = timer.when - self.now()
        if remaining > 0:
            timer._handle = asyncio.get_running_loop().call_later(remaining / 1_000_000, self._fire, timer)
            return
        if not timer.cancelled:
            timer.callback()

    def future_at(self, when: int) -> asyncio.Future[None]:
        """A future that completes at `when` (the timer is cancelled if the future is)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        timer = self.call_at(when, lambda: future.done() or future.set_result(None))
        future.add_done_callback(lambda f: timer.cancel() if f.cancelled() else None)
        return future


class ManualClock(Clock):
    """Simulated time: only `advance_to` moves it, firing due timers in order, settling between them."""

    def __init__(self, start: int) -> None:
        self._now = start
        self._heap: list[tuple[int, int, Timer]] = []
        self._counter = itertools.count()
        self.settle: Callable[[], Awaitable[Any]] | None = None

    def now(self) -> int:
        return self._now

    def call_at(self, when: int, callback: Callable[[], None]) -> Timer:
        timer = Timer(when, callback)
        heapq.heappush(self._heap, (when, next(self._counter), timer))
        return timer

    def next_due(self) -> int | None:
        while self._heap and self._heap[0][2].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    async def advance_to(self, when: int) -> None:
        """Move time to `when`, running every timer due by then at its own time."""
        while True:
            due = self.next_due()
            if due is None or due > when:
                break
            _, _, timer = heapq.heappop(self._heap)
            self._now = max(self._now, timer.when)
            timer.callback()
            if self.settle is not None:
                await self.settle()
        self._now = max(self._now, when)

    async def advance(self, seconds: float) -> None:
        await self.advance_to(self._now + int(seconds * 1_000_000))
