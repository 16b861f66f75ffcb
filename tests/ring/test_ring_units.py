"""Pure parts, no sockets: configuration, event ids and times, device validation."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from ring_doorbell import RingEvent

from hub.errors import InputRejected
from hub.times import parse_time_us
from integrations.ring import RingConfig
from integrations.ring.activity import MAX_SKEW_US, from_active, from_history, from_push, parse_time
from integrations.ring.devices import slugify, validate_devices


def test_config_accepts_durations_and_resolves_the_token_path() -> None:
    cfg = RingConfig.model_validate({"type": "ring", "id": "ring", "token_file": "data/ring-token.json",
                                     "poll_interval": "60s", "health_interval": "15m"})
    assert cfg.poll_interval == 60 and cfg.health_interval == 900 and cfg.history_limit == 30
    assert cfg.token_path(Path("/etc/hub")) == Path("/etc/hub/data/ring-token.json")
    with pytest.raises(ValidationError, match="not a duration"):
        RingConfig.model_validate({"type": "ring", "id": "ring", "poll_interval": "soon"})
    with pytest.raises(ValidationError, match="Extra inputs"):
        RingConfig.model_validate({"type": "ring", "id": "ring", "password": "x"})


def test_the_same_ding_has_one_event_id_from_every_source() -> None:
    push = from_push(RingEvent(id=73, doorbot_id=1, device_name="d", device_kind="k", now=1736532821.0,
                               expires_in=180, kind="ding", state="ringing"))
    history = from_history({"id": 73, "kind": "ding", "created_at": "2025-01-10T18:13:41Z"}, 1)
    active = from_active({"id": 73, "doorbot_id": 1, "kind": "ding", "now": 1736532821.5})
    assert push.event_id == history.event_id == active.event_id == "event:73"


def test_unlock_ids_do_not_collide_across_restarts() -> None:
    first = from_push(RingEvent(id=1, doorbot_id=9, device_name="d", device_kind="k", now=1000.0,
                                expires_in=180, kind="intercom_unlock", state="unlock"))
    after_restart = from_push(RingEvent(id=1, doorbot_id=9, device_name="d", device_kind="k", now=5000.0,
                                        expires_in=180, kind="intercom_unlock", state="unlock"))
    assert first.event_id != after_restart.event_id


def test_timing_trusts_plausible_clocks_only() -> None:
    now = parse_time_us("2025-01-10T12:00:00Z")
    past = from_history({"id": 1, "kind": "motion", "created_at": "2025-01-09T12:00:00Z"}, 1)
    assert past.timing(now) == (parse_time_us("2025-01-09T12:00:00Z"), {})
    late_push = from_active({"id": 2, "doorbot_id": 1, "kind": "ding", "now": (now - 2 * MAX_SKEW_US) / 1e6})
    at, extra = late_push.timing(now)
    assert at == now and extra["clock_skew_s"] == -600.0
    slightly_ahead = from_active({"id": 3, "doorbot_id": 1, "kind": "ding", "now": (now + 5_000_000) / 1e6})
    assert slightly_ahead.timing(now)[0] == now + 5_000_000


@pytest.mark.parametrize("value, expected", [
    ("2025-01-10T18:03:40.000Z", "2025-01-10T18:03:40Z"), ("2025-01-10T18:03:40Z", "2025-01-10T18:03:40Z"),
    (1736532220, "2025-01-10T18:03:40Z"), (1736532220000, "2025-01-10T18:03:40Z"),
    ("not a time", None), (None, None), (True, None), (-5, None),
])
def test_parse_time(value: object, expected: str | None) -> None:
    assert parse_time(value) == (parse_time_us(expected) if expected else None)


@pytest.mark.parametrize("entry, reason", [
    ({"kind": "ding"}, "without an event id"),
    ({"id": 5, "kind": "visitor"}, "unknown kind 'visitor'"),
    ("ding", "is not an object"),
])
def test_bad_history_entries(entry: object, reason: str) -> None:
    with pytest.raises(InputRejected, match=reason):
        from_history(entry, 1)


def test_validate_devices_keeps_good_entries_and_names_the_rest() -> None:
    data, problems = validate_devices({
        "doorbots": [{"id": 1, "kind": "doorbell_v3", "description": "Front"}, {"id": "2"}, [], {"id": True}],
        "chimes": [{"id": 3}],
        "weird": "x",
    })
    assert list(data["doorbots"]) == [1]
    assert data["chimes"][3]["description"] == "Ring unknown 3" and data["chimes"][3]["kind"] == "unknown"
    assert [p.reason for p in problems] == ["device without an integer id ('2')", "a device must be a JSON object",
                                            "device without an integer id (True)", "a device family must be a list"]
    assert validate_devices([1, 2])[1][0].reason == "the device list must be a JSON object, not list"


def test_slugify() -> None:
    assert slugify("Front Door") == "front_door"
    assert slugify("Küche / Eingang!") == "k_che_eingang"
    assert slugify("***") == "device"
