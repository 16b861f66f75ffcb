"""Changes to how paho receives, each of which cost more per message than everything the hub
does with the message (bench/mqtt_ingest.py under cProfile, 20,000 QoS 1 messages/s):

1. `LeanProperties`, a stand-in for paho's MQTT v5 `Properties` when decoding packets. paho
(2.2) builds every `Properties` object from scratch: three tables of names, types and packet
kinds per object, and `unpack` first clears it by trying every one of 27 property names. Every
PUBLISH we receive over MQTT v5 gets one, and at 20,000 messages/s that was the largest single
cost of ingest (about half of paho's share, bench/mqtt_ingest.py under cProfile). This subclass
shares those tables, read-only, across objects and clears only what was set; reading and
writing properties behaves as paho's class does. It is installed into paho's packet decoder
only; what we send is built by paho's own class.

2. `BufferedSocket`: paho reads a packet with three recv calls (its first byte, its length, its
body) and aiomqtt calls paho once per readable event, so each message cost three system calls
and a turn of the event loop. The wrapper reads up to 64 KiB at once and serves paho's small
reads from it; it reports what it holds through `pending()`, the method aiomqtt already asks
an SSL socket, so aiomqtt keeps calling paho until the buffer is empty and nothing is stranded.

3. `deliver_publishes`: a received QoS 0/1 PUBLISH goes from its bytes straight to our callback
as (topic, payload, qos, retain, mid). paho made an `MQTTMessage` (with a `threading.Condition`),
logged it, matched its topic against per-topic callbacks we have none of, and aiomqtt made its
own `Message` and queued it, with a task per message if read through its iterator. The
`ReadGate` also takes whole PUBLISH packets from the front of the socket's buffer itself, and
leaves paho every other packet (and the end of a packet cut by the buffer), in order; QoS 2
keeps paho's own bookkeeping. The properties of a message are skipped: the hub reads none.

4. `ack_in_order`: the PUBACKs of many messages made durable by one commit, written at once.

And `ReadGate`, which bounds memory: the broker does not hold back QoS 1 messages we have not
acknowledged (Mosquitto 2.0 sent 90,000 past both its max_inflight_messages and our Receive
Maximum). The gate stops reading the socket while the messages read and not yet taken number
`high` and resumes below `low`: TCP then holds the broker back, and the backlog waits in the
broker, whose job that is.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from paho.mqtt import _packet
from paho.mqtt.enums import MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.exception import MalformedPacket
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

_TEMPLATE = Properties(PacketTypes.PUBLISH)


class LeanProperties(Properties):
    """paho's Properties with its lookup tables shared by the class."""

    types = _TEMPLATE.types
    names = _TEMPLATE.names
    properties = _TEMPLATE.properties

    def __init__(self, packetType: int) -> None:  # noqa: N803 (paho's name)
        object.__setattr__(self, "packetType", packetType)

    def clear(self) -> None:
        for name in [key for key in self.__dict__ if key != "packetType"]:
            delattr(self, name)


def install() -> bool:
    """Use LeanProperties in paho's packet decoder; False (paho's own kept) if its layout differs."""
    if getattr(_packet, "Properties", None) is not Properties:
        return getattr(_packet, "Properties", None) is LeanProperties
    _packet.Properties = LeanProperties  # type: ignore[attr-defined]
    return True


class BufferedSocket:
    """A socket (plain or TLS) whose reads come from a buffer refilled 64 KiB at a time."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._data = b""
        self._at = 0

    def recv(self, size: int) -> bytes:
        if self._at >= len(self._data):
            data = self._sock.recv(max(size, READ_SIZE))  # BlockingIOError and the like pass through
            if len(data) <= size:
                return data  # b"" at end of stream, as a socket says it
            self._data, self._at = data, 0
        start = self._at
        self._at = min(start + size, len(self._data))
        return self._data[start:self._at]

    def take_publishes(self, sink: Sink, v5: bool, limit: int) -> int:
        """Hand up to `limit` whole QoS 0/1 PUBLISH packets at the front of the buffer to `sink`;
        stops at any other packet, at one not wholly buffered, and at a malformed one (paho then
        reads it and says what is wrong). Only at a packet boundary of paho's reader."""
        data, at, end = self._data, self._at, len(self._data)
        taken = 0
        try:
            while taken < limit and at < end:
                header = data[at]
                if header & 0xF6 not in (0x30, 0x32):  # PUBLISH at QoS 0 or 1 (any dup and retain flags)
                    break
                found = varint(data, at + 1, end)  # the remaining length
                if found is None:
                    return taken
                length, body = found
                if body + length > end:
                    break
                try:
                    publish = decode_publish(data, body, body + length, header, v5)
                except MalformedPacket:
                    break
                at = body + length
                taken += 1
                sink(*publish)
        finally:
            self._at = at
        return taken

    def pending(self) -> int:
        inner = self._sock.pending() if hasattr(self._sock, "pending") else 0
        return len(self._data) - self._at + inner

    def send(self, data: Any) -> int:
        return int(self._sock.send(data))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


READ_SIZE = 65536


def buffer_reads(client: Any) -> bool:
    """Wrap a connected paho client's socket in a BufferedSocket (once); False if there is none."""
    sock = getattr(client, "_sock", None)
    if sock is None:
        return False
    if not isinstance(sock, BufferedSocket):
        client._sock = BufferedSocket(sock)
    return True


def write_at_once(paho: Any) -> None:
    """Send what paho queues (a command's publish, an ack) at once rather than on the next
    writable event of the socket: paho does that itself without an external loop, but under
    aiomqtt every packet waited for a turn of the event loop (about 0.1 ms on the way out).
    When the socket cannot take it all, the rest waits for writable as before."""
    register = paho.on_socket_register_write

    def register_write(client: Any, userdata: Any, sock: Any) -> None:
        # Not from inside one of paho's callbacks (it holds the lock loop_write needs), as paho does.
        if paho._in_callback_mutex.acquire(False):
            paho._in_callback_mutex.release()
            try:
                paho.loop_write()  # all written: paho unregisters, and no writer was ever added
            except Exception:  # noqa: BLE001 (aiomqtt's writable callback meets it again and reports it)
                pass
            if not paho._registered_write:
                return
        if register is not None:
            register(client, userdata, sock)

    paho.on_socket_register_write = register_write


Publish = tuple[bytes, bytes, int, bool, int]  # topic, payload, qos, retain, mid
Sink = Callable[[bytes, bytes, int, bool, int], None]
PUBACK = 0x40


def varint(data: bytes, at: int, end: int) -> tuple[int, int] | None:
    """MQTT's variable byte integer at data[at:end]: (its value, the index after it), or None when
    it is cut short or longer than four bytes."""
    value, shift = 0, 0
    while at < end and shift <= 21:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at
    return None


def decode_publish(data: bytes, start: int, end: int, header: int, v5: bool) -> Publish:
    """The PUBLISH packet whose body is data[start:end]: (topic, payload, qos, retain, mid)."""
    qos = (header >> 1) & 3
    at = start + 2
    if at > end or qos == 3:
        raise MalformedPacket(f"PUBLISH of {end - start} bytes at QoS {qos}")
    at += data[start] << 8 | data[start + 1]
    topic = data[start + 2:at]
    mid = 0
    if qos:
        mid = data[at] << 8 | data[at + 1] if at + 2 <= end else 0
        at += 2
    if v5:
        found = varint(data, at, end)  # the properties' length; the hub reads none of them
        if found is None:
            raise MalformedPacket("PUBLISH properties cut short")
        length, at = found
        at += length
    if at > end or not topic or (qos and not mid):
        raise MalformedPacket(f"PUBLISH of {end - start} bytes is cut short or has no topic or packet id")
    return topic, data[at:end], qos, bool(header & 1), mid


def deliver_publishes(paho: Any, sink: Sink) -> None:
    """Hand every PUBLISH paho receives to `sink(topic, payload, qos, retain, mid)` rather than to
    on_message (QoS 2 after paho's exchange, through on_message)."""
    own = paho._handle_publish
    v5 = paho._protocol == MQTTProtocolVersion.MQTTv5

    def handle_publish() -> MQTTErrorCode:
        packet = paho._in_packet
        header = packet["command"]
        if header & 0x06 == 0x04:
            return own()  # type: ignore[no-any-return]
        body = bytes(packet["packet"])
        publish = decode_publish(body, 0, len(body), header, v5)
        sink(*publish)
        if publish[2] == 1 and not paho._manual_ack:
            return paho._send_puback(publish[4])  # type: ignore[no-any-return]
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def on_message(_client: Any, _userdata: Any, message: Any) -> None:
        sink(message._topic, message.payload, message.qos, message.retain, message.mid)

    paho._handle_publish = handle_publish
    paho.on_message = on_message




def ack_in_order(paho: Any, acks: list[tuple[int, int]]) -> None:
    """Acknowledge messages (mid, qos) in the order given, as paho's `ack` does, but with the
    PUBACKs of consecutive QoS 1 messages queued as one write: paho queues, writes and (under
    aiomqtt) registers and unregisters a socket writer for every packet, a system call and more
    Python than the rest of the message's ingest. In paho's queue they stay in order with anything
    else paho sends; a partial write is finished by paho as for any packet."""
    run = bytearray()
    for mid, qos in acks:
        if qos == 1:
            run += _PUBACK_HEAD
            run += mid.to_bytes(2, "big")
        elif qos == 2:
            if run:
                paho._packet_queue(PUBACK, bytes(run), 0, 0)
                run = bytearray()
            paho.ack(mid, qos)
    if run:
        paho._packet_queue(PUBACK, bytes(run), 0, 0)


_PUBACK_HEAD = bytes([PUBACK, 2])  # fixed header, remaining length 2: the packet id (v5: reason 0, success)


class ReadGate:
    """Reads the broker's socket for aiomqtt, PUBLISH packets to `sink`, pausing while `inbox` (the
    messages read and not yet taken) is full.

    Never while a subscribe, unsubscribe or QoS 1 publish of ours waits for its answer: that
    answer may be queued behind the very messages we would stop reading (a resumed session's
    backlog arrives before the SUBACK of our subscriptions), and pausing would wait forever."""

    CHECK_EVERY = 0.05  # seconds, while paused

    def __init__(self, client: Any, inbox: deque[Any], sink: Sink, high: int, low: int) -> None:
        self.client = client  # aiomqtt.Client
        self.paho = client._client
        self.inbox, self.sink = inbox, sink
        self.v5 = self.paho._protocol == MQTTProtocolVersion.MQTTv5
        self.high, self.low = high, low
        self.loop = asyncio.get_running_loop()
        self.fd = self.paho.socket().fileno()
        self.paused = False
        self.pauses = 0
        deliver_publishes(self.paho, sink)
        self.loop.remove_reader(self.fd)  # aiomqtt's reader, which this one replaces
        self.loop.add_reader(self.fd, self._readable)

    def _waiting(self) -> bool:
        client = self.client
        return bool(client._pending_subscribes or client._pending_unsubscribes or client._pending_publishes)

    def _full(self) -> bool:
        return len(self.inbox) >= self.high and not self._waiting()

    def _readable(self) -> None:
        # aiomqtt's own reader, plus the gate: keep reading while the buffer holds packets.
        paho = self.paho
        try:
            while True:
                sock = paho._sock
                if isinstance(sock, BufferedSocket) and paho._in_packet["command"] == 0:
                    room = (1 << 30) if self._waiting() else self.high - len(self.inbox)
                    if sock.take_publishes(self.sink, self.v5, room):
                        paho._last_bytes_received = time.monotonic()  # paho's keepalive clock
                    if self._full():
                        break
                paho.loop_read()
                sock = paho._sock
                if sock is None or self._full() or not (hasattr(sock, "pending") and sock.pending()):
                    break
        except Exception as exc:  # noqa: BLE001 (aiomqtt's: a broken connection ends the session)
            if not self.client._disconnected.done():
                self.client._disconnected.set_exception(exc)
            return
        if not self.paused and paho._sock is not None and self._full():
            self.loop.remove_reader(self.fd)
            self.paused = True
            self.pauses += 1
            self.loop.call_later(self.CHECK_EVERY, self._check)

    def _check(self) -> None:
        if self.paused and self.paho._sock is not None:
            if len(self.inbox) <= self.low or not self._full():
                self._resume()
            else:
                self.loop.call_later(self.CHECK_EVERY, self._check)

    def taken(self) -> None:
        """The consumer took messages: resume reading once the inbox is down to `low`."""
        if self.paused and len(self.inbox) <= self.low:
            self._resume()

    def _resume(self) -> None:
        self.paused = False
        if self.paho._sock is not None:
            self.loop.add_reader(self.fd, self._readable)
            self.loop.call_soon(self._readable)  # packets may wait in the buffer, not the socket
