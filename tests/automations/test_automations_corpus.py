"""The corpus (47 automations in HA's documented shapes) loaded together, driven through a real log."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from automations_testkit import START

from automations.sun import next_sun_event
from hub.config import load_config
from hub.store import EventFilter
from hub.times import to_datetime

CORPUS = Path(__file__).parent / "corpus"
BERLIN = ZoneInfo("Europe/Berlin")
CONFIG = f"""
automations: !include_dir_merge_list {CORPUS}
scripts:
  emergency:
    alias: Emergency
    mode: restart
    fields:
      reason: {{description: why}}
    sequence:
      - action: light.turn_on
        target: {{entity_id: all}}
      - action: siren.turn_on
        target: {{entity_id: all}}
      - action: notify.phone
        data: {{message: "Emergency: {{{{ reason }}}}"}}
  morning:
    sequence:
      - action: light.turn_on
        target: {{entity_id: "light.{{{{ room }}}}"}}
notify:
  - {{name: phone, type: webhook, url: "http://notify.test/phone"}}
schedules:
  - {{id: night, cron: "0 23 * * *", event: night_mode}}
"""


class Corpus:
    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.messages: list[str] = []

        def handler(request: httpx.Request) -> httpx.Response:
            self.messages.append(json.loads(request.content)["message"])
            return httpx.Response(200, json={"ok": True})

        self.transport = httpx.MockTransport(handler)

    async def start(self) -> None:
        await self.hub.start(CONFIG, transport=self.transport)

    def sent(self, entity_id: str) -> list[str]:
        return [c.command for c in self.hub.house.commands if c.entity_id == entity_id]

    def data(self, entity_id: str) -> list[dict[str, Any]]:
        return [c.data for c in self.hub.house.commands if c.entity_id == entity_id]

    async def until(self, hour: int, minute: int = 0, days: int = 0) -> None:
        now = to_datetime(self.hub.clock.now(), BERLIN)
        target = (now + timedelta(days=days)).replace(hour=hour, minute=minute, second=0, microsecond=0)
        if target <= now:
            target += timedelta(days=1)
        await self.hub.advance((target - now).total_seconds() + 1)

    async def results(self, automation: str) -> list[str]:
        return [t["result"] for t in await self.hub.traces(automation)]


@pytest.fixture
async def corpus(hub: Any) -> Corpus:
    return Corpus(hub)


async def test_corpus_loads_and_validates(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    cfg = load_config(path)
    from automations.config import load_rules

    rules = load_rules(cfg)
    assert len(rules.automations) >= 40
    assert {"emergency", "morning"} <= set(rules.scripts)


async def test_porch_light_follows_motion_after_dark(corpus: Corpus) -> None:
    h = corpus.hub
    await h.set("sun.sun", "below_horizon")
    await h.set("binary_sensor.porch_motion", "off")
    await corpus.start()
    await h.set("binary_sensor.porch_motion", "on")
    assert corpus.sent("light.porch") == ["turn_on"]
    await h.set("binary_sensor.porch_motion", "off")
    await h.advance(110)
    assert corpus.sent("light.porch") == ["turn_on"]
    await h.advance(15)
    assert corpus.sent("light.porch") == ["turn_on", "turn_off"]
    assert (await corpus.results("porch_light_on_motion")) == ["finished"]


async def test_porch_light_stays_off_in_daylight(corpus: Corpus) -> None:
    h = corpus.hub
    await h.set("sun.sun", "above_horizon")
    await h.set("binary_sensor.porch_motion", "off")
    await corpus.start()
    await h.set("binary_sensor.porch_motion", "on")
    assert corpus.sent("light.porch") == []
    triggered = await h.events("automation_triggered", source="automation:porch_light_on_motion")
    assert triggered[0].data["passed"] is False
    assert triggered[0].data["conditions"][0]["result"] is False


async def test_hallway_off_after_five_quiet_minutes_and_motion_resets_it(corpus: Corpus) -> None:
    h = corpus.hub
    await h.set("binary_sensor.hallway_motion", "on")
    await corpus.start()
    await h.set("binary_sensor.hallway_motion", "off")
    await h.advance(240)
    await h.set("binary_sensor.hallway_motion", "on")
    await h.advance(120)
    assert corpus.sent("light.hallway") == []
    await h.set("binary_sensor.hallway_motion", "off")
    await h.advance(299)
    assert corpus.sent("light.hallway") == []
    await h.advance(2)
    assert corpus.sent("light.hallway") == ["turn_off"]


async def test_kitchen_button_toggles(corpus: Corpus) -> None:
    h = corpus.hub
    await corpus.start()
    await h.event("device_event", {"event_type": "button_pressed"}, entity_id="event.kitchen_button")
    await h.event("device_event", {"event_type": "button_pressed"}, entity_id="event.other_button")
    await h.event("device_event", {"event_type": "button_pressed"}, entity_id="event.kitchen_button")
    assert corpus.sent("light.kitchen") == ["toggle", "toggle"]
    assert h.log.current_state("light.kitchen").state == "off"


async def test_sunset_offset_and_sunrise_all_lights_off(corpus: Corpus) -> None:
    h = corpus.hub
    await h.set("light.a", "on")
    await h.set("light.b", "on")
    await h.set("switch.x", "on")
    await corpus.start()
    await h.advance(24 * 3600)
    requests = await h.log.read(EventFilter(types=("command_requested",), source="automation:lights_before_sunset"))
    sunset = next_sun_event("sunset", START, 52.52, 13.40)
    assert sunset is not None
    assert abs(requests[0].time - (sunset - 30 * 60_000_000)) < 2_000_000
    assert corpus.sent("light.living_room") == ["turn_on", "turn_off"]  # on before sunset, off at sunrise
    assert corpus.sent("light.a") == ["turn_off"] and corpus.sent("light.b") == ["turn_off"]
    assert corpus.sent("switch.x") == []


@pytest.mark.parametrize("guest, expected", [("off", ["turn_on"]), ("on", [])])
async def test_night_light_unless_guests(corpus: Corpus, guest: str, expected: list[str]) -> None:
    h = corpus.hub
    await h.set("input_boolean.guest_mode", guest)
    await corpus.start()
    await corpus.until(22, 31)
    assert corpus.sent("light.landing") == expected
    if expected:
        assert corpus.data("light.landing") == [{"brightness_pct": 10}]


async def test_bathroom_brightness_by_time_of_day(corpus: Corpus) -> None:
    h = corpus.hub
    await h.set("binary_sensor.bathroom_motion", "off")
    await corpus.start()
    await h.set("binary_sensor.bathroom_motion", "on")
    await h.set("binary_sensor.bathroom_motion", "off")
    await corpus.until(23, 0)
    await h.set("binary_sensor.bathroom_motion", "on")
    assert [d["brightness_pct"] for d in corpus.data("light.bathroom")] == [100, 20]


@pytest.mark.parametrize("sun, expected", [("below_horizon", ["turn_on"]), ("above_horizon", [])])
async def test_arrive_home_after_dark(corpus: Corpus, sun: str, expected: list[str]) -> None:
    h = corpus.hub
    await h.set("sun.sun", sun)
    await h.set("device_tracker.alice_phone", "not_home")
    await corpus.start()
    await h.set("device_tracker.alice_phone", "home")
    assert corpus.sent("light.hall") == expected


async def test_movie_time_dims_and_brightens(corpus: Corpus) -> None:
    h = corpus.hub
    await h.set("media_player.tv", "idle")
    await corpus.start()
    await h.set("media_player.tv", "playing")
    await h.set("media_player.tv", "paused")
    assert [d["brightness"] for d in corpus.data("light.living_room")] == [50, 150]


async def test_bathroom_fan_follows_humidity(corpus: Corpus) -> None:
    h = corpus.hub
    await h.set("sensor.bathroom_humidity", "50")
    await corpus.start()
    await h.set("sensor.bathroom_humidity", "75")
    await h.set("sensor.bathroom_humidity", "80")
    assert corpus.sent("switch.bathroom_fan") == ["turn_on"]
    await h.set("sensor.bathroom_humidity", "55")
    await h.advance(299)
    assert corpus.sent("switch.bathroom_fan") == ["turn_on"]
    await h.advance(2)
    assert corpus.sent("switch.bathroom_fan") == ["turn_on", "turn_off"]


async def test_window_open_turns_heating_off(corpus: Corpus) -> None:
    h = corpus.hub
    await h.set("binary_sensor.bedroom_window", "off")
    await corpus.start()
    await h.set("binary_sensor.bedroom_window", "on")
    await h.advance(61)
    assert corpus.data("climate.bedroom") == [{"hvac_mode": "off"}]


async def test_freezer_alert_after_ten_warm_minutes_only(corpus: Corpus) -> None:
    h = corpus.hub
    await h.set("sensor.freezer_temperature", "-18")
    await corpus.start()
    await h.set("sensor.freezer_temperature", "-8")
    await h.advance(300)
    await h.set("sensor.freezer_temperature", "-15")
    await h.advance(600)
    assert corpus.messages == []
    await h.set("sensor.freezer_temperature", "-7.5")
    await h.advance(601)
    assert corpus.messages == ["Freezer is at -7.5 °C"]


async def test_hot_day_fan_on_attribute(corpus: Corpus) -> None:
    h = corpus.hub
    await h.set("weather.home", "sunny", {"temperature": 25})
    await corpus.start()
    await h.set("weather.home", "sunny", {"temperature": 30})
    await h.set("weather.home", "sunny", {"temperature": 31})
    assert corpus.sent("fan.bedroom") == ["turn_on"]


async def test_frost_warning_at_six(corpus: Corpus) -> None:
    h = corpus.hub
    await h.set("sensor.outdoor_temperature", "1")
    await corpus.start()
    await corpus.until(6, 1)
    assert corpus.messages.count("Frost: 1 °C outside") == 1


async def test_weekday_heating_skips_the_weekend(corpus: Corpus) -> None:
    h = corpus.hub
    await corpus.start()
    await corpus.until(7, 0, days=5)  # Monday 10:00 to Saturday 07:00: Tuesday to Friday, not Saturday
    assert len(corpus.data("climate.living_room")) == 4
    times = [to_datetime(e.time, BERLIN) for e in await h.log.read(
        EventFilter(types=("command_requested",), source="automation:weekday_heating"))]
    assert all(t.hour == 6 and t.minute == 30 and t.weekday() < 5 for t in times)


async def test_doorbell_notifies_and_lights_only_when_dark(corpus: Corpus) -> None:
    h = corpus.hub
    await h.set("sun.sun", "above_horizon")
    await corpus.start()
    await h.event("device_event", {"event_type": "ding"}, entity_id="event.front_doorbell")
    assert corpus.messages == ["Someone is at the front door"]
    assert corpus.sent("light.porch") == []
    await h.set("sun.sun", "below_horizon")
    await h.event("device_event", {"event_type": "ding"}, entity_id="event.front_doorbell")
    assert corpus.sent("light.porch") == ["turn_on"]


async def test_alarm_sounds_siren_and_says_who(corpus: Corpus) -> None:
    h = corpus.hub
    await h.set("alarm_control_panel.house", "armed_away")
    await corpus.start()
    await h.set("alarm_control_panel.house", "triggered", {"changed_by": "Kitchen PIR"})
    assert corpus.sent("siren.hall") == ["turn_on"]
    assert corpus.messages == ["Alarm! Kitchen PIR"]


async def test_front_door_locked_at_eleven(corpus: Corpus) -> None:
    h = corpus.hub
    await h.set("lock.front_door", "unlocked")
    await corpus.start()
    await corpus.until(23, 1)
    assert corpus.sent("lock.front_door") == ["lock"]
    assert h.log.current_state("lock.front_door").state == "locked"


async def test_door_left_open_reminds_until_closed(corpus: Corpus) -> None:
    h = corpus.hub
    await h.set("binary_sensor.front_door", "off")
    await corpus.start()
    await h.set("binary_sensor.front_door", "on")
    await h.advance(601)
    await h.advance(300)
    await h.set("binary_sensor.front_door", "off")
    await h.advance(900)
    assert corpus.messages == ["Front door open (1)", "Front door open (2)"]
    assert (await corpus.results("door_left_open")) == ["finished"]


async def test_alarm_armed_when_the_last_person_leaves(corpus: Corpus) -> None:
    h = corpus.hub
    await h.set("device_tracker.alice_phone", "home")
    await h.set("device_tracker.bob_phone", "home")
    await h.set("alarm_control_panel.house", "disarmed")
    await corpus.start()
    await h.set("device_tracker.alice_phone", "not_home")
    assert corpus.sent("alarm_control_panel.house") == []
    await h.set("device_tracker.bob_phone", "not_home")
    assert corpus.sent("alarm_control_panel.house") == ["alarm_arm_away"]


async def test_water_leak_in_parallel(corpus: Corpus) -> None:
    h = corpus.hub
    await h.set("binary_sensor.kitchen_leak", "off")
    await corpus.start()
    await h.set("binary_sensor.kitchen_leak", "on")
    assert corpus.sent("switch.water_main") == ["turn_off"]
    assert corpus.messages == ["Water leak in the kitchen"]


async def test_smoke_runs_the_emergency_script(corpus: Corpus) -> None:
    h = corpus.hub
    await h.set("binary_sensor.smoke_hall", "off", {"friendly_name": "Hall smoke"})
    await h.set("light.a", "off")
    await h.set("light.b", "off")
    await h.set("siren.hall", "off")
    await corpus.start()
    await h.set("binary_sensor.smoke_hall", "on", {"friendly_name": "Hall smoke"})
    assert corpus.sent("light.a") == ["turn_on"] and corpus.sent("light.b") == ["turn_on"]
    assert corpus.sent("siren.hall") == ["turn_on"]
    assert corpus.messages == ["Emergency: smoke in Hall smoke"]
    script_run = (await h.events("automation_triggered", source="script:emergency"))[0]
    request = await h.log.get(script_run.causation)
    assert request is not None and request.data["target"] == ["script.emergency"]
    assert request.source == "automation:smoke_emergency"
    assert script_run.correlation == request.correlation


async def test_camera_motion_only_when_away(corpus: Corpus) -> None:
    h = corpus.hub
    await h.set("alarm_control_panel.house", "disarmed")
    await corpus.start()
    await h.event("device_event", {"event_type": "motion"}, entity_id="camera.drive")
    await h.set("alarm_control_panel.house", "armed_away")
    await h.event("device_event", {"event_type": "motion"}, entity_id="camera.drive")
    assert corpus.messages == ["Motion on camera.drive"]


async def test_welcome_home_by_name(corpus: Corpus) -> None:
    h = corpus.hub
    await h.set("device_tracker.bob_phone", "not_home", {"friendly_name": "Bob"})
    await corpus.start()
    await h.set("device_tracker.bob_phone", "home", {"friendly_name": "Bob"})
    assert "Welcome home, Bob" in corpus.messages


async def test_last_one_out_turns_every_light_off(corpus: Corpus) -> None:
    h = corpus.hub
    await h.set("zone.home", "2")
    await h.set("light.a", "on")
    await corpus.start()
    await h.set("zone.home", "1")
    assert corpus.sent("light.a") == []
    await h.set("zone.home", "0")
    assert corpus.sent("light.a") == ["turn_off"]


async def test_everyone_home_template_fires_on_becoming_true(corpus: Corpus) -> None:
    h = corpus.hub
    await h.set("device_tracker.alice_phone", "home")
    await h.set("device_tracker.bob_phone", "not_home")
    await corpus.start()
    await h.set("device_tracker.bob_phone", "home")
    await h.set("device_tracker.alice_phone", "home", {"battery": 50})
    assert corpus.messages.count("Everyone is home") == 1
    await h.set("device_tracker.bob_phone", "not_home")
    await h.set("device_tracker.bob_phone", "home")
    assert corpus.messages.count("Everyone is home") == 2


async def test_hub_start_resets_guest_mode(corpus: Corpus) -> None:
    h = corpus.hub
    await h.set("input_boolean.guest_mode", "on")
    await corpus.start()
    await h.event("hub_started")
    assert corpus.sent("input_boolean.guest_mode") == ["turn_off"]


async def test_washer_done_after_three_quiet_minutes(corpus: Corpus) -> None:
    h = corpus.hub
    await h.set("input_boolean.washer_running", "on")
    await h.set("sensor.washer_power", "200")
    await corpus.start()
    await h.set("sensor.washer_power", "2")
    await h.advance(60)
    await h.set("sensor.washer_power", "3")  # still below 5: the timer stands
    await h.advance(121)
    assert corpus.messages == ["The laundry is done"]
    assert corpus.sent("input_boolean.washer_running") == ["turn_off"]


async def test_high_power_message_uses_trigger_state(corpus: Corpus) -> None:
    h = corpus.hub
    await h.set("sensor.house_power", "1000")
    await corpus.start()
    await h.set("sensor.house_power", "4000.4")
    assert corpus.messages == ["High load: 4000.0 W"]


async def test_tv_plug_off_after_standby(corpus: Corpus) -> None:
    h = corpus.hub
    await h.set("sensor.tv_power", "80")
    await corpus.start()
    await h.set("sensor.tv_power", "3")
    await h.advance(1801)
    assert corpus.sent("switch.tv_plug") == ["turn_off"]


async def test_ev_charges_in_cheap_hours_with_templated_action(corpus: Corpus) -> None:
    await corpus.start()
    await corpus.until(1, 1)
    assert corpus.sent("switch.ev_charger") == ["turn_on"]
    await corpus.until(6, 1)
    assert corpus.sent("switch.ev_charger") == ["turn_on", "turn_off"]


async def test_mqtt_triggers(corpus: Corpus) -> None:
    h = corpus.hub
    await corpus.start()
    await h.event("mqtt_message", {"topic": "zigbee2mqtt/hall_button", "payload": '{"action": "double"}'})
    await h.event("mqtt_message", {"topic": "zigbee2mqtt/hall_button", "payload": '{"action": "single"}'})
    await h.event("mqtt_message", {"topic": "sensors/attic/temperature", "payload": '{"value": 21.5}'})
    await h.event("mqtt_message", {"topic": "sensors/attic/humidity", "payload": '{"value": 40}'})
    await h.event("mqtt_message", {"topic": "stat/plug1/POWER", "payload": "ON"})
    assert corpus.sent("light.hall") == ["toggle"]
    seen = await h.events("temperature_seen")
    assert [e.data for e in seen] == [{"topic": "sensors/attic/temperature", "value": 21.5}]
    assert seen[0].source == "automation:temperature_topics"
    assert corpus.sent("switch.mirror") == ["turn_on"]


async def test_time_pattern_every_quarter_hour(corpus: Corpus) -> None:
    h = corpus.hub
    await corpus.start()
    await h.advance(3600)
    beats = await h.events("heartbeat")
    assert [to_datetime(e.time, BERLIN).strftime("%H:%M") for e in beats] == ["10:30", "11:00"]


async def test_weekday_morning_calls_script_with_fields(corpus: Corpus) -> None:
    await corpus.start()
    await corpus.until(7, 1)
    assert corpus.sent("light.bedroom") == ["turn_on"]


async def test_blink_three_times_with_delays(corpus: Corpus) -> None:
    h = corpus.hub
    await h.set("light.office", "off")
    await corpus.start()
    await h.event("blink_lights")
    assert corpus.sent("light.office") == ["toggle"]
    await h.advance(3)
    assert corpus.sent("light.office") == ["toggle"] * 3
    assert h.log.current_state("light.office").state == "on"


async def test_low_batteries_for_each(corpus: Corpus) -> None:
    h = corpus.hub
    await h.set("sensor.door_battery", "15")
    await h.set("sensor.window_battery", "80")
    await corpus.start()
    await h.event("battery_check")
    assert corpus.messages == ["sensor.door_battery is low"]


@pytest.mark.parametrize("close_after, expected", [(120, []), (None, ["The garage is still open"])])
async def test_garage_wait_template(corpus: Corpus, close_after: int | None, expected: list[str]) -> None:
    h = corpus.hub
    await h.set("cover.garage", "closed")
    await corpus.start()
    await h.set("cover.garage", "open")
    if close_after:
        await h.advance(close_after)
        await h.set("cover.garage", "closed")
    await h.advance(601)
    assert corpus.messages == expected


async def test_doorbell_stops_on_vacation(corpus: Corpus) -> None:
    h = corpus.hub
    await h.set("input_boolean.vacation", "on")
    await corpus.start()
    await h.event("ding")
    assert corpus.sent("light.entrance") == []
    assert (await corpus.results("doorbell_unless_vacation")) == ["stopped"]


async def test_variables_reach_messages(corpus: Corpus) -> None:
    h = corpus.hub
    await corpus.start()
    await h.event("room_report", {"room": "kitchen"})
    assert corpus.messages == ["Home: kitchen reported"]


async def test_queued_mode_runs_one_after_another(corpus: Corpus) -> None:
    h = corpus.hub
    await corpus.start()
    for _ in range(3):
        await h.event("queue_toggle")
    await h.advance(11)
    assert corpus.sent("light.queue") == ["toggle"]
    await h.advance(20)
    assert corpus.sent("light.queue") == ["toggle"] * 3


async def test_single_mode_ignores_a_second_trigger(corpus: Corpus) -> None:
    h = corpus.hub
    await corpus.start()
    await h.event("single_go")
    await h.event("single_go")
    await h.advance(61)
    assert corpus.sent("light.single") == ["turn_on"]
    await h.event("single_go")
    assert corpus.sent("light.single") == ["turn_on"] * 2


async def test_parallel_mode_respects_max(corpus: Corpus) -> None:
    h = corpus.hub
    await corpus.start()
    for _ in range(3):
        await h.event("parallel_go")
    assert corpus.sent("light.parallel") == ["toggle"] * 2


async def test_continue_on_error(corpus: Corpus) -> None:
    h = corpus.hub
    h.house.fail.add("light.broken")
    await corpus.start()
    await h.event("try_failing")
    assert corpus.sent("light.working") == ["turn_on"]
    trace = (await h.traces("continue_after_error"))[0]
    assert trace["result"] == "finished"
    assert trace["steps"][0]["result"] == "error" and "light.broken did not answer" in trace["steps"][0]["error"]
    failed = await h.events("command_failed")
    assert failed and "did not answer" in failed[0].data["reason"]


async def test_stop_as_error(corpus: Corpus) -> None:
    h = corpus.hub
    await corpus.start()
    await h.event("stop_error")
    trace = (await h.traces("stop_with_error"))[0]
    assert trace["result"] == "error" and trace["error"] == "Something is wrong"
    assert corpus.sent("light.never") == []


async def test_or_not_and_shorthand_template_conditions(corpus: Corpus) -> None:
    h = corpus.hub
    await h.set("input_boolean.guest_mode", "off")
    await h.set("alarm_control_panel.house", "disarmed")
    await corpus.start()
    await h.event("logic_check", {"level": 5})
    assert corpus.sent("light.logic") == []
    await h.set("alarm_control_panel.house", "armed_home")
    await h.event("logic_check", {"level": 2})
    assert corpus.sent("light.logic") == []
    await h.event("logic_check", {"level": 5})
    assert corpus.sent("light.logic") == ["turn_on"]


async def test_schedule_fires_event_at_cron_time(corpus: Corpus) -> None:
    h = corpus.hub
    await corpus.start()
    await corpus.until(23, 1)
    fired = await h.events("schedule_fired")
    night = await h.events("night_mode")
    assert [e.data["schedule"] for e in fired] == ["night"]
    assert night[0].causation == fired[0].seq and night[0].source == "schedule:night"
    assert to_datetime(fired[0].time, BERLIN).hour == 23


