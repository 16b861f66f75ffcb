"""The pydantic models of the MCP tools' answers (their output schemas)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Page(BaseModel):
    """Fields every bounded answer has."""

    omitted: int = Field(0, description="How many matching items this answer left out (at least; -1 if unknown).")
    cursor: str | None = Field(None, description="Pass back as `cursor` (with the same filters) to continue.")
    note: str | None = Field(None, description="What was bounded or chosen, in words.")


class EntityRow(BaseModel):
    entity_id: str
    name: str | None = None
    state: str | None = None
    unit: str | None = None
    area: str | None = None
    integration: str | None = None
    device_class: str | None = None
    last_changed: str | None = None


class EntityList(Page):
    entities: list[EntityRow]
    total: int = Field(description="How many entities matched the filters.")


class EntityState(BaseModel):
    entity_id: str
    state: str | None
    attributes: dict[str, Any] = Field(default_factory=dict)
    last_changed: str | None = None
    last_updated: str | None = None
    name: str | None = None
    area: str | None = None
    integration: str | None = None
    device: dict[str, Any] | None = None


class StateList(Page):
    states: list[EntityState]


class HistoryRow(BaseModel):
    time: str
    state: str
    attributes: dict[str, Any] | None = None


class Bucket(BaseModel):
    start: str
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    last: float | None = None
    count: int | None = None
    time_in_state: dict[str, float] | None = Field(None, description="Seconds spent in each state.")


class History(Page):
    entity_id: str
    since: str
    until: str
    resolution: str = Field(description="raw, 5m, hour or day")
    numeric: bool
    unit: str | None = None
    changes: list[HistoryRow] = Field(default_factory=list)
    buckets: list[Bucket] = Field(default_factory=list)


class EventRow(BaseModel):
    seq: int
    time: str
    type: str
    source: str
    entity_id: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    causation: int | None = None
    correlation: str | None = None
    summary: str | None = None


class EventList(Page):
    events: list[EventRow]


class Explanation(Page):
    seq: int
    chain: list[EventRow] = Field(description="From the first cause to the event asked about.")
    caused: list[EventRow] = Field(default_factory=list, description="What the event caused in turn.")
    text: str = Field(description="The chain as short readable lines.")


class AutomationRun(BaseModel):
    seq: int
    time: str
    trigger: str | None = None
    result: str | None = None
    finished: str | None = None
    trace: Any = None


class Automation(BaseModel):
    id: str
    alias: str | None = None
    configured: bool
    last_run: str | None = None
    runs: list[AutomationRun] = Field(default_factory=list)


class AutomationList(Page):
    automations: list[Automation]


class CommandAnswer(BaseModel):
    status: str = Field(description="succeeded, failed, pending (no answer yet), needs_confirmation or refused")
    entity_id: str
    command: str
    message: str
    plan: str | None = None
    current_state: str | None = None
    confirm_token: str | None = None
    expires: str | None = None
    request_seq: int | None = None
    outcome_seq: int | None = None
    result: dict[str, Any] | None = None


class IntegrationHealth(BaseModel):
    id: str
    type: str | None = None
    status: str
    reason: str | None = None
    since: str | None = None
    entities: int = 0
    unavailable: int = 0


class HubStatus(Page):
    name: str
    last_seq: int
    log_bytes: int
    events_last_hour: int
    events_last_day: int
    integrations: list[IntegrationHealth]
    last_errors: list[EventRow]
    daemon: bool = Field(description="True when answered from inside the running daemon.")


class Topic(BaseModel):
    topic: str
    messages: int
    per_minute: float | None = None
    last_seen: str | None = None
    last_payload: str | None = None
    payload_schema: Any = Field(None, description="The payload's inferred JSON shape (key -> type).")


class TopicList(Page):
    topics: list[Topic]
    source: str = Field(description="`integration` (live counters) or `log` (recorded mqtt_message events)")


class NetworkClient(BaseModel):
    entity_id: str
    name: str | None = None
    presence: str | None = None
    integration: str | None = None
    ip: str | None = None
    mac: str | None = None
    hostname: str | None = None
    connection: str | None = None
    last_changed: str | None = None


class NetworkList(Page):
    clients: list[NetworkClient]
    home: int
    away: int


class SecurityDevice(BaseModel):
    entity_id: str
    kind: str
    name: str | None = None
    state: str | None = None
    battery: str | None = None
    last_changed: str | None = None


class SecurityOverview(Page):
    devices: list[SecurityDevice]
    recent: list[EventRow] = Field(description="Dings, motion and other device events, most recent first.")
    attention: list[str] = Field(description="What looks wrong: unlocked, open, smoke, low battery, unavailable.")
