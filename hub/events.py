"""Events: the rows of the log, their stable type names, ids and validation."""

from __future__ import annotations

import json
import os
import random
import re
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from hub.errors import InputRejected
from hub.times import now_us, to_iso

# Stable type names (stored in the log: never rename).
STATE_CHANGED = "state_changed"
DEVICE_EVENT = "device_event"
MQTT_MESSAGE = "mqtt_message"
COMMAND_REQUESTED = "command_requested"
COMMAND_SUCCEEDED = "command_succeeded"
COMMAND_FAILED = "command_failed"
AUTOMATION_TRIGGERED = "automation_triggered"
AUTOMATION_FINISHED = "automation_finished"
SCHEDULE_FIRED = "schedule_fired"
INTEGRATION_STATUS = "integration_status"
INPUT_REJECTED = "input_rejected"
HUB_STARTED = "hub_started"
HUB_STOPPED = "hub_stopped"
ENTITY_REGISTERED = "entity_registered"
ENTITY_REMOVED = "entity_removed"
RETENTION_APPLIED = "retention_applied"

# \Z, not $: `$` also matches before a final newline, and "light.porch\n" is no entity id.
ENTITY_ID = re.compile(r"^[a-z0-9_]+\.[a-z0-9_]+\Z")
EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*\Z")
# As a causation inside one append_many call: "the event just before this one in the call",
# resolved to its seq when the log assigns seqs (a trigger and its first command in one commit).
PREVIOUS = -1
EXCERPT_LIMIT = 1024
MAX_DATA_BYTES = 1024 * 1024

_last_ms = 0
_counter = 0
_ms_hex = ""
_random = random.Random(os.urandom(16))
# The log's JSON: orjson on the hot paths (about ten times the standard library's speed on
# events), the standard library for what orjson refuses (integers beyond 64 bits, say).
_stdlib_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS


def encode_json(value: Any) -> str:
    """Compact JSON text, UTF-8 characters kept as they are."""
    try:
        return orjson.dumps(value).decode()  # without options: a third faster than with them
    except (TypeError, orjson.JSONEncodeError):
        pass
    try:
        return orjson.dumps(value, option=_ORJSON_OPTIONS).decode()  # keys that are not strings
    except (TypeError, orjson.JSONEncodeError):
        return _stdlib_encode(value)


def decode_json(text: str | bytes) -> Any:
    """Parse JSON text from the log."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)  # what orjson refuses and Python accepts (NaN, huge integers)


def new_id() -> str:
    """A fresh event id: 26 hex-ish chars, time-ordered (UUIDv7-like) so the id index appends."""
    global _last_ms, _counter, _ms_hex
    ms = time.time_ns() // 1_000_000
    if ms == _last_ms:
        _counter += 1
    else:
        _last_ms, _counter, _ms_hex = ms, _random.getrandbits(14), f"{ms:012x}"
    # The counter's 6 hex digits (or more) then 8 random ones, in one formatting (a hot path).
    return f"{_ms_hex}{_counter << 32 | _random.getrandbits(32):014x}"


# Event types and entity ids found valid: they repeat, and a set lookup is cheaper than a
# regular expression per event.
_VALID_TYPES: set[str] = set()
_VALID_ENTITY_IDS: set[str] = set()
VALID_REMEMBERED = 100_000  # per set, at most (then it starts again)


def _remember(valid: set[str], value: str) -> None:
    if len(valid) >= VALID_REMEMBERED:
        valid.clear()
    valid.add(value)


def is_entity_id(value: object) -> bool:
    """True for a valid `domain.object_id`."""
    if not isinstance(value, str):
        return False
    if value in _VALID_ENTITY_IDS:  # checked before (a hot path: every state report)
        return True
    if len(value) <= 255 and ENTITY_ID.match(value) is not None:
        _remember(_VALID_ENTITY_IDS, value)
        return True
    return False


def excerpt(payload: bytes | str | object, limit: int = EXCERPT_LIMIT) -> str:
    """A bounded, printable excerpt of a payload for input_rejected."""
    if isinstance(payload, bytes):
        text = payload[:limit].decode("utf-8", errors="backslashreplace")
    elif isinstance(payload, str):
        text = payload
    else:
        try:
            text = json.dumps(payload, default=repr)
        except (TypeError, ValueError):
            text = repr(payload)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(slots=True)
class Event:
    """One row of the log. `seq` is None until the log has stored it."""

    type: str
    source: str
    entity_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=new_id)
    time: int = field(default_factory=now_us)
    causation: int | None = None
    correlation: str | None = None
    seq: int | None = None
    payload: str | None = field(default=None, repr=False, compare=False)  # data as JSON, once encoded

    def data_json(self) -> str:
        """The data as JSON text, encoded once (append_many encodes it, where what cannot be is refused)."""
        if self.payload is None:
            self.payload = encode_json(self.data)
        return self.payload

    def validate(self) -> None:
        """Raise InputRejected unless the event has the row shape of SPEC.md."""
        etype, source, entity_id = self.type, self.source, self.entity_id
        # isinstance first: a set cannot look up a list.
        if not (isinstance(etype, str) and etype in _VALID_TYPES):
            if not isinstance(etype, str) or not EVENT_TYPE.match(etype) or len(etype) > 64:
                raise InputRejected(f"event type {etype!r} is not snake_case")
            _remember(_VALID_TYPES, etype)
        if not isinstance(source, str) or not source or len(source) > 128:
            raise InputRejected(f"event source {source!r} is empty or too long")
        if entity_id is not None and not is_entity_id(entity_id):
            raise InputRejected(f"entity_id {entity_id!r} is not domain.object_id in [a-z0-9_]")
        if not isinstance(self.data, dict):
            raise InputRejected(f"event data must be a JSON object, not {type(self.data).__name__}")
        if not isinstance(self.id, str) or not self.id or len(self.id) > 128:
            raise InputRejected("event id must be a non-empty string of at most 128 characters")
        if not isinstance(self.time, int) or isinstance(self.time, bool):
            raise InputRejected("event time must be integer microseconds")
        if self.causation is not None and not isinstance(self.causation, int):
            raise InputRejected("causation must be a seq (integer)")
        if self.correlation is not None and not isinstance(self.correlation, str):
            raise InputRejected("correlation must be a string")

    def to_dict(self, tz: Any = None) -> dict[str, Any]:
        """The event as JSON-ready data, times in ISO 8601."""
        return {
            "seq": self.seq,
            "id": self.id,
            "time": to_iso(self.time, tz),
            "type": self.type,
            "source": self.source,
            "entity_id": self.entity_id,
            "data": self.data,
            "causation": self.causation,
            "correlation": self.correlation,
        }
