"""Burst: 20,000 sensor messages sent as fast as a client can, every one committed; time after the last publish.

    .venv/bin/python bench/mqtt_burst.py [--count 20000] [--topics 50] [--mode state|capture] [--repeat 3]

Baseline in the same run: the same burst to a do-nothing subscriber (the broker alone):
its lag from the last publish to the last message received.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mqtt_ingest import Broker, baseline, hub_run  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description="burst of sensor messages into the hub's log")
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--topics", type=int, default=50)
    parser.add_argument("--mode", choices=("state", "capture"), default="state")
    parser.add_argument("--synchronous", choices=("full", "normal"), default="full")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="mqtt-burst-"))
    broker = Broker(folder / "mosquitto")
    broker.start()
    base_lags, hub_lags = [], []
    try:
        print(f"burst: {args.count} messages, as fast as the publisher can, {args.topics} topics, QoS 1, "
              f"mode={args.mode}, sqlite synchronous={args.synchronous}, {args.repeat} runs")
        for run in range(args.repeat):
            base = baseline(broker.port, args.count, 0, args.topics)
            hub = hub_run(broker.port, folder / f"run{run}", args.count, 0, args.topics, args.mode, args.synchronous)
            (folder / f"run{run}").mkdir()
            result = asyncio.run(hub)
            complete = result["logged"] == result["published"]
            base_lags.append(base["lag_after_last_publish_s"])
            hub_lags.append(result["lag_after_last_publish_s"])
            print(f"run {run + 1}: baseline lag {base['lag_after_last_publish_s']:.3f}s "
                  f"(publish {base['publish_rate']:.0f}/s); hub: {result['logged']}/{result['published']} in the "
                  f"log (complete: {complete}), committed {result['lag_after_last_publish_s']:.3f}s after the last "
                  f"publish (publish {result['publish_rate']:.0f}/s, rss max {result['rss_mib']['max']:.0f} MiB)")
        print(f"median: baseline {statistics.median(base_lags):.3f}s, hub {statistics.median(hub_lags):.3f}s "
              "after the last publish")
    finally:
        broker.stop()


if __name__ == "__main__":
    main()
