"""Dings, motion and intercom unlocks from the three places Ring reports them (push, active
dings, history), as one shape with one event id, so each is stored once whatever its path."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ring_doorbell import RingEvent

from hub.errors import InputRejected
from hub.times import from_datetime, to_iso

KINDS = ("ding", "motion", "intercom_unlock")
# Ring's own alarm pushes (Ring Alarm reaches the hub through ring-mqtt instead).
IGNORED_KINDS = ("alarm_mode_none", "alarm_mode_some", "alarm_siren", "alarm_silenced", "on_demand",
                 "on_demand_link")
# A device or cloud clock further off than this is not trusted for the event's time.
MAX_SKEW_US = 300 * 1_000_000


@dataclass(slots=True)
class Activity:
    """One ding, motion or unlock, wherever it came from."""

    ring_id: str
    device_api_id: int
    kind: str
    via: str
    created_us: int | None = None
    subtype: str | None = None
    answered: bool | None = None
    recording_status: str | None = None
    created_raw: object = None

    @property
    def event_id(self) -> str:
        """The log id suffix: Ring's event id (an unlock's legacy id is a per-process counter)."""
        if self.kind == "intercom_unlock":
            stamp = self.created_us // 1_000_000 if self.created_us is not None else "na"
            return f"unlock:{self.device_api_id}:{self.ring_id}:{stamp}"
        return f"event:{self.ring_id}"

    def timing(self, now: int) -> tuple[int, dict[str, Any]]:
        """The event's time in the log and what to record about its clock.

        Ring's timestamp is used when it is plausible; a timestamp from the future (any
        source) or far from the arrival time of a live event is replaced by the arrival
        time, and the skew is recorded.
        """
        if self.created_us is None:
            extra: dict[str, Any] = {"time_source": "received"}
            if self.created_raw is not None:
                extra["ring_created_at"] = str(self.created_raw)[:64]
            return now, extra
        skew = self.created_us - now
        live = self.via in ("push", "active")
        if skew > MAX_SKEW_US or (live and -skew > MAX_SKEW_US):
            return now, {"time_source": "received", "ring_created_at": to_iso(self.created_us),
                         "clock_skew_s": round(skew / 1_000_000, 1)}
        return self.created_us, {}


def parse_time(value: object) -> int | None:
    """Ring's timestamps (ISO 8601 with Z, epoch seconds or milliseconds, datetime) in µs, or None."""
    if isinstance(value, datetime):
        return from_datetime(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value / 1000 if value > 1e11 else value
        return int(seconds * 1_000_000) if seconds > 0 else None
    if isinstance(value, str) and value:
        try:
            return from_datetime(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


def _ring_id(value: object, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or str(value).strip() == "":
        raise InputRejected(f"{what} without an event id ({value!r})")
    return str(value).strip()


def _kind(value: object, what: str) -> str:
    if not isinstance(value, str) or value not in KINDS:
        raise InputRejected(f"{what} of unknown kind {value!r} (known: {', '.join(KINDS)})")
    return value


def from_history(entry: object, device_api_id: int) -> Activity:
    """A history entry (`/clients_api/doorbots/{id}/history`); raises InputRejected if malformed."""
    if not isinstance(entry, dict):
        raise InputRejected(f"history entry of device {device_api_id} is not an object")
    what = f"history entry of device {device_api_id}"
    recording = entry.get("recording")
    return Activity(
        ring_id=_ring_id(entry.get("id"), what), device_api_id=device_api_id,
        kind=_kind(entry.get("kind"), what), via="history",
        created_us=parse_time(entry.get("created_at")), created_raw=entry.get("created_at"),
        answered=entry.get("answered") if isinstance(entry.get("answered"), bool) else None,
        recording_status=recording.get("status") if isinstance(recording, dict) else None,
    )


def from_push(event: RingEvent) -> Activity:
    """An event the listener handed over (already parsed by ring-doorbell)."""
    what = "push event"
    device = event.doorbot_id
    if not isinstance(device, int) or isinstance(device, bool):
        raise InputRejected(f"push event without a device id ({device!r})")
    return Activity(ring_id=_ring_id(event.id, what), device_api_id=device, kind=_kind(event.kind, what),
                    via="push", created_us=parse_time(event.now), created_raw=event.now,
                    subtype=event.state if isinstance(event.state, str) else None)


def from_active(entry: object) -> Activity:
    """An active ding (`/clients_api/dings/active`), polled while push is unavailable."""
    if not isinstance(entry, dict):
        raise InputRejected("active ding is not an object")
    device = entry.get("doorbot_id")
    if not isinstance(device, int) or isinstance(device, bool):
        raise InputRejected(f"active ding without a device id ({device!r})")
    return Activity(ring_id=_ring_id(entry.get("id"), "active ding"), device_api_id=device,
                    kind=_kind(entry.get("kind"), "active ding"), via="active",
                    created_us=parse_time(entry.get("now")), created_raw=entry.get("now"),
                    subtype=entry.get("state") if isinstance(entry.get("state"), str) else None)


def safe_excerpt(entry: object) -> object:
    """An entry for input_rejected without Ring's session secrets (sip_token and the like)."""
    if isinstance(entry, dict):
        return {k: ("***" if "token" in str(k).lower() else v) for k, v in entry.items()}
    if isinstance(entry, RingEvent):
        return {"id": entry.id, "doorbot_id": entry.doorbot_id, "kind": entry.kind, "state": entry.state,
                "now": entry.now}
    return entry
