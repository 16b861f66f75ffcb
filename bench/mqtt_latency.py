"""End-to-end latency through a real broker: motion message in -> state change -> automation -> light command out.

Drives any hub from outside, over MQTT only:

    .venv/bin/python bench/mqtt_latency.py --broker 127.0.0.1:1883 \\
        --motion-topic porch/motion --light-topic porch/light/set [--rounds 200]

The hub under test must map `--motion-topic` to a binary_sensor (payload ON/OFF) and run an
automation that turns on a light whose command topic is `--light-topic` when motion turns on
(for this hub: docs/mqtt.md, "Latency benchmark"). Each round publishes OFF, waits, publishes
ON and times until the light's `--expect` payload arrives. Baseline in the same run: the raw
broker round trip (publish and receive on one topic, same client, same broker).

`--spawn` starts a private Mosquitto and `hub run` with a generated config and automation
(this repository's daemon), then measures it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiomqtt

ROOT = Path(__file__).resolve().parent.parent


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


async def baseline(host: str, port: int, rounds: int) -> list[float]:
    out = []
    async with aiomqtt.Client(host, port, identifier=f"lat-base-{os.getpid()}") as client:
        _no_delay(client)
        topic = f"bench/echo/{os.getpid()}"
        await client.subscribe(topic, qos=1)
        messages = client.messages
        for i in range(rounds):
            t0 = time.perf_counter()
            await client.publish(topic, str(i), qos=1)
            async for msg in messages:
                if msg.payload == str(i).encode():
                    break
            out.append((time.perf_counter() - t0) * 1000)
    return out


async def hub_latency(host: str, port: int, motion: str, light: str, expect: str, rounds: int,
                      settle: float, timeout: float) -> list[float]:
    out = []
    async with aiomqtt.Client(host, port, identifier=f"lat-hub-{os.getpid()}") as client:
        _no_delay(client)
        await client.subscribe(light, qos=1)
        messages = client.messages
        for i in range(rounds + 3):
            await client.publish(motion, "OFF", qos=1)
            await asyncio.sleep(settle)
            while len(messages):                     # whatever the OFF caused
                await anext(messages)
            t0 = time.perf_counter()
            await client.publish(motion, "ON", qos=1)
            try:
                async with asyncio.timeout(timeout):
                    async for msg in messages:
                        if msg.topic.value == light and msg.payload.decode(errors="replace") == expect:
                            break
            except TimeoutError:
                raise SystemExit(f"round {i}: no {expect!r} on {light} within {timeout}s; is the automation "
                                 "loaded and the light's command_topic right?") from None
            if i >= 3:                               # the first rounds warm caches up
                out.append((time.perf_counter() - t0) * 1000)
    return out


def _no_delay(client: aiomqtt.Client) -> None:
    """The measuring clients send at once too (TCP_NODELAY), as the hub's own client does."""
    sock = client._client.socket()
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


CONFIG = """\
hub:
  name: Latency bench
  database: {db}
  synchronous: {synchronous}
  http: {{enabled: false}}
integrations:
  - type: mqtt
    id: mqtt
    url: mqtt://127.0.0.1:{port}
    discovery: false
    entities:
      - {{platform: binary_sensor, name: Bench motion, state_topic: bench/motion}}
      - {{platform: light, name: Bench light, command_topic: bench/light/set}}
automations:
  - id: bench_motion_light
    mode: queued
    max: 1000
    triggers:
      - trigger: state
        entity_id: binary_sensor.bench_motion
        to: "on"
    actions:
      - action: light.turn_on
        target: {{entity_id: light.bench_light}}
"""


def spawn(folder: Path, synchronous: str = "full", hub: list[str] | None = None
          ) -> tuple[object, subprocess.Popen[bytes], int]:
    """A private broker and `hub run` on a generated config (`hub`: the command that stands for `hub`)."""
    sys.path.insert(0, str(ROOT / "tests" / "mqtt"))
    from mqtt_broker import Broker

    # Without it Mosquitto holds a publish behind an unacknowledged PUBACK on the same connection
    # (Nagle against delayed ACKs): 40 ms on every round. Home Assistant users are told the same.
    broker = Broker(folder / "mosquitto", extra="set_tcp_nodelay true\n")
    broker.start()
    config = folder / "config.yaml"
    config.write_text(CONFIG.format(db=folder / "hub.db", port=broker.port, synchronous=synchronous))
    check = subprocess.run([sys.executable, "-m", "hub", "check", "-c", str(config)], capture_output=True, text=True)
    if check.returncode:
        broker.stop()
        raise SystemExit(f"hub check refused the generated config: {check.stdout}{check.stderr}")
    daemon = subprocess.Popen([*(hub or [sys.executable, "-m", "hub"]), "run", "-c", str(config)], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=open(folder / "hub.log", "wb"))
    time.sleep(3)
    if daemon.poll() is not None:
        broker.stop()
        raise SystemExit(f"hub run exited with {daemon.returncode}: {(folder / 'hub.log').read_text()[-2000:]}")
    return broker, daemon, broker.port


async def measure(args: argparse.Namespace, host: str, port: int) -> None:
    base = await baseline(host, port, args.rounds)
    hub = await hub_latency(host, port, args.motion_topic, args.light_topic, args.expect, args.rounds,
                            args.settle, args.timeout)
    print(f"{args.rounds} rounds via {host}:{port}")
    print(f"baseline (broker round trip, QoS 1): p50 {statistics.median(base):.3f} ms, p99 {pct(base, 99):.3f} ms")
    print(f"hub (motion in -> light command out): p50 {statistics.median(hub):.3f} ms, p99 {pct(hub, 99):.3f} ms, "
          f"max {max(hub):.3f} ms")
    print(f"hub minus baseline p50: {statistics.median(hub) - statistics.median(base):.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description="motion -> automation -> light latency through MQTT")
    parser.add_argument("--broker", default="127.0.0.1:1883", help="host:port of the hub's broker")
    parser.add_argument("--motion-topic", default="bench/motion")
    parser.add_argument("--light-topic", default="bench/light/set")
    parser.add_argument("--expect", default="ON", help="the light command payload that ends a round")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--settle", type=float, default=0.02, help="seconds between OFF and the timed ON")
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--spawn", action="store_true", help="start a private broker and `hub run` to measure")
    parser.add_argument("--synchronous", default="full", choices=["full", "normal"],
                        help="with --spawn: the hub's hub.synchronous (full fsyncs every commit)")
    args = parser.parse_args()
    if args.spawn:
        folder = Path(tempfile.mkdtemp(prefix="mqtt-latency-"))
        broker, daemon, port = spawn(folder, args.synchronous)
        try:
            asyncio.run(measure(args, "127.0.0.1", port))
        finally:
            daemon.terminate()
            daemon.wait(30)
            broker.stop()  # type: ignore[attr-defined]
        return
    host, _, port = args.broker.rpartition(":")
    asyncio.run(measure(args, host or "127.0.0.1", int(port)))


if __name__ == "__main__":
    main()
