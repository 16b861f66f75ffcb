"""paho's v5 properties decoded through LeanProperties read exactly as paho's own class reads them."""

from __future__ import annotations

import paho.mqtt.client as paho
import pytest
from paho.mqtt import _packet
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.exception import MalformedPacket
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


def _publish_packet(topic: bytes, payload: bytes, qos: int, mid: int, *, retain: bool = False,
                    props: Properties | None = None) -> bytes:
    body = len(topic).to_bytes(2, "big") + topic + (mid.to_bytes(2, "big") if qos else b"")
    body += (props.pack() if props is not None else b"") + payload
    return bytes([0x30 | qos << 1 | retain]) + _varint(len(body)) + body


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def test_decode_publish_reads_what_paho_reads() -> None:
    props = Properties(PacketTypes.PUBLISH)
    props.UserProperty = ("k", "v" * 200)  # a properties length of two bytes
    cases = [(b"a/b", b"21.5", 1, 9, False, props), (b"a", b"", 0, 0, True, Properties(PacketTypes.PUBLISH)),
             (b"t" * 300, b"x" * 70_000, 1, 65535, True, None)]
    for topic, payload, qos, mid, retain, p in cases:
        v5 = p is not None
        packet = _publish_packet(topic, payload, qos, mid, retain=retain, props=p)
        start = packet.index(topic) - 2
        theirs = _packet.decode_publish(packet[0], packet[start:], 5 if v5 else 4)
        ours = paho_speed.decode_publish(packet, start, len(packet), packet[0], v5)
        assert ours == (theirs.topic, theirs.payload, theirs.qos, theirs.retain, theirs.mid)


def test_decode_publish_refuses_what_is_cut_short() -> None:
    packet = _publish_packet(b"a/b", b"on", 1, 3, props=Properties(PacketTypes.PUBLISH))
    for end in range(2, 9):  # within the topic, the packet id or the properties' length
        with pytest.raises(MalformedPacket):
            paho_speed.decode_publish(packet, 2, end, packet[0], True)
    with pytest.raises(MalformedPacket):  # no topic
        paho_speed.decode_publish(b"\x00\x00on", 0, 4, 0x30, False)


class _Fake:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def recv(self, size: int) -> bytes:
        if not self.data:
            raise BlockingIOError
        out, self.data = self.data[:size], self.data[size:]
        return out


def test_take_publishes_stops_at_other_packets_and_at_the_buffer_end() -> None:
    first = [_publish_packet(f"s/{i}".encode(), str(i).encode(), 1, i + 1) for i in range(3)]
    suback = bytes([0x90, 3, 0, 1, 1])
    last = _publish_packet(b"s/9", b"9", 0, 0, retain=True)
    stream = b"".join(first) + suback + last
    sock = paho_speed.BufferedSocket(_Fake(stream[len(stream) - 2:]))
    sock._data = stream[:-2]  # what one read of the socket brought: the last packet cut short
    got: list[paho_speed.Publish] = []
    assert sock.take_publishes(lambda *p: got.append(p), False, 2) == 2
    assert sock.take_publishes(lambda *p: got.append(p), False, 10) == 1
    assert got == [(f"s/{i}".encode(), str(i).encode(), 1, False, i + 1) for i in range(3)]
    assert sock.take_publishes(lambda *p: got.append(p), False, 10) == 0  # the SUBACK is paho's
    assert sock.recv(len(suback)) == suback
    assert sock.take_publishes(lambda *p: got.append(p), False, 10) == 0  # not whole yet
    assert sock.pending() == len(last) - 2
    assert sock.recv(len(last)) == last[:-2] and sock.recv(2) == last[-2:]  # paho reads it whole
