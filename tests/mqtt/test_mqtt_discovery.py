"""Home Assistant MQTT discovery on a real broker: create, update, remove, abbreviations, `~`, devices."""

from __future__ import annotations

import asyncio
import json

from conftest import events, wait_for

from hub import events as ev
from hub.integration import Command

PREFIX = "homeassistant"

# As Zigbee2MQTT sends them (abbreviated keys, `~`, shared device).
Z2M_DEVICE = {"ids": ["zigbee2mqtt_0x00158d0001"], "name": "Kitchen sensor", "mf": "Aqara", "mdl": "WSDCGQ11LM",
              "sw": "3000-0001", "sa": "Kitchen"}
TEMP = {"~": "zigbee2mqtt/Kitchen sensor", "name": "Temperature", "stat_t": "~", "uniq_id": "0x00158d0001_temp",
        "val_tpl": "{{ value_json.temperature }}", "unit_of_meas": "°C", "dev_cla": "temperature",
        "avty": [{"t": "zigbee2mqtt/bridge/state"}], "dev": Z2M_DEVICE}
BULB = {"name": None, "uniq_id": "bulb1", "schema": "json", "cmd_t": "zigbee2mqtt/Bulb/set", "stat_t": "zigbee2mqtt/Bulb",
        "brightness": True, "sup_clrm": ["rgb", "color_temp"],
        "dev": {"ids": "bulb1", "name": "Living room bulb"}}
ALARM = {"name": "Alarm", "uniq_id": "ring_alarm", "stat_t": "ring/alarm/state", "cmd_t": "ring/alarm/command",
         "dev": {"ids": ["ring_base"], "name": "Ring Alarm", "mf": "Ring"}}


async def publish(client, topic: str, payload, retain: bool = True) -> None:
    body = payload if isinstance(payload, (str, bytes)) else json.dumps(payload)
    await client.publish(topic, body, qos=1, retain=retain)


async def test_discovery_creates_entities_from_retained_configs(start_mqtt, publisher) -> None:
    await publish(publisher, f"{PREFIX}/sensor/0x00158d0001/temperature/config", TEMP)
    await publish(publisher, f"{PREFIX}/light/bulb1/light/config", BULB)
    await publish(publisher, f"{PREFIX}/alarm_control_panel/ring/alarm/config", ALARM)
    await publish(publisher, "zigbee2mqtt/bridge/state", "online")
    await publish(publisher, "zigbee2mqtt/Kitchen sensor", {"temperature": 22.4, "humidity": 40})
    await publish(publisher, "ring/alarm/state", "disarmed")
    r = await start_mqtt()
    await wait_for(lambda: r.state("sensor.kitchen_sensor_temperature") == "22.4", what="z2m temperature")
    await wait_for(lambda: r.state("alarm_control_panel.ring_alarm_alarm") == "disarmed", what="alarm")
    info = r.log.registry()["sensor.kitchen_sensor_temperature"]["info"]
    assert info["device"]["manufacturer"] == "Aqara" and info["device"]["area"] == "Kitchen"
    assert info["device"]["id"] == "zigbee2mqtt_0x00158d0001"
    assert info["unit"] == "°C" and info["device_class"] == "temperature"
    assert "light.living_room_bulb" in r.log.registry()  # name null: the device's name

    # JSON-schema light: state in, commands out.
    await publish(publisher, "zigbee2mqtt/Bulb", {"state": "ON", "brightness": 200, "color_mode": "rgb",
                                                  "color": {"r": 255, "g": 10, "b": 0}}, retain=False)
    await wait_for(lambda: r.state("light.living_room_bulb") == "on", what="bulb on")
    assert r.ctx.state("light.living_room_bulb").attributes["rgb_color"] == [255, 10, 0]
    await publisher.subscribe("zigbee2mqtt/Bulb/set")
    await publisher.subscribe("ring/alarm/command")
    mqtt = r.integration
    await mqtt.handle_command(Command("turn_on", "light.living_room_bulb", {"brightness": 50,
                                                                          "rgb_color": [1, 2, 3]}, 1, "cli"))
    await mqtt.handle_command(Command("alarm_arm_away", "alarm_control_panel.ring_alarm_alarm", {}, 2, "cli"))
    got = []
    async with asyncio.timeout(10):
        async for msg in publisher.messages:
            if msg.topic.value in ("zigbee2mqtt/Bulb/set", "ring/alarm/command"):
                got.append((msg.topic.value, msg.payload.decode()))
            if len(got) == 2:
                break
    assert got == [("zigbee2mqtt/Bulb/set", '{"state":"ON","brightness":50,"color":{"r":1,"g":2,"b":3}}'),
                   ("ring/alarm/command", "ARM_AWAY")]


async def test_discovery_update_and_remove(start_mqtt, publisher) -> None:
    r = await start_mqtt()
    topic = f"{PREFIX}/switch/plug1/config"
    await publish(publisher, topic, {"name": "Plug", "uniq_id": "plug1", "cmd_t": "plug1/set", "stat_t": "plug1/state"})
    await wait_for(lambda: "switch.plug" in r.log.registry(), what="created")
    await publish(publisher, "plug1/state", "ON", retain=False)
    await wait_for(lambda: r.state("switch.plug") == "on", what="plug on")

    # Update: a new state topic and payloads; same entity id, the old topic no longer feeds it.
    await publish(publisher, topic, {"name": "Plug", "uniq_id": "plug1", "cmd_t": "plug1/set",
                                     "stat_t": "plug1/v2", "pl_on": "1", "pl_off": "0", "ic": "mdi:power"})
    await wait_for(lambda: r.log.registry()["switch.plug"]["info"].get("icon") == "mdi:power", what="updated")
    await publish(publisher, "plug1/v2", "0", retain=False)
    await wait_for(lambda: r.state("switch.plug") == "off", what="plug off via new topic")
    await publish(publisher, "plug1/state", "ON", retain=False)
    await asyncio.sleep(0.3)
    assert r.state("switch.plug") == "off"
    assert "switch.plug_2" not in r.log.registry()

    # Remove: an empty retained config.
    await publish(publisher, topic, b"")
    await wait_for(lambda: "switch.plug" not in r.log.registry(), what="removed")
    removed = await events(r.log, ev.ENTITY_REMOVED)
    assert [e.entity_id for e in removed] == ["switch.plug"]
    assert "switch.plug" not in r.integration.table.entities


async def test_name_clash_gets_a_suffix_and_object_id_wins(start_mqtt, publisher) -> None:
    r = await start_mqtt(entities=[{"platform": "sensor", "name": "Power", "state_topic": "a/power"}])
    await publish(publisher, f"{PREFIX}/sensor/meter/power/config", {"name": "Power", "uniq_id": "m1", "stat_t": "m/p"})
    await publish(publisher, f"{PREFIX}/sensor/meter/energy/config",
                  {"name": "Energy", "obj_id": "main_energy", "uniq_id": "m2", "stat_t": "m/e"})
    await wait_for(lambda: "sensor.power_2" in r.log.registry() and "sensor.main_energy" in r.log.registry(),
                   what="suffixed and object_id entities")
    assert "sensor.power" in r.log.registry()


async def test_every_platform_from_discovery(start_mqtt, publisher) -> None:
    configs = {
        "binary_sensor/door": {"name": "Door", "stat_t": "d/door", "dev_cla": "door"},
        "lock/front": {"name": "Front", "stat_t": "d/lock", "cmd_t": "d/lock/set"},
        "cover/blind": {"name": "Blind", "stat_t": "d/blind", "cmd_t": "d/blind/set", "pos_t": "d/blind/pos",
                        "set_pos_t": "d/blind/pos/set"},
        "climate/tstat": {"name": "Tstat", "mode_stat_t": "d/hvac/mode", "mode_cmd_t": "d/hvac/mode/set",
                          "temp_cmd_t": "d/hvac/temp/set", "curr_temp_t": "d/hvac/cur", "modes": ["off", "heat"]},
        "button/bell": {"name": "Bell", "cmd_t": "d/bell/press"},
        "event/remote": {"name": "Remote", "stat_t": "d/remote", "evt_typ": ["press", "hold"]},
        "device_tracker/phone": {"name": "Phone", "stat_t": "d/phone"},
        "siren/siren": {"name": "Siren", "cmd_t": "d/siren/set", "stat_t": "d/siren"},
        "number/vol": {"name": "Volume", "cmd_t": "d/vol/set", "stat_t": "d/vol", "min": 0, "max": 10},
        "select/mode": {"name": "Mode", "cmd_t": "d/mode/set", "stat_t": "d/mode", "ops": ["eco", "boost"]},
    }
    for path, cfg in configs.items():
        await publish(publisher, f"{PREFIX}/{path}/config", cfg)
    for topic, payload in [("d/door", "ON"), ("d/lock", "UNLOCKED"), ("d/blind", "closing"), ("d/blind/pos", "40"),
                           ("d/hvac/mode", "heat"), ("d/hvac/cur", "19.5"), ("d/phone", "not_home"),
                           ("d/siren", "OFF"), ("d/vol", "7"), ("d/mode", "eco")]:
        await publish(publisher, topic, payload)
    r = await start_mqtt()
    expected = {"binary_sensor.door": "on", "lock.front": "unlocked", "cover.blind": "closing",
                "climate.tstat": "heat", "device_tracker.phone": "not_home", "siren.siren": "off",
                "number.volume": "7", "select.mode": "eco"}
    await wait_for(lambda: all(r.state(k) == v for k, v in expected.items()),
                   what=f"states {expected}")
    assert r.ctx.state("cover.blind").attributes["current_position"] == 40
    assert r.ctx.state("climate.tstat").attributes["current_temperature"] == 19.5
    assert "button.bell" in r.log.registry()

    await publish(publisher, "d/remote", '{"event_type": "hold", "duration": 2}', retain=False)
    await wait_for(lambda: r.state("event.remote") not in (None, "unknown"), what="event state")
    fired = await events(r.log, ev.DEVICE_EVENT, "event.remote")
    assert fired[0].data == {"event_type": "hold", "duration": 2}

    await publisher.subscribe("d/+/set")
    await publisher.subscribe("d/+/+/set")
    await publisher.subscribe("d/bell/press")
    mqtt = r.integration
    for cmd, eid, data in [("unlock", "lock.front", {}), ("set_cover_position", "cover.blind", {"position": 70}),
                           ("set_temperature", "climate.tstat", {"temperature": 21.5}),
                           ("press", "button.bell", {}), ("turn_on", "siren.siren", {}),
                           ("set_value", "number.volume", {"value": 3}), ("select_option", "select.mode",
                                                                            {"option": "boost"})]:
        await mqtt.handle_command(Command(cmd, eid, data, 1, "cli"))
    want = {("d/lock/set", "UNLOCK"), ("d/blind/pos/set", "70"), ("d/hvac/temp/set", "21.5"),
            ("d/bell/press", "PRESS"), ("d/siren/set", "ON"), ("d/vol/set", "3"), ("d/mode/set", "boost")}
    got = set()
    async with asyncio.timeout(10):
        async for msg in publisher.messages:
            got.add((msg.topic.value, msg.payload.decode()))
            if want <= got:
                break


async def test_device_based_discovery(start_mqtt, publisher) -> None:
    topic = f"{PREFIX}/device/shelly1/config"
    await publish(publisher, topic, {
        "dev": {"ids": "shelly1", "name": "Shelly", "mf": "Shelly"}, "o": {"name": "shelly"},
        "~": "shelly1", "cmps": {
            "relay": {"p": "switch", "name": "Relay", "uniq_id": "shelly1_relay", "cmd_t": "~/relay/set",
                      "stat_t": "~/relay"},
            "power": {"p": "sensor", "name": "Power", "uniq_id": "shelly1_power", "stat_t": "~/power",
                      "unit_of_meas": "W"}}})
    await publish(publisher, "shelly1/relay", "ON")
    await publish(publisher, "shelly1/power", "12.5")
    r = await start_mqtt()
    await wait_for(lambda: r.state("switch.shelly_relay") == "on" and r.state("sensor.shelly_power") == "12.5",
                   what="device components")
    # Dropping a component from the device message removes that entity only.
    await publish(publisher, topic, {"dev": {"ids": "shelly1", "name": "Shelly"}, "~": "shelly1", "cmps": {
        "relay": {"p": "switch", "name": "Relay", "uniq_id": "shelly1_relay", "cmd_t": "~/relay/set",
                  "stat_t": "~/relay"}, "power": {"p": "sensor"}}})
    await wait_for(lambda: "sensor.shelly_power" not in r.log.registry(), what="component removed")
    assert "switch.shelly_relay" in r.log.registry()
