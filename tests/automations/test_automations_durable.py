"""Durable timers across restarts, loop protection, reload, schedule catch-up, modes' traces."""

from __future__ import annotations

from automations_testkit import restart

FOR_RULE = """
automations:
  - id: off_for_ten
    triggers:
      - trigger: state
        entity_id: switch.pump
        to: "off"
        for: "00:10:00"
    actions:
      - action: light.turn_on
        target: {entity_id: light.pump_warning}
"""

DELAY_RULE = """
automations:
  - id: delayed
    triggers:
      - trigger: state
        entity_id: binary_sensor.door
        to: "on"
    actions:
      - action: light.turn_on
        target: {entity_id: light.hall}
      - delay: "00:15:00"
      - action: light.turn_off
        target: {entity_id: "{{ 'light.' ~ 'hall' }}"}
"""


async def test_pending_for_survives_a_restart(hub) -> None:
    await hub.set("switch.pump", "on")
    await hub.start(FOR_RULE)
    await hub.set("switch.pump", "off")
    await hub.advance(240)
    await restart(hub, FOR_RULE, later_s=120)  # down for two minutes: six minutes have passed
    await hub.advance(230)
    assert hub.house.sent() == []
    await hub.advance(20)
    assert hub.house.sent() == [("turn_on", "light.pump_warning")]
    trace = (await hub.traces("off_for_ten"))[0]
    assert trace["result"] == "finished"


async def test_for_elapsed_during_downtime_fires_once_at_start(hub) -> None:
    await hub.set("switch.pump", "on")
    await hub.start(FOR_RULE)
    await hub.set("switch.pump", "off")
    await restart(hub, FOR_RULE, later_s=3600)
    assert hub.house.sent() == [("turn_on", "light.pump_warning")]
    await restart(hub, FOR_RULE, later_s=60)  # it fired already: a second restart must not repeat it
    assert hub.house.sent() == [("turn_on", "light.pump_warning")]


async def test_for_cancelled_before_the_restart_stays_cancelled(hub) -> None:
    await hub.set("switch.pump", "on")
    await hub.start(FOR_RULE)
    await hub.set("switch.pump", "off")
    await hub.advance(60)
    await hub.set("switch.pump", "on")
    await restart(hub, FOR_RULE, later_s=3600)
    await hub.advance(900)
    assert hub.house.sent() == []


async def test_delay_resumes_after_a_restart(hub) -> None:
    await hub.set("binary_sensor.door", "off")
    await hub.start(DELAY_RULE)
    await hub.set("binary_sensor.door", "on")
    assert hub.house.sent() == [("turn_on", "light.hall")]
    await hub.advance(300)
    await restart(hub, DELAY_RULE, later_s=300)
    await hub.advance(290)
    assert hub.house.sent() == [("turn_on", "light.hall")]
    await hub.advance(20)
    assert hub.house.sent() == [("turn_on", "light.hall"), ("turn_off", "light.hall")]
    traces = await hub.traces("delayed")
    assert [t["result"] for t in traces] == ["finished"]
    triggered = await hub.events("automation_triggered")
    requests = await hub.events("command_requested")
    assert {r.causation for r in requests} == {triggered[0].seq}  # the resumed run is the same run


async def test_self_triggering_loop_is_stopped_and_recorded(hub) -> None:
    await hub.set("light.ping", "off")
    await hub.start("""
    automations:
      - id: ping_pong
        mode: queued
        triggers:
          - trigger: state
            entity_id: light.ping
        actions:
          - action: light.toggle
            target: {entity_id: light.ping}
    """)
    await hub.set("light.ping", "on")
    for _ in range(10):
        await hub.idle()
    traces = await hub.traces("ping_pong")
    errors = [t for t in traces if t["result"] == "error"]
    assert len(errors) == 1 and "loop detected" in errors[0]["error"]
    toggles = len(hub.house.commands)
    assert 10 <= toggles <= 25
    await hub.advance(60)
    assert len(hub.house.commands) == toggles  # the chain stays stopped


async def test_reload_keeps_old_rules_when_the_new_file_is_broken(hub, tmp_path) -> None:
    from automations.watch import reload_file

    await hub.set("binary_sensor.a", "off")
    engine = await hub.start("""
    automations:
      - id: a_on
        triggers: [{trigger: state, entity_id: binary_sensor.a, to: "on"}]
        actions: [{action: light.turn_on, target: {entity_id: light.a}}]
    """)
    path = tmp_path / "config.yaml"
    path.write_text(path.read_text().replace("light.turn_on,", "light.turn_on, bogus: 1,"))
    problems = await reload_file(engine, path)
    assert problems and "bogus" in problems[0] and "unknown key" in problems[0]
    rejected = await hub.events("input_rejected")
    assert "previous rules kept" in rejected[0].data["reason"]
    await hub.set("binary_sensor.a", "on")
    assert hub.house.sent() == [("turn_on", "light.a")]
    path.write_text(path.read_text().replace(" bogus: 1,", "").replace("light.a}", "light.b}"))
    assert await reload_file(engine, path) == []
    await hub.set("binary_sensor.a", "off")
    await hub.set("binary_sensor.a", "on")
    assert hub.house.sent() == [("turn_on", "light.a"), ("turn_on", "light.b")]


async def test_watch_task_reloads_on_file_change(hub, tmp_path) -> None:
    import asyncio

    from automations.watch import watch

    await hub.set("binary_sensor.a", "off")
    engine = await hub.start("""
    automations:
      - id: a_on
        triggers: [{trigger: state, entity_id: binary_sensor.a, to: "on"}]
        actions: [{action: light.turn_on, target: {entity_id: light.a}}]
    """)
    path = tmp_path / "config.yaml"
    task = asyncio.create_task(watch(engine, path, interval=0.02))
    try:
        await asyncio.sleep(0.05)
        path.write_text(path.read_text().replace("light.a}", "light.c}"))
        import os

        os.utime(path, (1, 2_000_000_000))
        for _ in range(100):
            await asyncio.sleep(0.02)
            if any("light.c" in str(a.target) for s in engine.slots.values() for a in s.rule.actions):
                break
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    await hub.set("binary_sensor.a", "on")
    assert hub.house.sent() == [("turn_on", "light.c")]


CATCH_UP = """
schedules:
  - {id: backup, cron: "0 3 * * *", event: backup_now, catch_up: true}
  - {id: no_catch, cron: "0 3 * * *", event: other_now}
"""


async def test_schedule_catch_up_fires_a_missed_run_once(hub) -> None:
    await hub.start(CATCH_UP)
    await hub.advance(86400)  # fires at 03:00 the next morning
    assert len(await hub.events("backup_now")) == 1
    await restart(hub, CATCH_UP, later_s=3 * 86400)  # three 03:00s missed
    fired = await hub.events("schedule_fired")
    caught = [e for e in fired if e.data["catch_up"]]
    assert [e.data["schedule"] for e in caught] == ["backup"]
    assert len(await hub.events("backup_now")) == 2
    assert len(await hub.events("other_now")) == 1


async def test_restart_mode_records_the_restarted_run(hub) -> None:
    await hub.start("""
    automations:
      - id: restarter
        mode: restart
        triggers: [{trigger: event, event_type: go}]
        actions:
          - delay: 60
          - action: light.turn_on
            target: {entity_id: light.r}
    """)
    await hub.event("go")
    await hub.advance(30)
    await hub.event("go")
    await hub.advance(61)
    assert hub.house.sent() == [("turn_on", "light.r")]
    assert sorted(t["result"] for t in await hub.traces("restarter")) == ["finished", "restarted"]


async def test_failing_template_is_an_error_in_the_trace_not_a_crash(hub) -> None:
    await hub.start("""
    automations:
      - id: bad_template
        triggers: [{trigger: event, event_type: go}]
        actions:
          - action: light.turn_on
            target: {entity_id: light.x}
            data: {brightness: "{{ trigger.event.data.level | float }}"}
      - id: still_works
        triggers: [{trigger: event, event_type: go}]
        actions: [{action: light.turn_on, target: {entity_id: light.y}}]
    """)
    await hub.event("go", {"level": "high"})
    trace = (await hub.traces("bad_template"))[0]
    assert trace["result"] == "error" and "float got invalid input 'high'" in trace["error"]
    assert hub.house.sent() == [("turn_on", "light.y")]
    await hub.event("go", {"level": "7"})
    assert ("turn_on", "light.x") in hub.house.sent()
