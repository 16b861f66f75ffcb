"""Sunrise and sunset for sun triggers and conditions, in UTC microseconds (hub.sun does the astronomy)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from hub.sun import event_on_day
from hub.times import from_datetime


def _event_utc(day: date, lat: float, lon: float, rising: bool) -> int | None:
    """Sunrise or sunset of `day` (UTC date) in UTC microseconds, or None (polar day or night)."""
    when = event_on_day(datetime(day.year, day.month, day.day, tzinfo=timezone.utc), lat, lon, rising)
    return None if when is None else from_datetime(when)


def sun_event(kind: str, day: date, lat: float, lon: float) -> int | None:
    """`sunrise` or `sunset` on a UTC date, in UTC microseconds."""
    return _event_utc(day, lat, lon, kind == "sunrise")


def next_sun_event(kind: str, after: int, lat: float, lon: float, offset_us: int = 0) -> int | None:
    """The first `kind` (+ offset) strictly after `after`, searching up to a year ahead."""
    day = datetime.fromtimestamp(after / 1_000_000, tz=timezone.utc).date() - timedelta(days=1)
    for i in range(370):
        t = sun_event(kind, day + timedelta(days=i), lat, lon)
        if t is not None and t + offset_us > after:
            return t + offset_us
    return None


def last_sun_event(kind: str, at: int, lat: float, lon: float) -> int | None:
    """The most recent `kind` at or before `at` (within a year)."""
    day = datetime.fromtimestamp(at / 1_000_000, tz=timezone.utc).date() + timedelta(days=1)
    for i in range(370):
        t = sun_event(kind, day - timedelta(days=i), lat, lon)
        if t is not None and t <= at:
            return t
    return None


def is_up(at: int, lat: float, lon: float) -> bool:
    """True when the sun is above the horizon at `at` (the last event was a sunrise)."""
    rise, sset = last_sun_event("sunrise", at, lat, lon), last_sun_event("sunset", at, lat, lon)
    if rise is None and sset is None:
        day = datetime.fromtimestamp(at / 1_000_000, tz=timezone.utc).date()
        return abs(lat) < 90 and (day.month in (4, 5, 6, 7, 8, 9)) == (lat > 0)
    return (rise or 0) > (sset or 0)
