"""Cron expressions in a time zone, correct across daylight-saving changes.

croniter walks local wall-clock times (naive); each is then placed in the zone.
A wall time skipped by a spring-forward change fires at the same offset after
the jump (02:30 becomes 03:30); a wall time repeated by a fall-back change
fires once, at its first occurrence.
"""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from croniter import CroniterBadCronError, CroniterBadDateError, croniter

from hub.times import from_datetime

YEARS_AHEAD = 5


class CronError(ValueError):
    """A cron expression is invalid or never fires."""


def _local(us: int, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(us / 1_000_000, tz=timezone.utc).astimezone(tz).replace(tzinfo=None)


def next_fire(expr: str, after: int, tz: ZoneInfo) -> int:
    """The first time (UTC µs) strictly after `after` that `expr` names in zone `tz`."""
    start = _local(after, tz)
    try:
        it = croniter(expr, start, max_years_between_matches=YEARS_AHEAD)
        for _ in range(1000):
            naive: datetime = it.get_next(datetime)
            when = from_datetime(naive.replace(tzinfo=tz, fold=0))
            if when > after:
                return when
    except (CroniterBadCronError, ValueError) as exc:
        if "failed to find next date" in str(exc):
            raise CronError(f"cron expression {expr!r} never fires") from None
        raise CronError(f"invalid cron expression {expr!r}: {exc}") from None
    except CroniterBadDateError:
        raise CronError(f"cron expression {expr!r} never fires") from None
    raise CronError(f"cron expression {expr!r} found no time after {start}")


def check(expr: str, tz: ZoneInfo, now: int | None = None) -> None:
    """Raise CronError unless `expr` is valid and fires within a few years."""
    if not isinstance(expr, str) or len(expr.split()) not in (5, 6):
        raise CronError(f"invalid cron expression {expr!r}: use five fields (minute hour day month weekday)")
    if not croniter.is_valid(expr):
        raise CronError(f"invalid cron expression {expr!r}")
    next_fire(expr, now if now is not None else from_datetime(datetime(2026, 1, 1, tzinfo=timezone.utc)), tz)
