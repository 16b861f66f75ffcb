"""The event log: one append path (validated, projected, durable), reads, and subscriptions.

Appends go into a bounded queue; one writer task takes everything queued (group
commit), assigns seqs under the database's write lock, folds the events into the
projections in the same transaction, commits, and only then resolves the
appenders' futures and publishes the events to subscribers. When the queue is
full, appenders wait (backpressure). When the database refuses a write (disk
full, read-only), the batch stays queued and is retried; the log reports itself
degraded until a write succeeds again.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import itertools
import logging
import sys
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

from hub import events as ev
from hub.backlog import Backlog, Plan
from hub.errors import InputRejected, StoreError
from hub.events import Event, encode_json
from hub.metrics import Metrics
from hub.projections import Fold, Ops, check_registration, new_state_of
from hub.states import State
from hub.store import Backend, EventFilter, backend_for
from hub.times import now_us

log = logging.getLogger(__name__)

CATCH_UP_CHUNK = 20_000
SWITCH_INTERVAL = 0.0001  # seconds; see EventLog.start
IDLE_AFTER = 0.005  # seconds without a commit after which the writer does not linger
FLUSH_IDLE = 0.002  # seconds without appends after which projection rows left waiting are written


@dataclass(slots=True)
class _StateReport:
    entity_id: str
    state: str
    attributes: dict[str, Any]
    source: str
    time: int | None
    causation: int | None
    correlation: str | None
    force_update: bool
    attributes_json: str  # encoded where a failure can be refused, and handed to the fold


def _report(entity_id: str, state: str, attributes: dict[str, Any], source: str, time: int | None,
            causation: int | None, correlation: str | None, force_update: bool) -> _StateReport:
    if not ev.is_entity_id(entity_id):
        raise InputRejected(f"entity_id {entity_id!r} is not domain.object_id in [a-z0-9_]")
    if not isinstance(attributes, dict):
        raise InputRejected("attributes must be a JSON object")
    if len(state) > 255:
        raise InputRejected(f"state of {entity_id} is longer than 255 characters")
    try:
        attributes_json = encode_json(attributes)
    except (TypeError, ValueError) as exc:
        raise InputRejected(f"attributes of {entity_id} are not JSON: {exc}") from None
    return _StateReport(entity_id, state, attributes, source, time, causation, correlation, force_update,
                        attributes_json)


@dataclass(slots=True)
class _Item:
    events: list[Event] | None
    report: _StateReport | None
    future: asyncio.Future[Any]
    supplied_ids: bool = False
    size: int = 1
    states: list[State | None] | None = None  # the events' new states, read by append_many


@dataclass(slots=True)
class _Batch:
    """Items folded for one commit: the events to store, the projection rows, the answers."""

    items: list[_Item]
    head: int  # the log's head the seqs were assigned after
    started: float
    seq: int = 0  # the last seq assigned
    ops: Ops | None = None
    new: list[Event] = field(default_factory=list)
    prepared: Any = None  # the events as the backend's commit_batch takes them
    results: list[Any] = field(default_factory=list)
    previous: list[Event] = field(default_factory=list)  # events whose causation -1 was resolved
    foreign: list[Event] = field(default_factory=list)  # appended by other processes, folded here
    plan: Plan | None = None  # the projection rows its pipelined commit writes (hub.backlog)


@dataclass
class Health:
    """What /health says of the log."""

    writable: bool = True
    error: str | None = None
    since: float | None = None
    pending: int = 0
    last_commit: float | None = None


class Subscription:
    """Follows the log from a seq: catches up from the database, then continues live."""

    def __init__(self, log_: EventLog, after: int, types: Iterable[str] = (),
                 entity_glob: str | None = None, maxsize: int = 10_000) -> None:
        self.log = log_
        self.position = after
        self.types = frozenset(types)
        self.entity_glob = entity_glob
        self.maxsize = maxsize
        self._live: deque[Event] = deque()
        self._buffer: deque[Event] = deque()
        self._catching_up = True
        self._wake = asyncio.Event()
        self.closed = False

    def wants(self, event: Event) -> bool:
        if self.types and event.type not in self.types:
            return False
        if self.entity_glob is not None and (
            event.entity_id is None or not fnmatch.fnmatchcase(event.entity_id, self.entity_glob)
        ):
            return False
        return True

    def _push(self, batch: list[Event]) -> None:
        woken = False
        for event in batch:
            if self.wants(event):
                if len(self._live) >= self.maxsize:
                    self._live.clear()  # too slow: fall back to reading the database
                    self._catching_up = True
                    woken = True
                    break
                self._live.append(event)
                woken = True
        if woken:  # a follower of other events is not woken for nothing (a task switch per commit)
            self._wake.set()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        while True:
            if self.closed:
                raise StopAsyncIteration
            while self._buffer:
                event = self._buffer.popleft()
                if event.seq is not None and event.seq > self.position:
                    self.position = event.seq
                    return event
            if self._catching_up:
                page = await self.log.read(EventFilter(after=self.position, types=tuple(self.types),
                                                       entity_glob=self.entity_glob, limit=1000))
                if page:
                    self._buffer.extend(page)
                    continue
                self._catching_up = False
            if self._live:
                self._buffer.extend(self._live)
                self._live.clear()
                continue
            self._wake.clear()
            await self._wake.wait()

    def close(self) -> None:
        self.closed = True
        self._wake.set()
        self.log._subscribers.discard(self)


class EventLog:
    """The append-only log of one hub and the projections folded from it."""

    def __init__(self, backend: Backend, *, project: bool = True, max_pending: int = 50_000,
                 max_batch: int = 10_000, linger: float = 0.0005) -> None:
        self.backend = backend
        self.project = project
        self.max_pending = max_pending
        self.max_batch = max_batch
        self.linger = linger
        self.fold = Fold()
        self.metrics = Metrics()
        self.health = Health()
        self.head = 0
        self._pending: deque[_Item] = deque()
        self._pending_count = 0
        self._has_work = asyncio.Event()
        self._arrived = asyncio.Event()  # set by every append: wakes a writer waiting on a commit
        self._space = asyncio.Event()
        self._space.set()
        self._subscribers: set[Subscription] = set()
        self._stopping = False
        self._task_group: asyncio.TaskGroup | None = None
        self._flushed = asyncio.Event()
        self.backlog = Backlog()  # projection rows of committed batches not written yet

    # --- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        """Open the store and, when projecting, load the projections and catch them up."""
        if self.backend.commit_batch_supported and sys.getswitchinterval() > SWITCH_INTERVAL:
            # The database's thread takes Python's GIL for a moment around every statement while the
            # event loop folds the next batch; with the default 5 ms switch interval each of those
            # moments can wait 5 ms for the loop to let go, and the two threads take turns instead
            # of overlapping (seen while measuring bench/core_ingest.py: a third more events/s at 0.1 ms).
            sys.setswitchinterval(SWITCH_INTERVAL)
        await self.backend.open()
        self.head = await self.backend.head()
        if self.project:
            await self._load_projections()
            await self.catch_up()

    async def _load_projections(self) -> None:
        self.fold = Fold()
        for state in await self.backend.load_states():
            self.fold.states[state.entity_id] = state
        self.fold.registry = await self.backend.load_registry()
        self.fold.position = min((await self.backend.positions()).values(), default=0)

    async def catch_up(self, progress: Any = None) -> int:
        """Fold every stored event the projections have not applied yet; returns how many.

        Three steps overlap: the reading connection reads chunk N+1 (SQLite extracts what the fold
        needs), the event loop folds chunk N, and the writer stores the rows of chunk N-1."""
        done = 0
        head = await self.backend.head()
        position = self.fold.position
        reading: asyncio.Future[list[Any]] | None = None
        writing: asyncio.Future[None] | None = None
        try:
            while True:
                if reading is None:
                    if writing is not None:
                        await writing
                        writing = None
                        self._commit_catch_up()
                    head = await self.backend.head()
                    if position >= head:
                        self.head = max(self.head, head)
                        return done
                    upto = min(head, position + CATCH_UP_CHUNK)
                    reading = asyncio.ensure_future(self.backend.rows_to_fold(position, upto))
                rows = await reading
                after, position = position, upto
                reading = None
                if position < head:
                    upto = min(head, position + CATCH_UP_CHUNK)
                    reading = asyncio.ensure_future(self.backend.rows_to_fold(position, upto))
                ops = self.fold.begin()
                self.fold.apply_rows(ops, rows, position)
                if writing is not None:
                    await writing
                    self._commit_catch_up()
                writing = asyncio.ensure_future(self.backend.commit_projection(ops, position))
                done += position - after
                if progress is not None:
                    progress(done, head)
        except BaseException:
            for task in (reading, writing):
                if task is not None:
                    task.cancel()
            self.fold.rollback()
            raise

    def _commit_catch_up(self) -> None:
        self.fold.commit()
        self.head = max(self.head, self.fold.position)

    async def run(self) -> None:
        """The log's long-lived work: the writer and the cross-process listener."""
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._writer())
            tg.create_task(self._listen())

    async def flush(self) -> None:
        """Wait until everything queued so far is committed, projections and all (or the writer
        gave up)."""
        while self._pending:
            self._flushed.clear()
            await self._flushed.wait()
        await self.sync_projections()

    async def close(self) -> None:
        await self.backend.close()

    # --- appending -------------------------------------------------------------

    async def append(self, event: Event) -> Event:
        """Store one event durably; returns it with its seq (the stored one if the id existed)."""
        return (await self.append_many([event]))[0]

    async def append_many(self, events: list[Event], *, supplied_ids: bool = True) -> list[Event]:
        """Store events atomically and durably, in order; idempotent by id."""
        # A state change's new state is read here, where one the fold cannot read is refused,
        # and handed to the fold (which would read it again otherwise).
        states: list[State | None] | None = None
        for i, event in enumerate(events):
            event.validate()
            try:
                event.data_json()
            except (TypeError, ValueError) as exc:
                raise InputRejected(f"event data is not JSON: {exc}") from None
            if event.type == ev.STATE_CHANGED and event.entity_id is not None:
                if states is None:
                    states = [None] * len(events)
                states[i] = new_state_of(event.entity_id, event.data, event.time)
            elif event.type == ev.ENTITY_REGISTERED:
                check_registration(event.data)
        if not events:
            return []
        if events[0].causation == ev.PREVIOUS:
            raise InputRejected("the first event of a call cannot be caused by a previous one (causation -1)")
        future: asyncio.Future[list[Event]] = asyncio.get_running_loop().create_future()
        await self._enqueue(_Item(events, None, future, supplied_ids, len(events), states))
        return await future

    async def report_state(self, entity_id: str, state: str, attributes: dict[str, Any], *, source: str,
                           time: int | None = None, causation: int | None = None,
                           correlation: str | None = None, force_update: bool = False) -> Event | None:
        """Report an entity's state; appends state_changed when it differs from the current one."""
        report = _report(entity_id, state, attributes, source, time, causation, correlation, force_update)
        future: asyncio.Future[Event | None] = asyncio.get_running_loop().create_future()
        await self._enqueue(_Item(None, report, future))
        return await future

    def submit_state(self, entity_id: str, state: str, attributes: dict[str, Any], *, source: str,
                     time: int | None = None, causation: int | None = None, correlation: str | None = None,
                     force_update: bool = False) -> asyncio.Future[Event | None] | None:
        """report_state without a coroutine, for hot paths (an MQTT message): the future of its
        result, or None when the queue is full (await report_state then: it waits for room)."""
        report = _report(entity_id, state, attributes, source, time, causation, correlation, force_update)
        if self._stopping or self._pending_count >= self.max_pending:
            return None
        future: asyncio.Future[Event | None] = asyncio.get_running_loop().create_future()
        self._put(_Item(None, report, future))
        return future

    async def _enqueue(self, item: _Item) -> None:
        if self._stopping:
            raise StoreError("the event log is closing")
        while self._pending_count >= self.max_pending:
            self._space.clear()
            await self._space.wait()
        self._put(item)

    def _put(self, item: _Item) -> None:
        self._pending.append(item)
        self._pending_count += item.size
        self._has_work.set()
        self._arrived.set()

    async def _writer(self) -> None:
        """Group commits, pipelined: batch N+1 is folded and encoded here while batch N is being
        committed in the database's thread. A batch whose assumptions turn out wrong at commit
        (another process appended, or an id is stored already) is redone on the careful path."""
        delay = 0.05
        last_batch = 0
        last_commit = 0.0
        flight: tuple[_Batch, asyncio.Future[bool]] | None = None
        following: _Batch | None = None
        try:
            while True:
                if flight is None:
                    if not self.backlog.empty() and not self._pending:
                        if not self.backlog.waiters:
                            with contextlib.suppress(TimeoutError):
                                await asyncio.wait_for(self._has_work.wait(), FLUSH_IDLE)
                        if not self._pending:  # quiet: write the deferred projection rows now
                            try:
                                batch = await self._commit([])
                            except StoreError as exc:
                                delay = await self._retry_later(exc, delay)
                                continue
                            await self._committed(batch)
                            continue
                    await self._has_work.wait()
                    # A short bounded wait lets concurrent appenders join the next commit; a lone appender
                    # (the last commit carried one item) is not made to wait for company that is not coming.
                    # From idle (no commit for a while) nobody is streaming appends either: asyncio's
                    # timers round the linger up to a millisecond, added to a lone event's latency.
                    if self.linger and last_batch > 1 and self._pending_count < 64 \
                            and time.perf_counter() - last_commit < IDLE_AFTER:
                        await asyncio.sleep(self.linger)
                    if not self._pipelined:
                        items = self._take(0, self.max_batch)
                        try:
                            batch = await self._commit(items)
                        except StoreError as exc:
                            delay = await self._retry_later(exc, delay)
                            continue
                    else:
                        # From idle, a large backlog is split in two so that the second half is folded
                        # while the first commits.
                        limit = self.max_batch if self._pending_count < 2000 else \
                            min(self.max_batch, self._pending_count // 2)
                        flight = self._launch(self._fold_prepared(self._take(0, limit), self.head))
                        continue
                else:
                    batch, task = flight
                    flight = None
                    in_flight = len(batch.items)
                    if following is None and len(self._pending) <= in_flight and not task.done():
                        # Wait for the commit or for new appends, whichever comes first.
                        self._arrived.clear()
                        task.add_done_callback(self._wake)
                        await self._arrived.wait()
                    if following is None and len(self._pending) > in_flight:
                        following = self._fold_prepared(self._take(in_flight, self.max_batch), batch.seq)
                    try:
                        done = await task
                        if not done:  # the careful path: read the head and stored ids under the lock
                            self._undo(following, batch)
                            following = None
                            batch = await self._commit(batch.items)
                        else:
                            self._landed(batch)
                    except StoreError as exc:
                        self._undo(following, batch)
                        following = None
                        delay = await self._retry_later(exc, delay)
                        continue
                    if following is not None:
                        flight, following = self._launch(following), None
                delay = 0.05
                last_batch = len(batch.items)
                await self._committed(batch)
                last_commit = time.perf_counter()
        finally:
            if flight is not None:
                flight[1].cancel()

    async def _retry_later(self, exc: StoreError, delay: float) -> float:
        """The database refused a commit: say so, wait, and return the next (doubled) wait."""
        self._degraded(str(exc))
        await asyncio.sleep(delay)
        return min(delay * 2, 5.0)

    def _wake(self, _done: asyncio.Future[bool]) -> None:
        self._arrived.set()

    def _launch(self, batch: _Batch) -> tuple[_Batch, asyncio.Future[bool]]:
        ops, position = None, None
        if batch.ops is not None:
            batch.plan = self.backlog.plan(batch.ops, len(batch.new), batch.seq)
            ops, position = batch.plan.ops, batch.plan.position
        return batch, asyncio.ensure_future(self.backend.commit_batch(batch.head, batch.prepared, ops, position))

    def _fold_prepared(self, items: list[_Item], head: int) -> _Batch:
        """A batch for the pipelined writer: folded, and its events' rows made."""
        batch = self._fold_batch(items, head)
        batch.prepared = self.backend.prepare_events(batch.new)
        return batch

    def _landed(self, batch: _Batch) -> None:
        """A pipelined commit succeeded: the backlog learns what it wrote and what now waits."""
        if batch.plan is not None:
            self.backlog.landed(batch.plan, batch.ops, len(batch.new), batch.seq)

    async def sync_projections(self) -> None:
        """Wait until the projections in the database include every event committed so far (they
        can be a moment behind under heavy load; see hub.backlog). For readers of history and
        statistics in this process that must see what was just appended."""
        if self.backlog.empty():
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.backlog.waiters.append(waiter)
        await waiter

    @property
    def _pipelined(self) -> bool:
        return self.backend.commit_batch_supported

    def _take(self, skip: int, limit: int) -> list[_Item]:
        """The queued items after the first `skip`, up to `limit` events (at least one item)."""
        batch: list[_Item] = []
        size = 0
        for item in itertools.islice(self._pending, skip, None):
            if batch and size + item.size > limit:
                break
            batch.append(item)
            size += item.size
        return batch

    def _undo(self, *batches: _Batch | None) -> None:
        """Forget folded, uncommitted batches: memory as it was, events as their appenders gave them."""
        if self.project:
            self.fold.rollback()
        for batch in batches:
            if batch is not None:
                for event in batch.new:
                    event.seq = None
                for event in batch.previous:
                    event.causation = ev.PREVIOUS

    def _degraded(self, message: str) -> None:
        self.metrics.write_failures += 1
        if self.health.writable:
            log.error("cannot write to the event log: %s; %d events wait in memory and are retried",
                      message, self._pending_count)
            self.health.writable, self.health.since = False, time.time()
            self.metrics.error("log", message)
        self.health.error = message
        self.health.pending = self._pending_count

    def _fold_batch(self, items: list[_Item], head: int, existing: dict[str, int] | None = None,
                    ops: Ops | None = None) -> _Batch:
        """Assign seqs after `head` and fold the items into a new layer of the projections."""
        batch = _Batch(items, head, time.perf_counter())
        if self.project:
            batch.ops = ops if ops is not None else self.fold.begin()
        fold, existing = self.fold, existing or {}
        new, results, previous_fixed = batch.new, batch.results, batch.previous
        seen: dict[str, Event] = {}
        seq = head
        for item in items:
            if item.report is not None:
                event, state = self._state_event(item.report)
                if event is not None:
                    seq += 1
                    event.seq = seq
                    new.append(event)
                    if batch.ops is not None:
                        fold.apply(batch.ops, event, state)
                results.append(event)
                continue
            stored: list[Any] = []
            previous: int | None = None
            states = item.states
            for i, event in enumerate(item.events or ()):
                if event.id in existing:
                    stored.append(existing[event.id])
                    previous = existing[event.id]
                    continue
                if event.id in seen:
                    stored.append(seen[event.id])
                    previous = seen[event.id].seq
                    continue
                if event.causation == ev.PREVIOUS:
                    event.causation = previous
                    previous_fixed.append(event)
                seq += 1
                event.seq = previous = seq
                seen[event.id] = event
                new.append(event)
                stored.append(event)
                if batch.ops is not None:
                    fold.apply(batch.ops, event, states[i] if states is not None else None)
            results.append(stored)
        batch.seq = seq
        return batch

    async def _commit(self, items: list[_Item]) -> _Batch:
        """The careful path: under the write lock, fold what other processes appended, look up
        supplied ids, then store the batch."""
        started = time.perf_counter()
        fold = self.fold
        foreign: list[Event] = []
        batch: _Batch | None = None
        try:
            async with self.backend.transaction() as tx:
                head = await tx.head()
                ops = fold.begin() if self.project else None
                if ops is not None and head > fold.position:
                    projected = await tx.projected()
                    foreign = await tx.read_range(fold.position, head)
                    for event in foreign:
                        fold.apply(ops, event, emit=event.seq is not None and event.seq > projected)
                elif head > self.head:
                    foreign = await tx.read_range(self.head, head)
                wanted = [e.id for item in items if item.supplied_ids and item.events for e in item.events]
                existing = await tx.existing(wanted) if wanted else {}
                batch = self._fold_batch(items, head, existing, ops)
                batch.foreign, batch.started = foreign, started
                if batch.new:
                    await tx.insert(batch.new)
                if ops is not None and (batch.new or foreign or not self.backlog.empty()):
                    await tx.apply(self.backlog.everything(ops), batch.seq)
        except BaseException:
            self._undo(batch)
            raise
        if ops is not None:
            self.backlog.written()
        return batch

    async def _committed(self, batch: _Batch) -> None:
        """After the commit: memory, futures, subscribers, other processes, the queue."""
        new = batch.new
        self._commit_fold(batch.foreign + new if batch.foreign else new)
        self.head = max(self.head, batch.seq)
        if new:
            self.metrics.committed(len(new), time.perf_counter() - batch.started, Counter(e.type for e in new))
        if not self.health.writable:
            log.warning("the event log is writable again; %d queued events committed", len(new))
            self.health.writable, self.health.error, self.health.since = True, None, None
        self.health.last_commit = time.time()
        size = 0
        for item in batch.items:
            self._pending.popleft()
            size += item.size
        self._pending_count -= size
        if self._pending_count < self.max_pending:
            self._space.set()
        if not self._pending:
            self._has_work.clear()
            self._flushed.set()
        self.health.pending = self._pending_count
        for item, result in zip(batch.items, batch.results, strict=True):
            if item.future.done():
                continue
            if isinstance(result, list) and any(isinstance(r, int) for r in result):
                result = [r if isinstance(r, Event) else await self.backend.get(r) for r in result]
                if item.future.done():  # its appender was cancelled while the stored events were read
                    continue
            item.future.set_result(result)
        if new:
            await self.backend.notify()

    def _commit_fold(self, events: list[Event]) -> None:
        if self.project:
            self.fold.commit()
        if events:
            self.head = max(self.head, events[-1].seq or 0)
            for sub in list(self._subscribers):
                sub._push(events)

    def _state_event(self, report: _StateReport) -> tuple[Event | None, State | None]:
        old = self.fold.get(report.entity_id)
        t = report.time if report.time is not None else now_us()
        if old is not None and old.state == report.state and old.attributes == report.attributes \
                and not report.force_update:
            return None, None
        changed = t if old is None or old.state != report.state else old.last_changed
        new = State(report.entity_id, report.state, report.attributes, changed, t)
        new.attributes_json = report.attributes_json
        data = {"old_state": old.as_data() if old is not None else None, "new_state": new.as_data()}
        event = Event(ev.STATE_CHANGED, report.source, report.entity_id, data, time=t,
                      causation=report.causation, correlation=report.correlation)
        return event, new

    # --- following ---------------------------------------------------------------

    async def _listen(self) -> None:
        """Pick up what other processes append: fold it (writer) or publish it (reader)."""
        async with self.backend.wakeups() as wakeups:
            async for _ in wakeups:
                try:
                    head = await self.backend.head()
                except StoreError as exc:
                    log.warning("cannot read the log head: %s", exc)
                    continue
                if head <= self.head:
                    continue
                if self.project:
                    if not self._pending:
                        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
                        await self._enqueue(_Item([], None, future, False, 0))
                else:
                    while self.head < head:
                        page = await self.backend.read(EventFilter(after=self.head, limit=1000))
                        if not page:
                            break
                        self._commit_fold(page)

    def follow(self, after: int | None = None, *, types: Iterable[str] = (),
               entity_glob: str | None = None) -> Subscription:
        """A subscription from `after` (default: the current head), catching up then live."""
        sub = Subscription(self, self.head if after is None else after, types, entity_glob)
        self._subscribers.add(sub)
        return sub

    # --- reads -------------------------------------------------------------------

    def current_state(self, entity_id: str) -> State | None:
        return self.fold.states.get(entity_id)

    def current_states(self) -> list[State]:
        return list(self.fold.states.values())

    async def registry_entry(self, entity_id: str) -> dict[str, Any] | None:
        return self.fold.registry.get(entity_id)

    def registry(self) -> dict[str, dict[str, Any]]:
        """The registry as committed: entity_id -> the entities row (`registry_row`)."""
        return self.fold.registry

    async def read(self, flt: EventFilter) -> list[Event]:
        return await self.backend.read(flt)

    async def get(self, seq: int) -> Event | None:
        return await self.backend.get(seq)

    async def states(self) -> list[State]:
        """Current states: from memory when projecting, else from the states projection."""
        if self.project:
            return self.current_states()
        return await self.backend.load_states()

    async def rebuild(self, progress: Any = None) -> int:
        """Drop the projections and fold the whole log again: inside the database where the
        backend can (then only the registry and the current states are folded here), else here."""
        self.fold = Fold()

        def fold_rows(rows: list[tuple[Any, ...]], head: int) -> Ops:
            ops = self.fold.begin()
            self.fold.apply_rows(ops, rows, head, derived=False)
            return ops.registry_and_states()

        try:
            head = await self.backend.rebuild_projections(fold_rows, progress)
        except BaseException:
            self.fold.rollback()
            raise
        if head is not None:
            self._commit_catch_up()
            return head + await self.catch_up(progress)
        await self.backend.reset_projections()
        return await self.catch_up(progress)


@contextlib.asynccontextmanager
async def open_log(url: str, *, project: bool = True, synchronous: str = "full",
                   **kwargs: Any) -> AsyncIterator[EventLog]:
    """Open a log and run its writer and listener until the block exits (flushing first)."""
    backend = backend_for(url)
    if hasattr(backend, "synchronous"):
        backend.synchronous = synchronous.upper()
    log_ = EventLog(backend, project=project, **kwargs)
    await log_.start()
    try:
        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(log_.run())
            try:
                yield log_
                await log_.flush()
            finally:
                log_._stopping = True
                task.cancel()
    finally:
        await log_.close()
