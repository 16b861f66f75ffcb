"""Retention: drop old prefixes of the log, per entity pattern, after they are folded into
the statistics; each entity's latest state and registration survive (like a compacted topic)."""

from __future__ import annotations

import asyncio
import fnmatch
import logging
from typing import Any

from hub import events as ev
from hub.config import Config
from hub.events import Event
from hub.log import EventLog
from hub.projections import HOUR
from hub.times import now_us, parse_duration_us, to_iso

log = logging.getLogger(__name__)


def cutoff_for(entity_id: str, rules: dict[str, str], default: str, now: int) -> int:
    """The oldest time kept for `entity_id`: the first matching rule, else the default; on an hour."""
    keep = parse_duration_us(default)
    for pattern, duration in rules.items():
        if fnmatch.fnmatchcase(entity_id, pattern):
            keep = parse_duration_us(duration)
            break
    cut = now - keep
    return cut - cut % HOUR


async def apply_retention(log_: EventLog, config: Config, *, now: int | None = None) -> dict[str, Any]:
    """Run retention once; appends retention_applied when anything was dropped."""
    now = now_us() if now is None else now
    ret = config.hub.retention
    await log_.sync_projections()  # what it keeps follows the stored projections
    entity_cutoffs = {eid: cutoff_for(eid, ret.rules, ret.default, now) for eid in await log_.backend.entity_ids()}
    default_cut = cutoff_for("", {}, ret.default, now)
    counts = await log_.backend.apply_retention(entity_cutoffs, default_cut)
    summary = {"dropped": counts, "default_cutoff": to_iso(default_cut), "rules": dict(ret.rules),
               "default": ret.default}
    if counts.get("events"):
        log.info("retention dropped %d events older than %s", counts["events"], to_iso(default_cut))
        await log_.append(Event(ev.RETENTION_APPLIED, "hub", None, summary))
    return summary


async def retention_loop(log_: EventLog, config: Config) -> None:
    """Apply retention at start and then every `hub.retention.interval`."""
    interval = parse_duration_us(config.hub.retention.interval) / 1_000_000
    while True:
        try:
            await apply_retention(log_, config)
        except Exception as exc:  # retention must never take the daemon down; it retries next time
            log.error("retention failed: %s", exc)
            log_.metrics.error("retention", str(exc))
        await asyncio.sleep(interval)
