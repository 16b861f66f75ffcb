"""Bad input is recorded as input_rejected (reason, bounded excerpt, counted) and the integration goes on."""

from __future__ import annotations

import json

import pytest
from conftest import events, wait_for
from pydantic import ValidationError

from hub import events as ev
from integrations.mqtt import MqttConfig

ENTITIES = [
    {"platform": "sensor", "name": "Temp", "state_topic": "t/temp", "value_template": "{{ value_json.t }}"},
    {"platform": "binary_sensor", "name": "Motion", "state_topic": "t/motion"},
    {"platform": "number", "name": "Level", "state_topic": "t/level", "command_topic": "t/level/set", "max": 10},
]


async def rejected(r) -> list:
    return await events(r.log, ev.INPUT_REJECTED)


async def test_bad_payloads_are_rejected_and_ingest_goes_on(start_mqtt, publisher) -> None:
    r = await start_mqtt(entities=ENTITIES, max_payload=1024, capture=["cap/#"])
    bad = [
        ("t/temp", b"\xff\xfe not utf-8", "not UTF-8"),
        ("t/temp", b"{not json", "not valid JSON"),
        ("t/temp", b'{"x": 1}', "has no attribute 't'"),
        ("t/motion", b"MAYBE", "neither 'ON'"),
        ("t/level", b"11", "outside"),
        ("cap/big", b"x" * 2000, "exceeds max_payload"),
        ("cap/bin", b"\x00\x9f\x92\x96", "not UTF-8"),
    ]
    for topic, payload, _ in bad:
        await publisher.publish(topic, payload, qos=1)
    await publisher.publish("t/temp", json.dumps({"t": 5}), qos=1)
    await wait_for(lambda: r.state("sensor.temp") == "5", what="good message after bad ones")
    got = await wait_for(lambda: _at_least(r, len(bad)), what="all rejections")
    assert len(got) == len(bad)
    for event, (topic, _payload, words) in zip(got, bad, strict=True):
        assert event.data["origin"] == f"mqtt:{topic}"
        assert words in event.data["reason"], (words, event.data["reason"])
        assert len(event.data["excerpt"]) <= 1024
        assert event.source == "mqtt"
    assert got[0].data["excerpt"].startswith("\\xff\\xfe not utf-8")
    assert len(got[5].data["excerpt"]) == 1024  # bounded, not the whole 2,000 bytes
    assert r.log.metrics.rejected_by["mqtt"] == len(bad)
    assert r.ctx.rejected == len(bad)
    assert [e.data["topic"] for e in await events(r.log, ev.MQTT_MESSAGE)] == []


async def test_a_topic_that_is_not_utf8_is_rejected_and_ingest_goes_on(start_mqtt, publisher) -> None:
    # Mosquitto refuses such a topic; a broker that passed one on must not end the session.
    r = await start_mqtt(entities=ENTITIES)
    r.integration._received(b"t/\xfftemp", b"21", 0, False, 0)
    await publisher.publish("t/motion", "ON", qos=1)
    await wait_for(lambda: r.state("binary_sensor.motion") == "on", what="the next message")
    got = await wait_for(lambda: rejected(r), what="the rejection")
    assert got[0].data["origin"] == "mqtt:b't/\\xfftemp'" and "not UTF-8" in got[0].data["reason"]
    assert r.integration.connected


async def _at_least(r, n: int) -> list | None:
    got = await rejected(r)
    return got if len(got) >= n else None


@pytest.mark.parametrize(("topic", "payload", "words"), [
    ("homeassistant/vacuum/v1/config", {"name": "V"}, "unknown component 'vacuum'"),
    ("homeassistant/switch/s1/config", {"name": "S"}, "needs `command_topic`"),
    ("homeassistant/sensor/s2/config", {"name": "S", "stat_t": 5}, "`state_topic` must be"),
    ("homeassistant/sensor/s3/config", {"name": "S", "stat_t": "a", "qos": 3}, "`qos` must be"),
    ("homeassistant/sensor/s4/config", "[1, 2]", "must be a JSON object"),
    ("homeassistant/sensor/s5/config", "{oops", "not valid JSON"),
    ("homeassistant/sensor/s6/config", {"name": "S", "stat_t": "a", "val_tpl": "{{ value_json."}, "invalid template"),
    ("homeassistant/select/s7/config", {"name": "S", "cmd_t": "a", "ops": "x"}, "`options` must be a list"),
    ("homeassistant/sensor/s8/config", {"name": "S", "stat_t": "a", "dev": {"name": "no ids"}}, "identifiers"),
])
async def test_bad_discovery_configs_are_rejected(start_mqtt, publisher, topic, payload, words) -> None:
    r = await start_mqtt()
    body = payload if isinstance(payload, str) else json.dumps(payload)
    await publisher.publish(topic, body, qos=1, retain=True)
    got = await wait_for(lambda: _at_least(r, 1), what="rejection")
    assert words in got[0].data["reason"], got[0].data["reason"]
    assert got[0].data["origin"] == f"mqtt:{topic}"
    assert not [eid for eid in r.log.registry() if eid.startswith(topic.split("/")[1] + ".")]
    # The integration goes on: a good config after the bad one works.
    await publisher.publish("homeassistant/sensor/ok/config", json.dumps({"name": "OK", "stat_t": "ok"}), qos=1)
    await wait_for(lambda: "sensor.ok" in r.log.registry(), what="good discovery after a bad one")


def test_bad_configuration_is_refused_with_the_entry_named() -> None:
    cases = [
        ({"url": "http://x"}, "mqtt://"),
        ({"url": "mqtt://u:p@host"}, "credentials"),
        ({"capture": ["a/#/b"]}, "not a valid MQTT topic filter"),
        ({"entities": [{"platform": "sensor", "name": "A"}]}, "entities[0] (A): sensor needs `state_topic`"),
        ({"entities": [{"platform": "toaster", "name": "A"}]}, "unknown component 'toaster'"),
        ({"entities": [{"platform": "light", "name": "L", "command_topic": "x/#"}]}, "wildcards"),
        ({"ca_file": "/x.pem"}, "only used with an mqtts://"),
    ]
    for overrides, words in cases:
        with pytest.raises(ValidationError) as info:
            MqttConfig.model_validate({"type": "mqtt", "id": "mqtt", **overrides})
        assert words in str(info.value), (words, str(info.value))


def test_password_never_appears_in_the_config_repr() -> None:
    cfg = MqttConfig.model_validate({"type": "mqtt", "id": "m", "username": "u", "password": "hunter2"})
    assert "hunter2" not in repr(cfg) and "hunter2" not in str(cfg.model_dump())
