"""Time helpers: the log stores UTC microseconds; users write ISO 8601 or durations."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone, tzinfo

from hub.errors import UserError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(us|ms|s|m|h|d|w)\s*$")
_UNITS = {"us": 1, "ms": 1_000, "s": 1_000_000, "m": 60_000_000, "h": 3_600_000_000,
          "d": 86_400_000_000, "w": 604_800_000_000}
_ISO_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)
_HMS = re.compile(r"^(\d+):(\d{1,2})(?::(\d{1,2}(?:\.\d+)?))?$")


def now_us() -> int:
    """Current UTC time in microseconds since the epoch."""
    return time.time_ns() // 1000


def to_datetime(us: int, tz: tzinfo | None = None) -> datetime:
    """Microseconds since the epoch as an aware datetime (UTC unless tz is given)."""
    dt = datetime.fromtimestamp(us / 1_000_000, tz=timezone.utc)
    return dt.astimezone(tz) if tz is not None else dt


def to_iso(us: int | None, tz: tzinfo | None = None) -> str | None:
    """Microseconds as ISO 8601 with time zone, or None."""
    global _utc_second_prefix
    if us is None:
        return None
    if tz is not None:
        return to_datetime(us, tz).isoformat()
    # In UTC, as datetime.isoformat() writes it; the date and time of the second are made once per
    # second (every state change carries one or two of these: 2 us each through datetime).
    second, micro = divmod(us, 1_000_000)
    cached, prefix = _utc_second_prefix  # one tuple: a second and its text are never mismatched
    if second != cached:
        prefix = to_datetime(second * 1_000_000).isoformat()[:-6]
        _utc_second_prefix = (second, prefix)
    return f"{prefix}.{micro:06d}+00:00" if micro else f"{prefix}+00:00"


_utc_second_prefix = (0, "1970-01-01T00:00:00")


def from_datetime(dt: datetime) -> int:
    """An aware datetime (naive means UTC) as microseconds since the epoch."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    delta = dt - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def parse_duration_us(text: str | int | float | timedelta) -> int:
    """A duration (`30s`, `24h`, `7d`, `PT6H`, `00:02:00`, seconds as a number) in microseconds."""
    if isinstance(text, timedelta):
        return int(text.total_seconds() * 1_000_000)
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return int(text * 1_000_000)
    if not isinstance(text, str):
        raise UserError(f"not a duration: {text!r}")
    s = text.strip()
    m = _DURATION.match(s)
    if m:
        return int(float(m.group(1)) * _UNITS[m.group(2)])
    m = _ISO_DURATION.match(s.upper())
    if m and any(m.groupdict().values()):
        parts = {k: float(v) for k, v in m.groupdict().items() if v}
        return int((parts.get("d", 0) * 86400 + parts.get("h", 0) * 3600 + parts.get("m", 0) * 60
                    + parts.get("s", 0)) * 1_000_000)
    m = _HMS.match(s)
    if m:
        h, mi, sec = int(m.group(1)), int(m.group(2)), float(m.group(3) or 0)
        return int((h * 3600 + mi * 60 + sec) * 1_000_000)
    try:
        return int(float(s) * 1_000_000)
    except ValueError:
        raise UserError(f"not a duration: {text!r} (use 30s, 15m, 24h, 7d, PT6H or HH:MM:SS)") from None


def parse_time_us(text: str | int | datetime, *, now: int | None = None) -> int:
    """A point in time: ISO 8601 (naive means UTC), `now`, or a duration back from now (`24h`)."""
    if isinstance(text, datetime):
        return from_datetime(text)
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    s = str(text).strip()
    ref = now_us() if now is None else now
    if s.lower() == "now":
        return ref
    if _DURATION.match(s) or (s.upper().startswith("P") and _ISO_DURATION.match(s.upper())):
        return ref - parse_duration_us(s)
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise UserError(
            f"not a time: {text!r} (use ISO 8601 like 2026-11-20T18:00:00+01:00, or a duration back from now like 24h)"
        ) from None
    return from_datetime(dt)


def format_duration(us: int) -> str:
    """A short human duration: `2h 5m`, `45s`, `120ms`."""
    if us < 1_000_000:
        return f"{us / 1000:.0f}ms"
    secs = us // 1_000_000
    d, rem = divmod(secs, 86400)
    h, rem = divmod(rem, 3600)
    m, s = divmod(rem, 60)
    parts = [f"{v}{u}" for v, u in ((d, "d"), (h, "h"), (m, "m"), (s, "s")) if v]
    return " ".join(parts[:2]) or "0s"
