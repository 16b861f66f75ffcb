"""The automation engine: follows the log, indexes triggers, starts runs under their modes.

The daemon runs `AutomationEngine(log, config).run()` in its task group and calls
`engine.register_owners(router)` so that `script.<id>` and `notify.<name>` are
commands like any other. `replay.py` drives the same engine over recorded history
with a ManualClock and effects that execute nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from automations import models as m
from automations.clock import Clock, ManualClock
from automations.conditions import check_all
from automations.config import Automation, RuleSet, load_rules
from automations.effects import Effects, LiveEffects, Outcomes
from automations.runner import Rule, Run, jsonable
from automations.templates import Renderer, TemplateError, render_value
from automations.triggers import Armed, Key, TriggerContext, arm, index_keys
from hub import events as ev
from hub.errors import ConfigError, HubError
from hub.events import Event, new_id
from hub.states import State

log = logging.getLogger(__name__)

T = TypeVar("T")
LOOP_LIMIT = 20          # runs of one automation set off by one chain of events (one correlation)
LOOP_MEMORY = 10_000     # correlations remembered for loop detection


class LogReader:
    """Current states from the live log's in-memory projection."""

    def __init__(self, log_: Any) -> None:
        self.log = log_

    def get(self, entity_id: str) -> State | None:
        return self.log.current_state(entity_id)  # type: ignore[no-any-return]

    def all(self) -> list[State]:
        return self.log.current_states()  # type: ignore[no-any-return]


@dataclass
class Slot:
    """One automation as loaded: its rule, armed triggers and runs."""

    spec: Automation | None
    rule: Rule
    armed: list[Armed] = field(default_factory=list)
    running: list[tuple[Run, asyncio.Task[None]]] = field(default_factory=list)
    queue: deque[tuple[dict[str, Any], int | None, str | None]] = field(default_factory=deque)
    enabled: bool = True


class AutomationEngine:
    """Runs the automations, scripts and schedules of one RuleSet over one log."""

    def __init__(self, log_: Any, config: Any = None, *, clock: Clock | None = None, rules: RuleSet | None = None,
                 effects: Effects | None = None, reader: Any = None, registry: dict[str, Any] | None = None,
                 after: int | None = None) -> None:
        self.log = log_
        self.config = config
        self.rules = rules if rules is not None else load_rules(config)
        self.clock = clock or Clock()
        self.reader = reader if reader is not None else LogReader(log_)
        self.outcomes = Outcomes()
        self.effects: Effects = effects if effects is not None else LiveEffects(
            log_, self.outcomes, self.clock, command_timeout=self.rules.command_timeout)
        self._registry = registry
        self.renderer = Renderer(self.reader, self.clock.now, self.rules.timezone)
        self.latitude, self.longitude = self.rules.latitude, self.rules.longitude
        self.index: dict[Key, list[Callable[[Event], None]]] = {}
        self.slots: dict[str, Slot] = {}
        self.scripts: dict[str, Rule] = {}
        self.script_runs: dict[str, list[asyncio.Task[None]]] = {}
        self.tasks: set[asyncio.Task[Any]] = set()
        self.busy = 0
        self.stopping = False
        self.generation = 0
        self.position = log_.head if (after is None and log_ is not None) else (after or 0)
        self.cause: tuple[int | None, str | None] | None = None
        self._loops: OrderedDict[tuple[str, str], int] = OrderedDict()
        self.errors: deque[str] = deque(maxlen=100)
        self.ctx = TriggerContext(self.clock, self.reader, self.renderer, self.rules.timezone,
                                  self.latitude, self.longitude, self._trigger_error)
        from automations.scheduler import Schedules

        self.schedules = Schedules(self)
        if isinstance(self.clock, ManualClock):
            self.clock.settle = self.settle
        self._load(self.rules)

    # --- loading --------------------------------------------------------------

    def _load(self, rules: RuleSet) -> None:
        self.rules = rules
        for spec in rules.automations:
            rule = Rule("automation", spec.id, spec.alias, spec.actions, spec.conditions, spec.variables,
                        spec.mode, spec.max, spec.max_exceeded)
            self.slots[spec.id] = Slot(spec, rule, enabled=spec.initial_state)
        self.scripts = {name: Rule("script", name, s.alias, s.sequence, [], s.variables, s.mode, s.max,
                                   s.max_exceeded) for name, s in rules.scripts.items()}

    def arm_all(self) -> None:
        """Arm every automation's triggers and the schedules (time-based ones start their timers)."""
        for slot in self.slots.values():
            if not slot.enabled:
                continue
            assert slot.spec is not None
            for idx, spec in enumerate(slot.spec.triggers):
                if not spec.enabled:
                    continue
                armed = arm(spec, idx, self.ctx, self._fire_for(slot, spec))
                slot.armed.append(armed)
                for key in armed.keys():
                    self.index.setdefault(key, []).append(armed.on_event)
                armed.arm()
        self.schedules.arm()

    def disarm_all(self) -> None:
        for slot in self.slots.values():
            for armed in slot.armed:
                armed.disarm()
            slot.armed.clear()
        self.index.clear()
        self.schedules.disarm()

    def reload(self, config: Any = None, *, rules: RuleSet | None = None) -> list[str]:
        """Swap in new rules; on any error keep the old ones and return the problems (empty: reloaded)."""
        try:
            new = rules if rules is not None else load_rules(config)
        except ConfigError as exc:
            log.error("automations not reloaded, the previous rules keep running: %s", "; ".join(exc.problems))
            return exc.problems
        self.disarm_all()
        for slot in self.slots.values():
            for _, task in slot.running:
                task.cancel()
            slot.queue.clear()
        self.slots = {}
        self.config = config if config is not None else self.config
        self._load(new)
        self.arm_all()
        log.info("automations reloaded: %d automations, %d scripts, %d schedules", len(new.automations),
                 len(new.scripts), len(new.schedules))
        return []

    # --- host interface for runs and triggers -----------------------------------

    def _changed(self) -> None:
        self.generation += 1

    def _wake(self, _: Any) -> None:
        self.busy += 1
        self.generation += 1

    async def suspend(self, awaitable: Awaitable[T]) -> T:
        """Await something that time or an event resolves; the engine counts as idle meanwhile."""
        future = asyncio.ensure_future(awaitable)
        self.busy -= 1
        self.generation += 1
        woke = False

        def wake(f: Any) -> None:
            nonlocal woke
            woke = True
            self._wake(f)

        future.add_done_callback(wake)
        try:
            return await future
        finally:
            if not woke:  # cancelled while waiting: the callback may not have run yet
                future.remove_done_callback(wake)
                self._wake(None)

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """A task owned by the engine (cancelled when it stops), counted busy until done."""
        self.busy += 1
        self.generation += 1

        async def body() -> T:
            try:
                return await coro
            finally:
                self.busy -= 1
                self.generation += 1

        task = asyncio.get_running_loop().create_task(body())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        task.add_done_callback(_report_crash)
        return task

    async def settle(self) -> None:
        """Return once no run can make progress without time passing or a new event (tests, replay).

        Runs waiting for a command's outcome count as able to progress (the router answers through
        the log), for up to two seconds of real time: a missing router then needs the clock to move.
        """
        stable = 0
        spins = 0
        while stable < 3:
            before = self.generation
            spins += 1
            await asyncio.sleep(0 if spins < 50 else 0.001)
            waiting = bool(self.outcomes.waiting) and spins < 2000
            if self.busy <= 0 and self.generation == before and not waiting:
                stable += 1
            else:
                stable = 0

    def listen(self, keys: list[Key], handler: Callable[[Event], None]) -> Callable[[], None]:
        for key in keys:
            self.index.setdefault(key, []).append(handler)

        def remove() -> None:
            for key in keys:
                handlers = self.index.get(key)
                if handlers and handler in handlers:
                    handlers.remove(handler)

        return remove

    def arm_temporary(self, specs: list[m.TriggerBase], fire: Callable[[dict[str, Any]], None]) -> Callable[[], None]:
        armed = [arm(spec, idx, self.ctx, fire) for idx, spec in enumerate(specs) if spec.enabled]
        removers = []
        for a in armed:
            removers.append(self.listen(a.keys(), a.on_event))
            a.arm()

        def remove() -> None:
            for a in armed:
                a.disarm()
            for r in removers:
                r()

        return remove

    def registry(self) -> dict[str, Any]:
        if self._registry is not None:
            return self._registry
        return self.log.registry() if self.log is not None else {}

    def plan_command(self, action: str, target: dict[str, Any], data: dict[str, Any]) -> list[
            tuple[str, list[str], dict[str, Any]]]:
        """The command requests an action call becomes: (command, targets, data) each."""
        from automations.targets import plan

        return plan(self, action, target, data)

    def _trigger_error(self, message: str) -> None:
        self.errors.append(message)
        log.warning("automation trigger: %s", message)

    # --- events -----------------------------------------------------------------

    def dispatch(self, event: Event) -> None:
        """Hand one event to the triggers that may match it (and to waiting runs)."""
        if event.seq is not None:
            self.position = max(self.position, event.seq)
        etype = event.type
        if etype == ev.COMMAND_SUCCEEDED or etype == ev.COMMAND_FAILED:
            self.outcomes.seen(event)
        if event.source.startswith(("automation:", "script:")) and etype in (
                ev.AUTOMATION_TRIGGERED, ev.AUTOMATION_FINISHED, "automation_waiting"):
            return
        self.cause = (event.seq, event.correlation)
        self.ctx.cause = self.cause
        try:
            for key in index_keys(event):
                handlers = self.index.get(key)
                if handlers:
                    for handler in list(handlers):
                        handler(event)
        finally:
            self.cause = None
            self.ctx.cause = None

    def _fire_for(self, slot: Slot, spec: m.TriggerBase) -> Callable[[dict[str, Any]], None]:
        def fire(variables: dict[str, Any]) -> None:
            cause = variables.pop("_cause", None) or self.cause or (None, None)
            if spec.variables:
                try:
                    variables.update(render_value(self.renderer, spec.variables, {"trigger": variables}))
                except TemplateError as exc:
                    self._trigger_error(f"{slot.rule.id}: trigger variables: {exc}")
            self.trigger(slot, variables, cause[0], cause[1])

        return fire

    # --- runs ---------------------------------------------------------------------

    def trigger(self, slot: Slot, trigger: dict[str, Any], causation: int | None, correlation: str | None) -> None:
        """A trigger of `slot` fired: check loop protection and the mode, then start (or queue) a run."""
        if correlation is not None:
            key = (slot.rule.id, correlation)
            count = self._loops.get(key, 0) + 1
            self._loops[key] = count
            self._loops.move_to_end(key)
            while len(self._loops) > LOOP_MEMORY:
                self._loops.popitem(last=False)
            if count > LOOP_LIMIT:
                if count == LOOP_LIMIT + 1:
                    self.spawn(self._loop_stopped(slot, trigger, causation, correlation))
                return
        self.spawn(self._start(slot, trigger, causation, correlation or new_id()))

    async def _loop_stopped(self, slot: Slot, trigger: dict[str, Any], causation: int | None,
                            correlation: str) -> None:
        message = (f"loop detected: {slot.rule.id} was triggered {LOOP_LIMIT} times by one chain of events "
                   f"(correlation {correlation}); further triggers from this chain are ignored")
        log.error("%s", message)
        run = Run(self, slot.rule, {"trigger": trigger}, correlation=correlation, causation=causation)
        run.seq = await self.effects.begin(run, trigger, False)
        run.result, run.error = "error", message
        await self.effects.finish(run)

    def _variables(self, rule: Rule, trigger: dict[str, Any] | None, extra: dict[str, Any] | None = None
                   ) -> dict[str, Any]:
        variables: dict[str, Any] = {"this": {"entity_id": f"{rule.kind}.{rule.id}", "id": rule.id,
                                              "alias": rule.alias}}
        if trigger is not None:
            variables["trigger"] = trigger
        variables.update(extra or {})
        for key, value in rule.variables.items():
            variables[key] = render_value(self.renderer, value, variables)
        return variables

    async def _start(self, slot: Slot, trigger: dict[str, Any], causation: int | None, correlation: str) -> None:
        rule = slot.rule
        run = Run(self, rule, {"trigger": trigger}, correlation=correlation, causation=causation)
        try:
            run.variables = self._variables(rule, trigger)
            passed = check_all(rule.conditions, run, "condition")
        except TemplateError as exc:
            run.result, run.error, passed = "error", f"variables: {exc}", False
        if passed and not self._admit(slot, run, trigger):
            return
        first = rule.actions[0] if rule.actions else None
        run.seq = await self.effects.begin(run, trigger, passed, defer=isinstance(first, m.CallAction))
        if not passed:
            if run.result == "running":
                run.result = "conditions_failed"
            await self.effects.finish(run)
            return
        await self._execute(slot, run)

    def _admit(self, slot: Slot, run: Run, trigger: dict[str, Any]) -> bool:
        rule = slot.rule
        active = len(slot.running)
        if active == 0 or rule.mode == "parallel" and active < rule.max:
            return True
        if rule.mode == "restart":
            for _, task in slot.running:
                task.cancel()
            return True
        if rule.mode == "queued" and len(slot.queue) + active <= rule.max:
            slot.queue.append((trigger, run.causation, run.correlation))
            return False
        level = {"silent": logging.DEBUG, "debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
                 "error": logging.ERROR, "critical": logging.CRITICAL}.get(rule.max_exceeded, logging.WARNING)
        log.log(level, "%s: already running (mode %s, max %d): trigger ignored", rule.source, rule.mode, rule.max)
        return False

    async def _execute(self, slot: Slot, run: Run) -> None:
        task = asyncio.current_task()
        assert task is not None
        entry = (run, task)
        slot.running.append(entry)
        try:
            await run.execute()
        except asyncio.CancelledError:
            if self.stopping and run.durable_wait:
                raise  # the daemon stops: automation_waiting lets the next start resume this run
            run.result = "interrupted" if self.stopping else "restarted" if run.rule.mode == "restart" \
                else "cancelled"
            try:
                await asyncio.shield(self.effects.finish(run))
            except HubError as exc:
                log.warning("%s: could not record the end of run %s: %s", run.rule.source, run.seq, exc)
            raise
        finally:
            if entry in slot.running:
                slot.running.remove(entry)
        await self.effects.finish(run)
        if slot.queue and self.slots.get(slot.rule.id) is slot:
            trigger, causation, correlation = slot.queue.popleft()
            self.spawn(self._start(slot, trigger, causation, correlation or new_id()))

    # --- scripts --------------------------------------------------------------------

    async def start_script(self, name: str, fields: dict[str, Any], *, causation: int | None,
                           correlation: str | None) -> int:
        """Start `script.<name>` with `fields` as variables; returns its run's seq (does not wait for the end)."""
        rule = self.scripts.get(name)
        if rule is None:
            raise KeyError(name)
        runs = [t for t in self.script_runs.get(name, []) if not t.done()]
        if runs and rule.mode == "single":
            from hub.errors import CommandError

            raise CommandError(f"script.{name} is already running (mode single)")
        if runs and rule.mode == "restart":
            for task in runs:
                task.cancel()
        run = Run(self, rule, {}, correlation=correlation or new_id(), causation=causation)
        run.variables = self._variables(rule, None, dict(fields))
        run.seq = await self.effects.begin(run, {"platform": "command", "fields": jsonable(fields)}, True)
        slot = Slot(None, rule)
        task = self.spawn(self._execute(slot, run))
        self.script_runs[name] = runs + [task]
        return run.seq

    def register_owners(self, router: Any) -> None:
        """Make `script.<id>` and `notify.<name>` commands that the daemon's CommandRouter executes."""
        from automations.scripts import register

        register(self, router)

    # --- the live loop ----------------------------------------------------------------

    async def run(self) -> None:
        """Follow the log and run automations until cancelled."""
        from automations.durable import resume

        sub = self.log.follow(self.position)
        try:
            self.arm_all()
            await resume(self)
            await self.schedules.catch_up()
            async for event in sub:
                try:
                    self.dispatch(event)
                except HubError as exc:
                    log.error("automations: event %s: %s", event.seq, exc)
        finally:
            self.stopping = True
            sub.close()
            self.disarm_all()
            await self.stop_runs()
            self.stopping = False

    async def stop_runs(self) -> None:
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def idle(self, timeout: float = 5.0) -> None:
        """Wait until the engine has read the whole log and no run can progress (for tests)."""
        async with asyncio.timeout(timeout):
            while True:
                await self.log.flush()
                await self.settle()
                if self.position >= self.log.head and self.busy <= 0:
                    await asyncio.sleep(0.005)
                    if self.position >= self.log.head and self.busy <= 0:
                        return
                else:
                    await asyncio.sleep(0.002)


def _report_crash(task: asyncio.Task[Any]) -> None:
    """A run that failed outside its own error handling is logged once, with its traceback."""
    if not task.cancelled() and task.exception() is not None:
        log.error("an automation task failed", exc_info=task.exception())
