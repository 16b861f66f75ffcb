"""ISO 8601 times as the log stores them in state changes."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from hub.times import to_iso

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def test_to_iso_in_utc_is_datetimes_isoformat() -> None:
    now = 1_700_000_000_000_000
    values = [0, 1, 999_999, 1_000_000, -1, -1_000_000, -1_500_000, now, now + 1, now - 1, now + 999_999,
              now + 1_000_000, now, 253_402_300_799_999_999]  # back to a second already passed, and year 9999
    values += [random.randrange(-10**16, 4 * 10**15) for _ in range(2000)]
    for us in values:
        assert to_iso(us) == (EPOCH + timedelta(microseconds=us)).isoformat(), us


def test_to_iso_in_another_zone_keeps_the_offset() -> None:
    zone = timezone(timedelta(hours=2))
    assert to_iso(1_000_000, zone) == "1970-01-01T02:00:01+02:00"
    assert to_iso(None) is None
