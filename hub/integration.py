"""The one integration interface, and the context through which integrations reach the log.

An integration pushes facts (states, device events, raw messages, rejected input,
its own status) through its IntegrationContext, handles commands routed to the
entities it owns, and stops when its `run()` task is cancelled. It takes its
clients and transports in its constructor, so tests hand it real servers on
loopback or an httpx.MockTransport.
"""

from __future__ import annotations

import asyncio
import contextvars
import fnmatch
import logging
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from hub import events as ev
from hub.errors import InputRejected
from hub.events import Event, excerpt
from hub.states import State, state_string

if TYPE_CHECKING:
    from hub.log import EventLog

log = logging.getLogger(__name__)

# Seconds after a command during which a state change of its target counts as its effect.
EFFECT_WINDOW_US = 5_000_000


def _seconds(value: Any) -> float:
    from hub.errors import UserError
    from hub.times import parse_duration_us

    try:
        return parse_duration_us(value) / 1_000_000
    except UserError as exc:
        raise ValueError(str(exc)) from None


# A positive duration in a config (`30s`, `5m`, `PT1M`, `00:00:30`, or seconds), held as seconds.
Seconds = Annotated[float, BeforeValidator(_seconds), Field(gt=0)]


class IntegrationConfig(BaseModel):
    """Fields every integration entry has; each integration subclasses it with its own."""

    model_config = ConfigDict(extra="forbid")
    type: str
    id: str


@dataclass(slots=True)
class DeviceInfo:
    """A physical device that one or more entities belong to."""

    id: str
    name: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    sw_version: str | None = None
    hw_version: str | None = None
    area: str | None = None
    via_device: str | None = None
    connections: list[list[str]] = field(default_factory=list)


@dataclass(slots=True)
class EntityInfo:
    """What the registry knows of an entity besides its state."""

    entity_id: str
    name: str | None = None
    area: str | None = None
    device: DeviceInfo | None = None
    unit: str | None = None
    device_class: str | None = None
    icon: str | None = None
    # Commands the entity accepts beyond its domain's defaults, and anything else
    # an integration wants clients to see (supported features, min/max, options).
    capabilities: dict[str, Any] = field(default_factory=dict)

    def as_data(self) -> dict[str, Any]:
        data = asdict(self)
        return {k: v for k, v in data.items() if v not in (None, {}, [])}


@dataclass(slots=True)
class Command:
    """A command routed to an integration: one target entity (or None for the instance)."""

    command: str
    entity_id: str | None
    data: dict[str, Any]
    seq: int
    source: str
    correlation: str | None = None


# The command being handled in this task, so that the facts it causes carry it as causation.
_current_command: contextvars.ContextVar[Command | None] = contextvars.ContextVar(
    "current_command", default=None
)


class Integration(ABC):
    """One integration instance. Subclasses set `type` and `config_model`."""

    type: ClassVar[str]
    config_model: ClassVar[type[IntegrationConfig]] = IntegrationConfig

    def __init__(self, config: IntegrationConfig, ctx: IntegrationContext) -> None:
        self.config = config
        self.ctx = ctx

    @property
    def id(self) -> str:
        return self.config.id

    @abstractmethod
    async def run(self) -> None:
        """Connect and push facts until cancelled; raise IntegrationError to be restarted."""

    async def handle_command(self, command: Command) -> dict[str, Any] | None:
        """Carry out a command on an owned entity; raise CommandError with the reason."""
        from hub.errors import CommandError

        raise CommandError(f"{self.type} does not accept commands ({command.command})")


class IntegrationContext:
    """What an integration instance may do with the hub: push facts and read state."""

    def __init__(self, log_: EventLog, instance_id: str, *, data_dir: Path | None = None,
                 hub_config: Any = None) -> None:
        self.log = log_
        self.instance_id = instance_id
        self.data_dir = data_dir or Path(".")
        self.hub_config = hub_config
        self.owned: set[str] = set()
        self._registered: dict[str, dict[str, Any]] = {}
        self._last_status: tuple[str, str] | None = None
        self._recent_commands: dict[str, tuple[int, int, str | None]] = {}
        self.rejected = 0

    # --- facts -------------------------------------------------------------

    async def set_state(self, entity_id: str, state: object, attributes: dict[str, Any] | None = None,
                        *, time: int | None = None, causation: int | None = None,
                        force_update: bool = False) -> Event | None:
        """Report an entity's state; appends state_changed only when state or attributes differ."""
        self.owned.add(entity_id)
        correlation = None
        if causation is None:
            causation, correlation = self._cause_for(entity_id)
        return await self.log.report_state(
            entity_id, state_string(state), attributes or {}, source=self.instance_id, time=time,
            causation=causation, correlation=correlation, force_update=force_update,
        )

    def set_state_soon(self, entity_id: str, state: object, attributes: dict[str, Any] | None = None,
                       *, force_update: bool = False) -> asyncio.Future[Event | None] | None:
        """set_state queued at once, for hot paths: the future of its result, or None when the log's
        queue is full (await set_state then)."""
        self.owned.add(entity_id)
        causation, correlation = self._cause_for(entity_id)
        return self.log.submit_state(entity_id, state_string(state), attributes or {}, source=self.instance_id,
                                     causation=causation, correlation=correlation, force_update=force_update)

    async def register_entity(self, info: EntityInfo) -> None:
        """Create or update an entity in the registry (appended only when something changed)."""
        self.owned.add(info.entity_id)
        data = info.as_data()
        data["integration"] = self.instance_id
        if self._registered.get(info.entity_id) == data:
            return
        known = await self.log.registry_entry(info.entity_id)
        self._registered[info.entity_id] = data
        if known is not None and known.get("info") == data:
            return
        await self.log.append(Event(ev.ENTITY_REGISTERED, self.instance_id, info.entity_id, data))

    async def remove_entity(self, entity_id: str) -> None:
        """Remove an entity from the registry; its history stays in the log."""
        self.owned.discard(entity_id)
        self._registered.pop(entity_id, None)
        await self.log.append(Event(ev.ENTITY_REMOVED, self.instance_id, entity_id, {}))

    async def device_event(self, entity_id: str | None, event_type: str, data: dict[str, Any] | None = None,
                           *, event_id: str | None = None, time: int | None = None) -> Event:
        """Append a device_event (a ding, a button press); `event_id` makes it idempotent."""
        payload = {"event_type": event_type, **(data or {})}
        event = Event(ev.DEVICE_EVENT, self.instance_id, entity_id, payload)
        if event_id is not None:
            event.id = f"{self.instance_id}:{event_id}"
        if time is not None:
            event.time = time
        cause, corr = self._cause_for(entity_id) if entity_id else (None, None)
        event.causation, event.correlation = cause, corr
        return await self.log.append(event)

    async def append(self, event: Event) -> Event:
        """Append any other fact (mqtt_message, ...); the source is this instance."""
        event.source = self.instance_id
        return await self.log.append(event)

    async def reject(self, origin: str, reason: str, payload: object = b"") -> None:
        """Record bad input as input_rejected with a bounded excerpt, and go on."""
        self.rejected += 1
        self.log.metrics.rejected(self.instance_id)
        log.debug("%s: rejected input from %s: %s", self.instance_id, origin, reason)
        await self.log.append(Event(ev.INPUT_REJECTED, self.instance_id, None, {
            "origin": origin, "reason": reason, "excerpt": excerpt(payload),
        }))

    async def status(self, status: str, reason: str = "") -> None:
        """Record integration_status, once per transition (connected, unavailable, auth_failed)."""
        if self._last_status == (status, reason) or (
            self._last_status is not None and self._last_status[0] == status and status == "connected"
        ):
            return
        self._last_status = (status, reason)
        if status == "connected":
            log.info("%s: connected%s", self.instance_id, f" ({reason})" if reason else "")
        else:
            log.warning("%s: %s: %s", self.instance_id, status, reason)
        await self.log.append(Event(ev.INTEGRATION_STATUS, self.instance_id, None,
                                    {"integration": self.instance_id, "status": status, "reason": reason}))

    @property
    def last_status(self) -> str | None:
        return self._last_status[0] if self._last_status else None

    # --- reads -------------------------------------------------------------

    def state(self, entity_id: str) -> State | None:
        """The current state of an entity, from the log's in-memory projection."""
        return self.log.current_state(entity_id)

    def states(self, pattern: str = "*") -> list[State]:
        return [s for s in self.log.current_states() if fnmatch.fnmatchcase(s.entity_id, pattern)]

    # --- causation ---------------------------------------------------------

    def command_started(self, command: Command) -> contextvars.Token[Command | None]:
        """Mark `command` as the cause of what this task reports until command_finished."""
        if command.entity_id:
            from hub.times import now_us

            self._recent_commands[command.entity_id] = (command.seq, now_us(), command.correlation)
        return _current_command.set(command)

    def command_finished(self, token: contextvars.Token[Command | None]) -> None:
        _current_command.reset(token)

    def _cause_for(self, entity_id: str) -> tuple[int | None, str | None]:
        current = _current_command.get()
        if current is not None:
            return current.seq, current.correlation
        recent = self._recent_commands.get(entity_id)
        if recent is not None:
            from hub.times import now_us

            if now_us() - recent[1] <= EFFECT_WINDOW_US:
                return recent[0], recent[2]
            del self._recent_commands[entity_id]
        return None, None

    def check_payload(self, data: object, what: str) -> dict[str, Any]:
        """Return `data` if it is a JSON object, else raise InputRejected naming `what`."""
        if not isinstance(data, dict):
            raise InputRejected(f"{what} must be a JSON object, not {type(data).__name__}")
        return data
