"""The sun (known sunrise times), the demo house (deterministic, obeys commands), retention."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from pathlib import Path

from hub import events as ev
from hub.config import Config, HubSection, RetentionConfig
from hub.events import Event
from hub.integration import Command, IntegrationContext
from hub.log import EventLog, open_log
from hub.retention import apply_retention
from hub.store import EventFilter
from hub.sun import next_event, sun_state
from integrations.demo import DemoConfig, DemoIntegration

DAY = 86_400_000_000


def test_sunrise_and_sunset_in_berlin_on_midsummer() -> None:
    start = datetime(2026, 6, 21, tzinfo=timezone.utc)
    rise = next_event(start, 52.52, 13.40, True)
    set_ = next_event(start, 52.52, 13.40, False)
    assert rise is not None and set_ is not None
    # Published times: 04:43 and 21:33 CEST (02:43 and 19:33 UTC).
    assert abs((rise - datetime(2026, 6, 21, 2, 43, tzinfo=timezone.utc)).total_seconds()) < 120
    assert abs((set_ - datetime(2026, 6, 21, 19, 33, tzinfo=timezone.utc)).total_seconds()) < 120
    assert sun_state(datetime(2026, 6, 21, 12, tzinfo=timezone.utc), 52.52, 13.40)[0] == "above_horizon"
    assert sun_state(datetime(2026, 6, 21, 23, tzinfo=timezone.utc), 52.52, 13.40)[0] == "below_horizon"
    assert next_event(datetime(2026, 12, 21, tzinfo=timezone.utc), 78.2, 15.6, True) is not None  # polar night ends


async def _demo_run(path: Path, seed: int) -> list[tuple[str | None, str]]:
    async with open_log(str(path), synchronous="normal") as log:
        demo = DemoIntegration(DemoConfig(type="demo", id="demo", seed=seed), IntegrationContext(log, "demo"))
        await demo.setup()
        for _ in range(40):
            await demo.step()
        rows = await log.read(EventFilter(types=(ev.STATE_CHANGED, ev.DEVICE_EVENT), limit=10_000))
        return [(e.entity_id, (e.data.get("new_state") or {}).get("state", e.data.get("event_type")))
                for e in rows if e.entity_id != "event.front_doorbell"]


async def test_demo_is_deterministic_given_a_seed(tmp_path: Path) -> None:
    a = await _demo_run(tmp_path / "a.db", 7)
    b = await _demo_run(tmp_path / "b.db", 7)
    c = await _demo_run(tmp_path / "c.db", 8)
    assert a == b and a != c
    assert {"binary_sensor.porch_motion", "sensor.outdoor_temperature", "sensor.house_power"} <= {e for e, _ in a}


async def test_demo_obeys_commands(hub_log: EventLog) -> None:
    demo = DemoIntegration(DemoConfig(type="demo", id="demo"), IntegrationContext(hub_log, "demo"))
    await demo.setup()
    await demo.handle_command(Command("turn_on", "light.porch", {"brightness": 128}, 1, "cli"))
    state = hub_log.current_state("light.porch")
    assert state is not None and state.state == "on" and state.attributes["brightness"] == 128
    await demo.handle_command(Command("toggle", "light.porch", {}, 2, "cli"))
    assert hub_log.current_state("light.porch").state == "off"  # type: ignore[union-attr]
    import pytest

    from hub.errors import CommandError
    with pytest.raises(CommandError, match="brightness must be 0-255"):
        await demo.handle_command(Command("turn_on", "light.porch", {"brightness": 900}, 3, "cli"))


async def test_retention_drops_old_prefixes_and_keeps_current_state(tmp_path: Path) -> None:
    now = 1_800_000_000_000_000
    async with open_log(str(tmp_path / "h.db"), synchronous="normal") as log:
        for day in range(40, 0, -1):
            t = now - day * DAY
            await log.report_state("sensor.fridge_power", str(day), {}, source="demo", time=t)
            await log.report_state("sensor.temp", str(day), {}, source="demo", time=t)
            await log.append(Event("device_event", "demo", None, {"day": day}, time=t))
        await log.report_state("sensor.quiet", "on", {}, source="demo", time=now - 39 * DAY)
        stats_before = await log.backend.statistics("sensor.fridge_power", 0, now, "hour")
        config = Config(hub=HubSection(retention=RetentionConfig(default="20d", rules={"sensor.*_power": "7d"})))
        summary = await apply_retention(log, config, now=now)
        assert summary["dropped"]["events"] > 0
        power = await log.backend.history("sensor.fridge_power", 0, now + 1, include_start_state=False)
        temp = await log.backend.history("sensor.temp", 0, now + 1, include_start_state=False)
        # Kept: the last 7 days, plus the row in force at the cutoff, so a window starting there has a state.
        assert [s.state for s in power] == [str(d) for d in range(8, 0, -1)]
        assert len(temp) == 21
        quiet = log.current_state("sensor.quiet")
        assert quiet is not None and quiet.state == "on"  # its only change is older than retention: kept
        kept = await log.read(EventFilter(entity_id="sensor.quiet"))
        assert len(kept) == 1
        assert await log.backend.statistics("sensor.fridge_power", 0, now, "hour") == stats_before
        recorded = await log.read(EventFilter(types=(ev.RETENTION_APPLIED,)))
        assert recorded and recorded[0].data["dropped"]["events"] == summary["dropped"]["events"]
        await asyncio.sleep(0)
