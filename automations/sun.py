"""Sunrise and sunset (NOAA's solar calculator equations), for sun triggers and conditions."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone

from hub.times import from_datetime

_DAY_US = 86_400_000_000


def _event_utc(day: date, lat: float, lon: float, rising: bool, zenith: float = 90.833) -> int | None:
    """Sunrise or sunset of `day` (UTC date) in UTC microseconds, or None (polar day or night)."""
    jd = (datetime(day.year, day.month, day.day, 12, tzinfo=timezone.utc).timestamp() / 86400.0) + 2440587.5

    def solar(jd_: float) -> tuple[float, float]:
        t = (jd_ - 2451545.0) / 36525.0
        l0 = (280.46646 + t * (36000.76983 + 0.0003032 * t)) % 360
        m = 357.52911 + t * (35999.05029 - 0.0001537 * t)
        e = 0.016708634 - t * (0.000042037 + 0.0000001267 * t)
        mr = math.radians(m)
        c = (math.sin(mr) * (1.914602 - t * (0.004817 + 0.000014 * t)) + math.sin(2 * mr) * (0.019993 - 0.000101 * t)
             + math.sin(3 * mr) * 0.000289)
        true_long = l0 + c
        omega = 125.04 - 1934.136 * t
        app_long = true_long - 0.00569 - 0.00478 * math.sin(math.radians(omega))
        eps0 = 23 + (26 + (21.448 - t * (46.815 + t * (0.00059 - t * 0.001813))) / 60) / 60
        eps = eps0 + 0.00256 * math.cos(math.radians(omega))
        decl = math.degrees(math.asin(math.sin(math.radians(eps)) * math.sin(math.radians(app_long))))
        y = math.tan(math.radians(eps / 2)) ** 2
        l0r = math.radians(l0)
        eq_time = 4 * math.degrees(y * math.sin(2 * l0r) - 2 * e * math.sin(mr) + 4 * e * y * math.sin(mr)
                                   * math.cos(2 * l0r) - 0.5 * y * y * math.sin(4 * l0r)
                                   - 1.25 * e * e * math.sin(2 * mr))
        return decl, eq_time

    minutes = 720.0 - 4 * lon
    for _ in range(3):  # refine: the sun's position at the event, not at noon
        decl, eq_time = solar(jd - 0.5 + minutes / 1440.0)
        cos_h = (math.cos(math.radians(zenith)) / (math.cos(math.radians(lat)) * math.cos(math.radians(decl)))
                 - math.tan(math.radians(lat)) * math.tan(math.radians(decl)))
        if cos_h < -1 or cos_h > 1:
            return None
        ha = math.degrees(math.acos(cos_h))
        minutes = 720 - 4 * (lon + (ha if rising else -ha)) - eq_time
    start = from_datetime(datetime(day.year, day.month, day.day, tzinfo=timezone.utc))
    return start + int(minutes * 60_000_000)


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
