"""Commands through the log: request (append command_requested), route to the owner, record the outcome.

Any process that can append can request; the daemon's CommandRouter executes what
its integrations (and scripts and notifiers) own, and appends command_succeeded or
command_failed with the request as causation.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from hub import events as ev
from hub.errors import CommandError, HubError
from hub.events import Event, new_id
from hub.integration import Command
from hub.log import EventLog

log = logging.getLogger(__name__)

Handler = Callable[[Command], Awaitable[dict[str, Any] | None]]

# HA's service names, per domain, for validation and for `hub send` help.
DOMAIN_COMMANDS: dict[str, tuple[str, ...]] = {
    "light": ("turn_on", "turn_off", "toggle"),
    "switch": ("turn_on", "turn_off", "toggle"),
    "fan": ("turn_on", "turn_off", "toggle", "set_percentage"),
    "siren": ("turn_on", "turn_off", "toggle"),
    "lock": ("lock", "unlock", "open"),
    "cover": ("open_cover", "close_cover", "stop_cover", "set_cover_position"),
    "alarm_control_panel": ("alarm_arm_home", "alarm_arm_away", "alarm_arm_night", "alarm_disarm",
                            "alarm_arm_vacation", "alarm_trigger"),
    "button": ("press",),
    "number": ("set_value",),
    "select": ("select_option",),
    "climate": ("set_temperature", "set_hvac_mode", "turn_on", "turn_off"),
    "input_boolean": ("turn_on", "turn_off", "toggle"),
}


def normalise_command(command: str, entity_id: str | None) -> str:
    """`light.turn_on` on a light is `turn_on`; `unifi.block_client` stays as it is."""
    if "." not in command or not entity_id or not ev.is_entity_id(entity_id):
        return command  # an instance target (`hub send ring ring.siren_on`) keeps its full name
    prefix, verb = command.split(".", 1)
    if prefix == entity_id.split(".", 1)[0] or prefix in DOMAIN_COMMANDS:
        return verb
    return command


def request_event(command: str, target: list[str] | str, data: dict[str, Any] | None = None, *,
                  source: str, causation: int | None = None, correlation: str | None = None) -> Event:
    """A command_requested event (not yet appended)."""
    targets = [target] if isinstance(target, str) else list(target)
    if not targets:
        raise CommandError("a command needs at least one target")
    command = normalise_command(command, targets[0])
    entity = targets[0] if len(targets) == 1 and ev.is_entity_id(targets[0]) else None
    return Event(ev.COMMAND_REQUESTED, source, entity,
                 {"command": command, "target": targets, "data": dict(data or {})},
                 causation=causation, correlation=correlation or new_id())


async def send_command(log_: EventLog, command: str, target: list[str] | str, data: dict[str, Any] | None = None,
                       *, source: str, timeout: float = 10.0, causation: int | None = None,
                       correlation: str | None = None) -> tuple[Event, Event | None]:
    """Request a command and wait for its outcome; (request, outcome or None on timeout)."""
    request = request_event(command, target, data, source=source, causation=causation, correlation=correlation)
    sub = log_.follow(types=(ev.COMMAND_SUCCEEDED, ev.COMMAND_FAILED))
    try:
        request = await log_.append(request)
        outcome = await wait_outcome(sub, request, timeout)
    finally:
        sub.close()
    return request, outcome


async def wait_outcome(sub: Any, request: Event, timeout: float) -> Event | None:
    """The outcome of `request`, or None after `timeout` seconds. With several daemons on one
    log each reports the targets it owns; this waits until every target is reported and
    answers with a failure if any part failed."""
    wanted = set(request.data.get("target") or [])
    outcomes: list[Event] = []
    covered: set[str] = set()
    try:
        async with asyncio.timeout(timeout):
            async for event in sub:
                if event.causation != request.seq:
                    continue
                outcomes.append(event)
                covered |= set(event.data.get("target") or [])
                if covered >= wanted:
                    break
    except TimeoutError:
        if not outcomes:
            return None
    if len(outcomes) == 1:
        return outcomes[0]
    failed = [o for o in outcomes if o.type == ev.COMMAND_FAILED]
    if not failed:
        return outcomes[-1]
    merged = failed[0]
    merged.data = {**merged.data, "reason": "; ".join(str(o.data.get("reason")) for o in failed)}
    missing = wanted - covered
    if missing:
        merged.data["reason"] += f"; no daemon answered for {', '.join(sorted(missing))}"
    return merged


@dataclass
class Owner:
    """Something that executes commands for the targets it claims."""

    name: str
    owns: Callable[[str], bool]
    handle: Handler


class CommandRouter:
    """Follows command_requested in the daemon and runs each on the owner of its targets."""

    def __init__(self, log_: EventLog, *, timeout: float = 10.0) -> None:
        self.log = log_
        self.timeout = timeout
        self.owners: list[Owner] = []
        self.in_flight = 0
        # With several daemons on one log, each executes only the targets it owns.
        self.shared = log_.backend.shared

    def add_owner(self, name: str, owns: Callable[[str], bool], handle: Handler) -> None:
        self.owners.append(Owner(name, owns, handle))

    def owner_of(self, target: str) -> Owner | None:
        for owner in self.owners:
            if owner.owns(target):
                return owner
        return None

    async def run(self, after: int | None = None) -> None:
        """Execute requests appended after `after` (default: now), until cancelled."""
        sub = self.log.follow(after, types=(ev.COMMAND_REQUESTED,))
        try:
            async with asyncio.TaskGroup() as tg:
                async for request in sub:
                    tg.create_task(self.execute(request))
        finally:
            sub.close()

    async def execute(self, request: Event) -> Event | None:
        """Run one request on its owners and append its outcome (None: another daemon's)."""
        started = time.perf_counter()
        data = request.data
        command = str(data.get("command", ""))
        targets = [str(t) for t in data.get("target") or []]
        if self.shared:
            targets = [t for t in targets if self.owner_of(t) is not None]
            if not targets:
                return None
        failures: list[str] = []
        results: dict[str, Any] = {}
        self.in_flight += 1
        try:
            for target in targets:
                owner = self.owner_of(target)
                if owner is None:
                    failures.append(f"{target}: no integration owns it (is it spelled right, and is its "
                                    "integration configured and running?)")
                    continue
                cmd = Command(command, target if ev.is_entity_id(target) else None,
                              dict(data.get("data") or {}), request.seq or 0, request.source,
                              request.correlation)
                try:
                    async with asyncio.timeout(self.timeout):
                        result = await owner.handle(cmd)
                    if result:
                        results[target] = result
                except TimeoutError:
                    failures.append(f"{target}: timed out after {self.timeout:g}s")
                except CommandError as exc:
                    failures.append(f"{target}: {exc}" if len(targets) > 1 else str(exc))
                except HubError as exc:
                    failures.append(f"{target}: {owner.name}: {exc}")
                except Exception as exc:  # an integration's bug must not stop the router
                    log.exception("%s failed on %s %s", owner.name, command, target)
                    failures.append(f"{target}: {owner.name} failed: {type(exc).__name__}: {exc}")
        finally:
            self.in_flight -= 1
        duration_ms = round((time.perf_counter() - started) * 1000, 3)
        payload: dict[str, Any] = {"command": command, "target": targets, "duration_ms": duration_ms}
        if failures:
            payload["reason"] = "; ".join(failures)
            outcome_type = ev.COMMAND_FAILED
        else:
            outcome_type = ev.COMMAND_SUCCEEDED
            if results:
                payload["result"] = results
        self.log.metrics.commands["failed" if failures else "succeeded"] += 1
        outcome = Event(outcome_type, "hub", request.entity_id, payload, causation=request.seq,
                        correlation=request.correlation)
        return await self.log.append(outcome)
