"""Load generation and a do-nothing subscriber for the MQTT benchmarks, run as separate processes.

    python bench/mqtt_load.py publish --port P --count N [--rate R] [--topics 50] [--qos 1]
    python bench/mqtt_load.py subscribe --port P --count N [--qos 1]

Both print one JSON line of figures. The publisher speaks MQTT 3.1.1 on a plain socket (see
`publish`) and keeps up to 1000 QoS 1 messages in flight; the subscriber uses paho.
"""

from __future__ import annotations

import argparse
import json
import select
import socket
import struct
import sys
import threading
import time

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion


def _frame(header: int, body: bytes) -> bytes:
    """An MQTT packet: fixed header byte, remaining length (variable-length integer), body."""
    out = bytearray([header])
    n = len(body)
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out) + body


def _utf8(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("!H", len(raw)) + raw


def publish(host: str, port: int, count: int, rate: float, topics: int, qos: int, prefix: str,
            window: int = 1000) -> dict[str, float]:
    """Publish `count` messages round-robin over `topics` topics at `rate` msg/s (0: as fast as possible).

    A minimal MQTT 3.1.1 client on a plain socket, so that the load generator is not what limits
    the figure (paho tops out near 7k QoS 1 messages/s on this machine): PUBLISH packets are
    encoded in bulk and written in slices of a millisecond, at most `window` QoS 1 messages
    unacknowledged, and PUBACKs are counted as they come back."""
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    connect = _utf8("MQTT") + bytes([4, 0x02]) + struct.pack("!H", 0) + _utf8(f"bench-pub-{time.time_ns()}")
    sock.sendall(_frame(0x10, connect))
    connack = sock.recv(4)
    if len(connack) < 4 or connack[0] != 0x20 or connack[3] != 0:
        raise SystemExit(f"the broker refused the connection: {connack!r}")
    sock.setblocking(False)
    names = [_utf8(f"{prefix}/{i}") for i in range(topics)]
    header = 0x30 | (qos << 1)
    acked = 0
    pending = b""

    def frame(i: int) -> bytes:
        pid = struct.pack("!H", i % 65535 + 1) if qos else b""
        return _frame(header, names[i % topics] + pid + str(i).encode())

    def read_acks() -> None:
        nonlocal acked, pending
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    raise SystemExit("the broker closed the connection")
                pending += data
        except BlockingIOError:
            pass
        whole = len(pending) // 4 * 4  # PUBACKs only: 0x40 0x02 and a packet id
        acked += whole // 4
        pending = pending[whole:]

    started = time.time()
    sent = 0
    while sent < count:
        due = count if not rate else min(count, int((time.time() - started) * rate) + 1)
        if qos:
            read_acks()
            due = min(due, acked + window)
        if due > sent:
            chunk = b"".join(frame(i) for i in range(sent, due))
            view = memoryview(chunk)
            while view:
                try:
                    view = view[sock.send(view):]
                except BlockingIOError:
                    select.select([sock], [sock], [], 0.01)
                    if qos:
                        read_acks()
            sent = due
        else:
            select.select([sock], [], [], 0.001)
    last_publish = time.time()
    deadline = last_publish + 120
    while qos and acked < count and time.time() < deadline:
        select.select([sock], [], [], 0.05)
        read_acks()
    last_ack = time.time()
    sock.setblocking(True)
    sock.sendall(_frame(0xE0, b""))
    sock.close()
    return {"published": count, "acked": acked if qos else count, "started": started,
            "last_publish": last_publish, "last_ack": last_ack,
            "publish_rate": count / max(last_publish - started, 1e-9)}


def subscribe(host: str, port: int, count: int, qos: int, prefix: str, ready_file: str | None,
              timeout: float = 120.0) -> dict[str, float]:
    """Receive until `count` messages arrived (the baseline: the broker without the hub)."""
    got = [0]
    first = [0.0]
    done = threading.Event()

    def on_message(_c: object, _u: object, _m: object) -> None:
        if got[0] == 0:
            first[0] = time.time()
        got[0] += 1
        if got[0] >= count:
            done.set()

    def on_connect(c: paho.Client, _u: object, _f: object, _rc: object, _p: object) -> None:
        c.subscribe(f"{prefix}/#", qos=qos)

    def on_subscribe(*_a: object) -> None:
        if ready_file:
            with open(ready_file, "w") as fh:
                fh.write("ready")

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-sub-{time.time_ns()}")
    client.on_message = on_message
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.connect(host, port, keepalive=60)
    client.loop_start()
    done.wait(timeout)
    last = time.time()
    client.loop_stop()
    client.disconnect()
    return {"received": got[0], "first": first[0], "last": last}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("publish", "subscribe"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--rate", type=float, default=0.0)
    parser.add_argument("--topics", type=int, default=50)
    parser.add_argument("--qos", type=int, default=1)
    parser.add_argument("--prefix", default="bench/sensor")
    parser.add_argument("--ready-file")
    args = parser.parse_args(argv)
    if args.mode == "publish":
        out = publish(args.host, args.port, args.count, args.rate, args.topics, args.qos, args.prefix)
    else:
        out = subscribe(args.host, args.port, args.count, args.qos, args.prefix, args.ready_file)
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
