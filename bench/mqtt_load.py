"""Load generation and a do-nothing subscriber for the MQTT benchmarks, run as separate processes.

    python bench/mqtt_load.py publish --port P --count N [--rate R] [--topics 50] [--qos 1]
    python bench/mqtt_load.py subscribe --port P --count N [--qos 1]

Both print one JSON line of figures. The publisher uses paho's own network thread so that
it is not limited by an event loop, and keeps many QoS 1 messages in flight.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion


def publish(host: str, port: int, count: int, rate: float, topics: int, qos: int, prefix: str) -> dict[str, float]:
    """Publish `count` messages round-robin over `topics` topics at `rate` msg/s (0: as fast as possible)."""
    done = threading.Event()
    acked = [0]

    window = threading.BoundedSemaphore(1000)

    def on_publish(_c: object, _u: object, _mid: int, _rc: object, _p: object) -> None:
        acked[0] += 1
        if qos:
            window.release()
        if acked[0] >= count:
            done.set()

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{time.time_ns()}")
    client.max_inflight_messages_set(1100)
    client.max_queued_messages_set(0)
    client.on_publish = on_publish
    client.connect(host, port, keepalive=60)
    client.loop_start()
    started = time.time()
    for i in range(count):
        if rate:
            ahead = started + i / rate - time.time()
            if ahead > 0.001:
                time.sleep(ahead)
        # Our own flow control: paho's queue beyond its in-flight window can stall under load.
        if qos:
            window.acquire()
        info = client.publish(f"{prefix}/{i % topics}", str(i), qos=qos)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            raise SystemExit(f"publish {i} failed: {paho.error_string(info.rc)}")
    last_publish = time.time()
    if qos == 0:
        done.set()
    done.wait(120)
    last_ack = time.time()
    client.loop_stop()
    client.disconnect()
    return {"published": count, "acked": acked[0] if qos else count, "started": started,
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
