"""Replay: rules run over recorded history with simulated time; nothing is executed."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from automations.replay import format_json, format_text, replay
from hub.log import open_log
from hub.times import from_datetime

T0 = from_datetime(datetime(2026, 6, 15, 8, 0, tzinfo=timezone.utc))
MIN = 60_000_000

RULES = """
- id: porch
  triggers:
    - trigger: state
      entity_id: binary_sensor.porch_motion
      to: "on"
  conditions:
    - condition: state
      entity_id: sun.sun
      state: below_horizon
  actions:
    - action: light.turn_on
      target: {entity_id: light.porch}
    - delay: "00:05:00"
    - action: light.turn_off
      target: {entity_id: light.porch}
- id: pump_off_ten_minutes
  triggers:
    - trigger: state
      entity_id: switch.pump
      to: "off"
      for: "00:10:00"
  actions:
    - action: notify.phone
      data: {message: "pump off since {{ trigger.to_state.last_changed.strftime('%H:%M') }}"}
- id: hourly
  triggers:
    - trigger: cron
      cron: "0 * * * *"
  actions:
    - event: tick
"""


async def test_replay_reports_runs_with_simulated_time(tmp_path, write) -> None:
    rules = write("rules.yaml", RULES)
    async with open_log(str(tmp_path / "hub.db"), synchronous="normal") as log:
        await log.report_state("sun.sun", "above_horizon", {}, source="t", time=T0 - 60 * MIN)
        await log.report_state("binary_sensor.porch_motion", "off", {}, source="t", time=T0 - 60 * MIN)
        await log.report_state("switch.pump", "on", {}, source="t", time=T0 - 60 * MIN)
        await log.report_state("binary_sensor.porch_motion", "on", {}, source="t", time=T0 + 1 * MIN)
        await log.report_state("binary_sensor.porch_motion", "off", {}, source="t", time=T0 + 2 * MIN)
        await log.report_state("sun.sun", "below_horizon", {}, source="t", time=T0 + 10 * MIN)
        await log.report_state("binary_sensor.porch_motion", "on", {}, source="t", time=T0 + 20 * MIN)
        await log.report_state("switch.pump", "off", {}, source="t", time=T0 + 30 * MIN)
        await log.report_state("switch.pump", "on", {}, source="t", time=T0 + 35 * MIN)
        await log.report_state("switch.pump", "off", {}, source="t", time=T0 + 40 * MIN)
        head = log.head
        report = await replay(log, rules, T0, until_us=T0 + 90 * MIN)
        assert log.head == head  # nothing was appended
    runs = report.runs
    porch = [r for r in runs if r.get("automation") == "porch"]
    assert [r["passed"] for r in porch] == [False, True]
    assert porch[0]["conditions"][0]["states"] == {"sun.sun": "above_horizon"}
    assert [c["command"] for c in porch[1]["commands"]] == ["light.turn_on", "light.turn_off"]
    assert porch[1]["commands"][1]["time"] == "2026-06-15T08:25:00+00:00"  # after the simulated delay
    pump = [r for r in runs if r.get("automation") == "pump_off_ten_minutes"]
    assert len(pump) == 1 and pump[0]["time"] == "2026-06-15T08:50:00+00:00"  # 08:40 + the 10 minutes
    assert pump[0]["commands"][0]["data"] == {"message": "pump off since 08:40"}
    hourly = [r for r in runs if r.get("automation") == "hourly"]
    assert len(hourly) == 1 and hourly[0]["events"] == [{"event": "tick", "data": {}}]
    text = format_text(report)
    assert "would send light.turn_on to light.porch" in text and "conditions failed" in text
    assert json.loads(format_json(report))["runs"][0]["automation"] == "porch"


async def test_replay_of_a_bad_rules_file_names_the_problem(tmp_path, write) -> None:
    import pytest

    from hub.errors import ConfigError

    rules = write("rules.yaml", "- id: x\n  triggers: [{trigger: state}]\n  actions: []\n")
    async with open_log(str(tmp_path / "hub.db")) as log:
        with pytest.raises(ConfigError) as info:
            await replay(log, rules, T0)
    assert "rules.yaml:2: automations[0].triggers[0].entity_id: Field required" in info.value.problems[0]


