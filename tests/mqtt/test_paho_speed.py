"""paho's v5 properties decoded through LeanProperties read exactly as paho's own class reads them."""

from __future__ import annotations

import paho.mqtt.client as paho
from paho.mqtt import _packet
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from integrations.mqtt import paho_speed


def same(a: object, b: object) -> bool:
    """Whether two property objects carry the same values."""
    return bool(a.json() == b.json())  # type: ignore[attr-defined]


def test_lean_properties_unpack_what_paho_packs() -> None:
    assert paho_speed.install() and _packet.Properties is paho_speed.LeanProperties
    sent = Properties(PacketTypes.PUBLISH)
    sent.ContentType = "application/json"
    sent.MessageExpiryInterval = 30
    sent.UserProperty = ("site", "home")
    sent.UserProperty = ("room", "porch")
    packed = sent.pack()
    ours, ours_len = paho_speed.LeanProperties(PacketTypes.PUBLISH).unpack(packed)
    theirs, theirs_len = Properties(PacketTypes.PUBLISH).unpack(packed)
    assert ours_len == theirs_len == len(packed)
    assert same(ours, theirs)
    assert ours.UserProperty == [("site", "home"), ("room", "porch")] and ours.ContentType == "application/json"
    # An object is reused by unpack: values from an earlier packet are cleared, the tables are not.
    empty, _ = ours.unpack(Properties(PacketTypes.PUBLISH).pack())
    assert not hasattr(empty, "ContentType") and not hasattr(empty, "UserProperty")
    assert empty.names is paho_speed.LeanProperties.names and len(empty.names) == 27
    assert same(empty, Properties(PacketTypes.PUBLISH))
    assert "Content Type" in paho_speed.LeanProperties.names


def test_decoded_publish_carries_its_properties() -> None:
    paho_speed.install()
    props = Properties(PacketTypes.PUBLISH)
    props.ResponseTopic = "hub/reply"
    topic = b"home/porch/motion"
    body = len(topic).to_bytes(2, "big") + topic + (7).to_bytes(2, "big") + props.pack() + b"ON"
    packet = _packet.decode_publish(0x32, body, 5)
    assert packet.topic == topic and packet.payload == b"ON" and packet.mid == 7
    assert packet.properties.ResponseTopic == "hub/reply"


def _queued(client: paho.Client) -> bytes:
    return b"".join(bytes(p["packet"]) for p in client._out_packet)


def test_acks_in_order_are_the_bytes_paho_would_send() -> None:
    acks = [(1, 1), (2, 1), (300, 1), (7, 2), (65535, 1)]
    theirs = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    theirs.manual_ack_set(True)
    for mid, qos in acks:
        theirs.ack(mid, qos)
    ours = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    ours.manual_ack_set(True)
    paho_speed.ack_in_order(ours, acks)
    assert _queued(ours) == _queued(theirs)
    # The QoS 1 runs either side of the QoS 2 ack are one write each.
    assert len(ours._out_packet) == 3
