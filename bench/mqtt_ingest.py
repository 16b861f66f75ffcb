"""Sustained MQTT ingest: N msg/s on 50 topics at QoS 1 into the log, count in log vs count published.

    .venv/bin/python bench/mqtt_ingest.py [--seconds 60] [--rate 20000] [--topics 50] [--mode state|capture]

A private Mosquitto is started. The publisher runs in its own process (bench/mqtt_load.py).
Baseline, in the same run: the same load received by a do-nothing subscriber process (the
broker alone). Then the hub: the MQTT integration and a real SQLite log (synchronous=full,
as the daemon runs) in this process, each message acknowledged only once durable.
Prints published/acked/logged counts, rates, the lag after the last publish, CPU time per message
(the event loop's thread, which limits the rate, and the whole process), and RSS over time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "mqtt"))
sys.path.insert(0, str(ROOT))

from mqtt_broker import Broker  # noqa: E402

from hub.integration import IntegrationContext  # noqa: E402
from hub.log import open_log  # noqa: E402
from integrations.mqtt import MqttConfig, MqttIntegration  # noqa: E402

LOAD = str(ROOT / "bench" / "mqtt_load.py")


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def load(mode: str, port: int, count: int, **opts: Any) -> subprocess.Popen[str]:
    args = [sys.executable, LOAD, mode, "--port", str(port), "--count", str(count)]
    for key, value in opts.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    return subprocess.Popen(args, stdout=subprocess.PIPE, text=True)


def result(proc: subprocess.Popen[str]) -> dict[str, float]:
    out, _ = proc.communicate(timeout=900)
    if proc.returncode:
        raise SystemExit(f"load process failed with {proc.returncode}")
    return json.loads(out)  # type: ignore[no-any-return]


def baseline(port: int, count: int, rate: float, topics: int) -> dict[str, float]:
    ready = Path(tempfile.mkdtemp()) / "ready"
    sub = load("subscribe", port, count, ready_file=ready, prefix="base/sensor")
    while not ready.exists():
        time.sleep(0.01)
    pub = result(load("publish", port, count, rate=rate, topics=topics, prefix="base/sensor"))
    got = result(sub)
    return {"published": pub["published"], "received": got["received"], "publish_rate": pub["publish_rate"],
            "lag_after_last_publish_s": got["last"] - pub["last_publish"]}


async def hub_run(port: int, folder: Path, count: int, rate: float, topics: int, mode: str,
                  synchronous: str) -> dict[str, Any]:
    entities = [{"platform": "sensor", "object_id": f"bench_{i}", "state_topic": f"bench/sensor/{i}"}
                for i in range(topics)] if mode == "state" else []
    cfg = MqttConfig.model_validate({"type": "mqtt", "id": "mqtt", "url": f"mqtt://127.0.0.1:{port}",
                                     "entities": entities, "discovery": False,
                                     "capture": ["bench/#"] if mode == "capture" else []})
    kind = "state_changed" if mode == "state" else "mqtt_message"
    async with open_log(str(folder / "hub.db"), synchronous=synchronous) as log:
        integration = MqttIntegration(cfg, IntegrationContext(log, "mqtt"))
        task = asyncio.create_task(integration.run())
        while not (integration.connected and integration._subscribed):
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.5)
        before = log.metrics.events_by_type[kind]
        rss = [rss_mib()]
        cpu_main, cpu_all = time.thread_time(), time.process_time()
        pub_proc = load("publish", port, count, rate=rate, topics=topics)
        started = time.time()
        last_sample = started
        while pub_proc.poll() is None:
            await asyncio.sleep(0.05)
            if time.time() - last_sample >= 1.0:
                rss.append(rss_mib())
                last_sample = time.time()
        pub = result(pub_proc)
        deadline = time.time() + 120
        while log.metrics.events_by_type[kind] - before < count and time.time() < deadline:
            await asyncio.sleep(0.002)
        caught_up = time.time()
        logged = log.metrics.events_by_type[kind] - before
        cpu_main, cpu_all = time.thread_time() - cpu_main, time.process_time() - cpu_all
        rss.append(rss_mib())
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        rejected = log.metrics.rejected_by.get("mqtt", 0)
    return {"published": pub["published"], "acked_by_broker": pub["acked"], "logged": logged,
            "rejected": rejected, "publish_rate": pub["publish_rate"],
            # From the publisher's first message (its process start-up is not the hub's time) to the last logged.
            "ingest_rate": logged / max(caught_up - pub["started"], 1e-9),
            "ingest_rate_from_spawn": logged / max(caught_up - started, 1e-9),
            "lag_after_last_publish_s": caught_up - pub["last_publish"],
            "cpu_us_per_message": {"event_loop_thread": cpu_main / max(logged, 1) * 1e6,
                                   "process": cpu_all / max(logged, 1) * 1e6},
            "rss_mib": {"start": rss[0], "median": sorted(rss)[len(rss) // 2], "max": max(rss), "end": rss[-1]}}


def main() -> None:
    parser = argparse.ArgumentParser(description="sustained MQTT ingest into the hub's log")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=20_000.0)
    parser.add_argument("--topics", type=int, default=50)
    parser.add_argument("--mode", choices=("state", "capture"), default="state",
                        help="state: 50 configured sensors (state_changed); capture: mqtt_message events")
    parser.add_argument("--synchronous", choices=("full", "normal"), default="full")
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()
    count = int(args.rate * args.seconds)
    folder = Path(tempfile.mkdtemp(prefix="mqtt-ingest-"))
    broker = Broker(folder / "mosquitto")
    broker.start()
    try:
        print(f"sustained ingest: {count} messages at {args.rate:.0f}/s target on {args.topics} topics, QoS 1, "
              f"mode={args.mode}, sqlite synchronous={args.synchronous}")
        if not args.skip_baseline:
            base = baseline(broker.port, count, args.rate, args.topics)
            print("baseline (broker -> do-nothing subscriber):", json.dumps(base, indent=None))
        hub = asyncio.run(hub_run(broker.port, folder, count, args.rate, args.topics, args.mode, args.synchronous))
        print("hub (broker -> mqtt integration -> durable log -> ack):", json.dumps(hub, indent=None))
        ok = hub["logged"] == hub["published"]
        print(f"count in log == count published: {ok} ({hub['logged']} / {hub['published']})")
        if not args.skip_baseline:
            print(f"hub ingest rate / baseline publish rate: {hub['ingest_rate'] / base['publish_rate']:.2f}")
    finally:
        broker.stop()


if __name__ == "__main__":
    main()
