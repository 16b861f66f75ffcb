from __future__ import annotations


async def test_state_trigger_sends_command_with_run_as_causation(hub):
    await hub.set("binary_sensor.porch_motion", "off")
    await hub.start("""
    automations:
      - id: porch
        triggers:
          - trigger: state
            entity_id: binary_sensor.porch_motion
            to: "on"
        actions:
          - action: light.turn_on
            target: {entity_id: light.porch}
            data: {brightness: 128}
    """)
    await hub.set("binary_sensor.porch_motion", "on")
    assert hub.house.sent() == [("turn_on", "light.porch")]
    triggered = await hub.events("automation_triggered")
    requests = await hub.events("command_requested")
    assert requests[0].causation == triggered[0].seq
    assert requests[0].correlation == triggered[0].correlation
    assert requests[0].seq == triggered[0].seq + 1  # stored in one commit with its run
    traces = await hub.traces("porch")
    assert traces[0]["run"] == triggered[0].seq
    assert traces[0]["result"] == "finished"
    assert traces[0]["commands"][0]["outcome"] == "succeeded"
