"""One run of an automation, script or schedule: its actions executed in order, every step traced."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from automations import models as m
from automations.conditions import check, check_all
from automations.durations import duration_us
from automations.templates import TemplateError, TemplateState, cached, referenced_entities, render_value
from automations.triggers import ANY_STATE
from hub.times import to_iso

if TYPE_CHECKING:
    from automations.engine import Host

log = logging.getLogger(__name__)

MAX_TRACE_STEPS = 2000
MAX_REPEAT = 10_000


class RunError(Exception):
    """An action failed; the run stops with this as its error (unless continue_on_error)."""


class StopRun(Exception):
    """A `stop` action or a failed `condition` action ended the run."""

    def __init__(self, reason: str, error: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.error = reason, error


@dataclass
class Rule:
    """What runs: an automation, a script or a schedule's actions."""

    kind: str                   # automation | script | schedule
    id: str
    alias: str | None
    actions: list[m.ActionBase]
    conditions: list[m.ConditionBase] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)
    mode: str = "single"
    max: int = 10
    max_exceeded: str = "warning"

    @property
    def source(self) -> str:
        return f"{self.kind}:{self.id}"


def jsonable(value: Any, depth: int = 0) -> Any:
    """Trigger variables and results as JSON (states as dicts, times as ISO strings)."""
    if depth > 8:
        return repr(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, TemplateState):
        return value.as_dict()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, dict):
        return {str(k): jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v, depth + 1) for v in value]
    return str(value)


class Run:
    """The state of one run while it executes."""

    def __init__(self, host: Host, rule: Rule, variables: dict[str, Any], *, correlation: str | None,
                 causation: int | None) -> None:
        self.host = host
        self.rule = rule
        self.variables = variables
        self.renderer = host.renderer
        self.reader = host.reader
        self.correlation = correlation
        self.causation = causation     # what caused the run (the trigger event's seq)
        self.seq: int | None = None     # the run's automation_triggered seq: the cause of its commands
        self.pending_begin: Any = None  # automation_triggered not yet stored: it goes with the first command
        self.steps: list[dict[str, Any]] = []
        self.conditions: list[dict[str, Any]] = []
        self.commands: list[dict[str, Any]] = []
        self.started = host.clock.now()
        self.result = "running"
        self.error: str | None = None
        self.truncated = False
        self.resume_from = 0
        self.durable_wait = False  # in a top-level delay recorded by automation_waiting

    # --- what conditions need ---------------------------------------------------

    def now(self) -> int:
        return self.host.clock.now()

    def sun_position(self) -> tuple[float, float]:
        return self.host.latitude, self.host.longitude

    def record(self, path: str, entry: dict[str, Any]) -> None:
        entry["path"] = path
        target = self.conditions if path.startswith("condition") else self.steps
        if len(self.steps) + len(self.conditions) >= MAX_TRACE_STEPS:
            self.truncated = True
            return
        target.append(entry)

    # --- running ----------------------------------------------------------------

    async def execute(self) -> None:
        """Run the actions from `resume_from`; sets result and error; never raises for rule faults."""
        try:
            await self.sequence(self.rule.actions[self.resume_from:], "action", offset=self.resume_from)
            self.result = "finished"
        except StopRun as stop:
            self.result = "error" if stop.error else "stopped"
            self.error = stop.reason if stop.error else None
            if not stop.error and stop.reason:
                self.variables["stop_reason"] = stop.reason
        except RunError as exc:
            self.result, self.error = "error", str(exc)
        except asyncio.CancelledError:
            self.result, self.error = "cancelled", self.error or "cancelled"
            raise

    async def sequence(self, actions: list[m.ActionBase], path: str, offset: int = 0) -> None:
        for i, action in enumerate(actions, start=offset):
            await self.step(action, f"{path}/{i}", top_index=i if path == "action" else None)

    async def step(self, action: m.ActionBase, path: str, top_index: int | None = None) -> None:
        kind = next(k for k, model in m.ACTIONS if isinstance(action, model))
        entry: dict[str, Any] = {"action": kind, "started": to_iso(self.now())}
        if action.alias:
            entry["alias"] = action.alias
        if not action.enabled:
            entry["result"] = "skipped (disabled)"
            self.record(path, entry)
            return
        started = self.now()
        self.record(path, entry)
        try:
            await self._do(action, path, entry, top_index)
            entry.setdefault("result", "ok")
        except (RunError, TemplateError, ValueError) as exc:
            entry["result"], entry["error"] = "error", str(exc)
            if not action.continue_on_error:
                raise RunError(f"{path}: {exc}") from None
        except StopRun as stop:
            entry["result"] = "stop"
            raise stop
        finally:
            entry["duration_ms"] = round((self.now() - started) / 1000, 3)

    def render(self, value: Any) -> Any:
        return render_value(self.renderer, value, self.variables)

    async def _do(self, a: m.ActionBase, path: str, entry: dict[str, Any], top_index: int | None) -> None:
        if isinstance(a, m.CallAction):
            await self._call(a, entry)
        elif isinstance(a, m.DelayAction):
            span = duration_us(a.delay, self.renderer, self.variables)
            until = self.now() + span
            entry["delay_s"] = span / 1_000_000
            if top_index is not None:
                await self.host.effects.waiting(self, top_index, until)
                self.durable_wait = True
            await self.host.suspend(self.host.clock.future_at(until))
            self.durable_wait = False  # left set when cancelled, so a stopping daemon leaves the run resumable
        elif isinstance(a, m.WaitTemplateAction):
            await self._wait_template(a, entry)
        elif isinstance(a, m.WaitForTriggerAction):
            await self._wait_trigger(a, entry)
        elif isinstance(a, m.ChooseAction):
            for i, (conds, seq) in enumerate(a.choose):
                if check_all(conds, self, f"{path}/choose/{i}/conditions"):
                    entry["chosen"] = i
                    await self.sequence(seq, f"{path}/choose/{i}/sequence")
                    return
            entry["chosen"] = "default"
            if a.default:
                await self.sequence(a.default, f"{path}/default")
        elif isinstance(a, m.IfAction):
            ok = check_all(a.if_, self, f"{path}/if")
            entry["if"] = ok
            if ok:
                await self.sequence(a.then, f"{path}/then")
            elif a.else_:
                await self.sequence(a.else_, f"{path}/else")
        elif isinstance(a, m.RepeatAction):
            await self._repeat(a, path, entry)
        elif isinstance(a, m.VariablesAction):
            for key, value in a.variables.items():
                self.variables[key] = self.render(value)
        elif isinstance(a, m.EventAction):
            data = self.render(a.event_data)
            entry["event"] = a.event
            await self.host.effects.fire(self, a.event, jsonable(data))
        elif isinstance(a, m.StopAction):
            raise StopRun(a.stop, a.error)
        elif isinstance(a, m.ParallelAction):
            await self._parallel(a, path)
        elif isinstance(a, m.SequenceAction):
            await self.sequence(a.sequence, f"{path}/sequence")
        elif isinstance(a, m.ConditionAction):
            if not check(a.condition, self, f"{path}/condition"):
                entry["result"] = "condition false"
                raise StopRun("")
        else:
            raise RunError(f"unsupported action {type(a).__name__}")

    async def _call(self, a: m.CallAction, entry: dict[str, Any]) -> None:
        data = self.render(a.data)
        target = self.render(a.target)
        if a.entity_id is not None and "entity_id" not in target:
            target["entity_id"] = self.render(a.entity_id)
        if not isinstance(data, dict):
            raise RunError(f"{a.action}: data must be a mapping")
        name = str(self.render(a.action))
        if "." not in name:
            raise RunError(f"action {a.action!r} rendered {name!r}, not domain.service")
        requests = self.host.plan_command(name, target, data)
        entry["commands"] = []
        for command, targets, payload in requests:
            record = {"command": command, "target": targets, "data": jsonable(payload)}
            self.commands.append(record)
            entry["commands"].append(record)
            outcome = await self.host.effects.command(self, command, targets, payload)
            record.update(outcome)
            if outcome.get("outcome") == "failed":
                raise RunError(f"{name} on {', '.join(targets)} failed: {outcome.get('reason')}")
            if a.response_variable:
                self.variables[a.response_variable] = outcome.get("result") or {}

    async def _timeout(self, value: Any) -> int | None:
        return None if value is None else duration_us(value, self.renderer, self.variables)

    async def _wait_until(self, future: asyncio.Future[Any], timeout: Any) -> bool:
        span = await self._timeout(timeout)
        waiter: Awaitable[Any] = future
        if span is not None:
            timer = self.host.clock.call_at(self.now() + span, lambda: future.done() or future.set_result(None))
            try:
                await self.host.suspend(waiter)
            finally:
                timer.cancel()
        else:
            await self.host.suspend(waiter)
        return future.result() is not None

    async def _wait_template(self, a: m.WaitTemplateAction, entry: dict[str, Any]) -> None:
        template = cached(a.wait_template)
        started = self.now()
        if self.renderer.truthy(template, self.variables):
            self.variables["wait"] = {"completed": True, "remaining": None}
            return
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def on_state(_: Any) -> None:
            try:
                if not future.done() and self.renderer.truthy(template, self.variables):
                    future.set_result(True)
            except TemplateError as exc:
                if not future.done():
                    future.set_exception(RunError(f"wait_template: {exc}"))

        refs = referenced_entities(a.wait_template)
        keys = [("state", e) for e in refs] if refs else [ANY_STATE]
        remove = self.host.listen(keys, on_state)
        try:
            completed = await self._wait_until(future, a.timeout)
        finally:
            remove()
        await self._after_wait(a, entry, completed, started, None)

    async def _wait_trigger(self, a: m.WaitForTriggerAction, entry: dict[str, Any]) -> None:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        started = self.now()

        def fire(variables: dict[str, Any]) -> None:
            if not future.done():
                future.set_result(variables)

        remove = self.host.arm_temporary(a.wait_for_trigger, fire)
        try:
            completed = await self._wait_until(future, a.timeout)
        finally:
            remove()
        await self._after_wait(a, entry, completed, started, future.result() if completed else None)

    async def _after_wait(self, a: Any, entry: dict[str, Any], completed: bool, started: int,
                          trigger: Any) -> None:
        span = await self._timeout(a.timeout)
        remaining = None if span is None else max(0, span - (self.now() - started)) / 1_000_000
        self.variables["wait"] = {"completed": completed, "remaining": remaining, "trigger": trigger}
        entry["completed"] = completed
        if not completed and not a.continue_on_timeout:
            raise StopRun("timed out waiting", error=False)

    async def _repeat(self, a: m.RepeatAction, path: str, entry: dict[str, Any]) -> None:
        spec = a.repeat
        seq: list[m.ActionBase] = spec["sequence"]
        outer = self.variables.get("repeat")
        items: list[Any] | None = None
        if "count" in spec:
            count = self.render(spec["count"])
            try:
                items = list(range(int(count)))
            except (TypeError, ValueError):
                raise RunError(f"repeat count {count!r} is not a number") from None
        elif "for_each" in spec:
            rendered = self.render(spec["for_each"])
            items = rendered if isinstance(rendered, list) else [rendered]
        index = 0
        try:
            while True:
                if index >= MAX_REPEAT:
                    raise RunError(f"repeat stopped after {MAX_REPEAT} iterations")
                if items is not None and index >= len(items):
                    break
                rep: dict[str, Any] = {"index": index + 1, "first": index == 0}
                if items is not None:
                    rep["last"] = index == len(items) - 1
                    if "for_each" in spec:
                        rep["item"] = items[index]
                self.variables["repeat"] = rep
                if "while" in spec and not check_all(spec["while"], self, f"{path}/repeat/while/{index}"):
                    break
                await self.sequence(seq, f"{path}/repeat/sequence/{index}")
                index += 1
                if "until" in spec and check_all(spec["until"], self, f"{path}/repeat/until/{index}"):
                    break
        finally:
            if outer is None:
                self.variables.pop("repeat", None)
            else:
                self.variables["repeat"] = outer
        entry["iterations"] = index

    async def _parallel(self, a: m.ParallelAction, path: str) -> None:
        tasks = [self.host.spawn(self.sequence(seq, f"{path}/parallel/{i}")) for i, seq in enumerate(a.parallel)]
        try:
            results = await self.host.suspend(asyncio.gather(*tasks, return_exceptions=True))
        except asyncio.CancelledError:
            for task in tasks:
                task.cancel()
            raise
        for result in results:
            if isinstance(result, (StopRun, RunError)):
                raise result
            if isinstance(result, BaseException):
                raise RunError(f"parallel branch failed: {result!r}")


Suspend = Callable[[Awaitable[Any]], Awaitable[Any]]
