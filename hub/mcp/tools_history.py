"""Tool: get_history (raw changes, or buckets chosen to fit the answer)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastmcp import FastMCP
from pydantic import Field

from hub.errors import UserError
from hub.mcp.models import Bucket, History, HistoryRow
from hub.mcp.paging import fit
from hub.mcp.rows import answers_errors
from hub.mcp.tools_state import READ
from hub.mcp.view import HubView
from hub.projections import FIVE_MIN, HOUR
from hub.states import as_number
from hub.times import now_us, to_iso

DAY = 24 * HOUR
RAW_MAX = 31 * DAY          # raw rows beyond this are refused (buckets instead)
FIVE_MIN_MAX = 7 * DAY
BUCKET_TOKENS = 32          # a numeric bucket's size in an answer, about
ROW_TOKENS = 14
Resolution = Literal["auto", "raw", "5m", "hour", "day"]


def _day_start(us: int, tz: Any) -> int:
    local = datetime.fromtimestamp(us / 1_000_000, tz)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return int(midnight.timestamp() * 1_000_000)


def _next_day(us: int, tz: Any) -> int:
    local = datetime.fromtimestamp(us / 1_000_000, tz) + timedelta(days=1, hours=2)
    return _day_start(int(local.timestamp() * 1_000_000), tz)


def _bucket_of(us: int, resolution: str, tz: Any) -> int:
    if resolution == "day":
        return _day_start(us, tz)
    size = FIVE_MIN if resolution == "5m" else HOUR
    return us - us % size


def _bucket_end(bucket: int, resolution: str, tz: Any) -> int:
    if resolution == "day":
        return _next_day(bucket, tz)
    return bucket + (FIVE_MIN if resolution == "5m" else HOUR)


def _merge_numeric(rows: list[dict[str, Any]], resolution: str, tz: Any) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for r in rows:
        key = _bucket_of(r["bucket"], resolution, tz)
        acc = out.get(key)
        if acc is None:
            out[key] = {"min": r["min"], "max": r["max"], "sum": r["sum"], "count": r["count"], "last": r["last"]}
        else:
            acc["min"] = min(acc["min"], r["min"])
            acc["max"] = max(acc["max"], r["max"])
            acc["sum"] += r["sum"]
            acc["count"] += r["count"]
            acc["last"] = r["last"]
    return out


class _History:
    def __init__(self, hub: HubView) -> None:
        self.hub = hub

    async def numeric(self, entity_id: str) -> tuple[bool, str | None, Any]:
        states = await self.hub.states()
        registry = await self.hub.registry()
        st = states.get(entity_id)
        unit = ((registry.get(entity_id) or {}).get("info") or {}).get("unit")
        numeric = (st is not None and as_number(st.state) is not None) or unit is not None
        return numeric, unit, st

    async def raw(self, entity_id: str, start: int, end: int, first: bool, attributes: bool,
                  rows_budget: int) -> tuple[list[HistoryRow], int | None]:
        rows = await self.hub.log.backend.history(entity_id, start, end, rows_budget + 1,
                                                  include_start_state=first)
        if first and rows and rows[0].last_updated < start:
            rows[0].last_updated = start  # the state in force when the window opens
        items = [HistoryRow(time=to_iso(s.last_updated, self.hub.tz) or "", state=s.state,
                            attributes=s.attributes if attributes else None) for s in rows]
        kept, cut = fit(items, self.hub.budget - 300, limit=rows_budget + (1 if first else 0))
        resume = rows[len(kept)].last_updated if cut and len(kept) < len(rows) else None
        if resume is not None and resume <= rows[len(kept) - 1].last_updated:
            resume = rows[len(kept) - 1].last_updated + 1
        return kept, resume

    async def buckets(self, entity_id: str, numeric: bool, current: Any, resolution: str, start: int,
                      end: int, page: int) -> tuple[list[Bucket], int | None]:
        tz = self.hub.tz
        first = _bucket_of(start, resolution, tz)
        stop = first
        for _ in range(page):
            stop = _bucket_end(stop, resolution, tz)
            if stop >= end:
                break
        stop = min(stop, end)
        backend = self.hub.log.backend
        out: list[Bucket] = []
        if numeric:
            source = "5m" if resolution == "5m" else "hour"
            merged = _merge_numeric(await backend.statistics(entity_id, first, stop, source), resolution, tz)
            for key in sorted(merged):
                acc = merged[key]
                mean = acc["sum"] / acc["count"] if acc["count"] else None
                out.append(Bucket(start=to_iso(key, tz) or "", min=acc["min"], max=acc["max"],
                                  mean=round(mean, 4) if mean is not None else None, last=acc["last"],
                                  count=int(acc["count"])))
        else:
            seconds: dict[int, dict[str, float]] = {}
            if resolution == "5m":
                rows = await backend.history(entity_id, first, stop, None, include_start_state=True)
                pieces = [(max(r.last_updated, first), (rows[i + 1].last_updated if i + 1 < len(rows) else
                                                        min(stop, now_us())), r.state) for i, r in enumerate(rows)]
            else:
                pieces = []
                for r in await backend.state_time(entity_id, first, stop):
                    key = _bucket_of(r["bucket"], resolution, tz)
                    per = seconds.setdefault(key, {})
                    per[r["state"]] = per.get(r["state"], 0.0) + r["seconds"]
                if current is not None and as_number(current.state) is None:
                    pieces = [(max(current.last_changed, first), min(stop, now_us()), current.state)]
            for a, b, state in pieces:
                t = a
                while t < b:
                    key = _bucket_of(t, resolution, tz)
                    edge = min(b, _bucket_end(key, resolution, tz))
                    per = seconds.setdefault(key, {})
                    per[state] = per.get(state, 0.0) + (edge - t) / 1_000_000
                    t = edge
            for key in sorted(seconds):
                out.append(Bucket(start=to_iso(key, tz) or "",
                                  time_in_state={k: round(v, 1) for k, v in sorted(seconds[key].items())}))
        kept, cut = fit(out, self.hub.budget - 300)
        if cut:
            return kept, _bucket_end(_bucket_of(_iso_us(kept[-1].start), resolution, tz), resolution, tz)
        return kept, (stop if stop < end else None)


def _iso_us(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1_000_000)


def register(mcp: FastMCP[Any], hub: HubView) -> None:
    history = _History(hub)

    @mcp.tool(annotations=READ, title="Get history")
    @answers_errors
    async def get_history(
        entity_id: Annotated[str, Field(description="The entity, e.g. sensor.outdoor_temp.", max_length=255)],
        since: Annotated[str | None, Field(description="Start: ISO 8601 (2026-11-20T18:00:00+01:00) or a "
                                           "duration back from now (24h, 7d, PT6H). Default 24h.")] = None,
        until: Annotated[str | None, Field(description="End, same forms; default now.")] = None,
        resolution: Annotated[Resolution, Field(description="auto (raw changes when they fit, else buckets "
                                                "sized to the window), raw, 5m, hour or day.")] = "auto",
        attributes: Annotated[bool, Field(description="Include attributes with raw changes.")] = False,
        cursor: Annotated[str | None, Field(description="From a previous answer, to continue.")] = None,
    ) -> History:
        """How one entity changed over a window. Numbers come as buckets with min/max/mean/last; other states
        as time spent in each state per bucket; short windows as the raw changes. Long windows are bucketed
        automatically; answers are bounded and continue with `cursor`."""
        entity_id = entity_id.strip()
        await hub.check_entities([entity_id])
        await hub.log.sync_projections()  # history and statistics up to every committed event
        start, end = hub.window(since, until)
        query = {"e": entity_id, "s": since, "u": until, "r": resolution, "a": attributes}
        first = True
        resumed: str | None = None
        if cursor:
            pos = hub.cursors.resume("get_history", query, cursor)
            start, end, first, resumed = int(pos["t"]), int(pos["end"]), False, str(pos["res"])
        numeric, unit, current = await history.numeric(entity_id)
        span = end - start
        rows_budget = max(10, (hub.budget - 300) // ROW_TOKENS)
        page = max(5, (hub.budget - 300) // BUCKET_TOKENS)
        chosen: str = resumed or resolution
        note = None
        if resumed is None and resolution == "raw" and span > RAW_MAX:
            raise UserError(f"raw history over {span // DAY} days is too long to read change by change; ask "
                            "resolution=hour or day (or auto), or a window of at most 31 days")
        if resumed is None and resolution == "5m" and span > FIVE_MIN_MAX:
            raise UserError(f"5-minute buckets over {span // DAY} days are too many; ask resolution=hour or day, "
                            "or a window of at most 7 days")
        answer = History(entity_id=entity_id, since=to_iso(start, hub.tz) or "", until=to_iso(end, hub.tz) or "",
                         resolution="raw", numeric=numeric, unit=unit)
        if chosen == "auto":
            if span <= DAY:
                rows, resume = await history.raw(entity_id, start, end, first, attributes, rows_budget)
                if resume is None:
                    answer.changes = rows
                    return answer
                chosen = "5m" if numeric else "hour"
                note = "too many changes for one answer: bucketed; ask resolution=raw to page through them"
            else:
                chosen = "hour" if span <= 14 * DAY else "day"
                note = f"{chosen} buckets for a window of {span / DAY:.0f} days; ask resolution=raw for changes"
        answer.resolution = chosen
        answer.note = note
        if chosen == "raw":
            answer.changes, resume = await history.raw(entity_id, start, end, first, attributes, rows_budget)
        else:
            answer.buckets, resume = await history.buckets(entity_id, numeric, current, chosen, start, end, page)
        if resume is not None and resume < end:
            answer.cursor = hub.cursors.issue("get_history", query, {"t": resume, "end": end, "res": chosen})
            answer.omitted = -1
            more = f"continues from {to_iso(resume, hub.tz)} with the cursor"
            answer.note = f"{answer.note}; {more}" if answer.note else more
        return answer
