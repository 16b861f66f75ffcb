"""Projection rows written after the events they come from, under heavy load.

A commit of the log normally writes its events and their projection rows together. Under heavy
load that costs most in history: each commit writes the last page of every entity it touches,
for a few rows each. So a large batch (at least DEFER_MIN_BATCH events) commits its events at
once and leaves its projection rows here. Once DEFER_EVENTS events or DEFER_SECONDS have
waited, they are merged and written: history a slice per commit, riding with the commits that
follow (so no commit stalls the writer), and the rest with the last slice, which also moves the
projections' position. Anything else (a small batch, a reader waiting in
`EventLog.sync_projections`, the writer going idle, the careful path) writes everything at once.

Why it stays exact across a crash: the position moves only in the transaction that wrote every
row up to it. A crash loses rows the catch-up at start folds again from the log; of those, only
history slices can have been written already, and history is inserted with OR IGNORE.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
from dataclasses import dataclass

from hub.projections import Ops

DEFER_MIN_BATCH = 500
DEFER_EVENTS = 40_000
DEFER_SECONDS = 0.5
SLICE_FACTOR = 1.25  # history rows a commit writes from a flush, per event of its own (faster than they come)


def _by_entity(history: list[tuple[str, int, int, str, str, int]]) -> list[tuple[str, int, int, str, str, int]]:
    """History rows grouped by entity, in order within each: a slice of them then writes a run of
    entities, each entity's pages once for all its rows, not every entity's last page per slice."""
    groups: dict[str, list[tuple[str, int, int, str, str, int]]] = {}
    for row in history:
        rows = groups.get(row[0])
        if rows is None:
            groups[row[0]] = [row]
        else:
            rows.append(row)
    return list(itertools.chain.from_iterable(groups.values()))


@dataclass(slots=True)
class Plan:
    """What one commit writes of the projections (`Backlog.plan`), settled when it lands."""

    ops: Ops | None  # the rows to write with the commit's events, None for none
    position: int | None  # the projections' new position, None to leave it
    everything: bool = False  # every waiting row is written (and the commit's own)
    slice_end: int = 0  # else: the flush's history rows written up to here


class Backlog:
    """Projection rows of committed batches, not written yet (oldest first)."""

    def __init__(self) -> None:
        self.waiting: list[Ops] = []
        self.waiting_position = 0  # the seq the waiting rows reach
        self.waiting_events = 0
        self.since = 0.0  # when the oldest waiting rows began to wait
        self.flush: Ops | None = None  # merged waiting rows, being written
        self.flush_position = 0
        self.flushed = 0  # history rows of `flush` written
        self.waiters: list[asyncio.Future[None]] = []

    def empty(self) -> bool:
        return not self.waiting and self.flush is None

    def events(self) -> int:
        """Events whose projection rows wait (for /metrics)."""
        return self.waiting_events + (len(self.flush.history) - self.flushed if self.flush else 0)

    def everything(self, ops: Ops) -> Ops:
        """Every waiting row, then `ops`, as one batch's rows."""
        parts = []
        if self.flush is not None:
            parts.append(dataclasses.replace(self.flush, history=self.flush.history[self.flushed:]))
        parts.extend(self.waiting)
        return Ops.merged([*parts, ops]) if parts else ops

    def plan(self, ops: Ops, events: int, position: int) -> Plan:
        """The projection rows of a pipelined commit of `events` events up to seq `position`."""
        if events < DEFER_MIN_BATCH or self.waiters or \
                self.waiting_events + events >= 2 * DEFER_EVENTS:  # bounds the memory held
            if self.empty() and not events:
                return Plan(None, None, everything=True)
            return Plan(self.everything(ops), position, everything=True)
        if self.flush is None and self.waiting and (
                self.waiting_events >= DEFER_EVENTS or time.perf_counter() - self.since >= DEFER_SECONDS):
            self.flush = Ops.merged(self.waiting) if len(self.waiting) > 1 else self.waiting[0]
            self.flush.history = _by_entity(self.flush.history)
            self.flush_position, self.flushed = self.waiting_position, 0
            self.waiting, self.waiting_events = [], 0
        if self.flush is None:
            return Plan(None, None)
        end = self.flushed + int(SLICE_FACTOR * events)
        if end < len(self.flush.history):
            return Plan(Ops(history=self.flush.history[self.flushed:end]), None, slice_end=end)
        rest = dataclasses.replace(self.flush, history=self.flush.history[self.flushed:])
        return Plan(rest, self.flush_position, slice_end=len(self.flush.history))

    def landed(self, plan: Plan, ops: Ops | None, events: int, position: int) -> None:
        """A commit planned by `plan` succeeded; `ops` are its own rows (waiting now unless written)."""
        if plan.everything:
            self.written()
            return
        if self.flush is not None and plan.slice_end:
            self.flushed = plan.slice_end
            if self.flushed >= len(self.flush.history):
                self.flush = None
                if self.empty():
                    self._wake()
        if ops is not None and events:
            if not self.waiting:
                self.since = time.perf_counter()
            self.waiting.append(ops)
            self.waiting_events += events
            self.waiting_position = position

    def written(self) -> None:
        """Everything waiting was written."""
        self.waiting, self.waiting_events, self.flush = [], 0, None
        self._wake()

    def _wake(self) -> None:
        waiters, self.waiters = self.waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
