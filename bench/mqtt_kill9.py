"""kill -9 of `hub run` under QoS 1 load with a persistent session: nothing the broker delivered is missing.

    .venv/bin/python bench/mqtt_kill9.py [--count 30000] [--rate 5000] [--kill-after 2]

Starts a private Mosquitto and `hub run` (capture of `bench/#`), publishes `--count` numbered
QoS 1 messages from another process, SIGKILLs the daemon `--kill-after` seconds into the load,
restarts it, waits until the load is done and the log stops growing, then compares the
numbers in the log's mqtt_message events with those published. Duplicates (committed but not
yet acknowledged at the kill) are counted and allowed; a missing number is a failure.
Baseline: the same load into a do-nothing subscriber (nothing killed).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from mqtt_ingest import Broker, baseline, load, result  # noqa: E402

CONFIG = """\
hub:
  database: {db}
  http: {{enabled: false}}
integrations:
  - {{type: mqtt, id: mqtt, url: "mqtt://127.0.0.1:{port}", discovery: false, capture: ["bench/#"]}}
"""


def daemon(config: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "hub", "run", "-c", str(config)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=open(log, "ab"))


def numbers(db: Path) -> list[int]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT data FROM events WHERE type = 'mqtt_message'").fetchall()
    return [int(json.loads(r[0])["payload"]) for r in rows]


def wait_connected(db: Path, starts: int, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with sqlite3.connect(db) as conn:
                n = conn.execute("SELECT count(*) FROM events WHERE type = 'integration_status' AND source = 'mqtt' "
                                 "AND data LIKE '%\"connected\"%'").fetchone()[0]
            if n >= starts:
                return
        except sqlite3.OperationalError:
            pass
        time.sleep(0.05)
    raise SystemExit("the daemon did not connect to the broker")


def main() -> None:
    parser = argparse.ArgumentParser(description="kill -9 under QoS 1 load: nothing delivered is missing")
    parser.add_argument("--count", type=int, default=30_000)
    parser.add_argument("--rate", type=float, default=5_000)
    parser.add_argument("--kill-after", type=float, default=2.0)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="mqtt-kill9-"))
    broker = Broker(folder / "mosquitto")
    broker.start()
    try:
        base = baseline(broker.port, args.count, args.rate, 50)
        print("baseline (do-nothing subscriber):", json.dumps(base))
        config = folder / "config.yaml"
        db = folder / "hub.db"
        config.write_text(CONFIG.format(db=db, port=broker.port))
        hub = daemon(config, folder / "hub.log")
        wait_connected(db, 1)
        pub = load("publish", broker.port, args.count, rate=args.rate, topics=50, prefix="bench/sensor")
        time.sleep(args.kill_after)
        hub.kill()
        hub.wait()
        at_kill = len(numbers(db))
        print(f"killed -9 after {args.kill_after}s with {at_kill} messages in the log")
        hub = daemon(config, folder / "hub.log")
        wait_connected(db, 2)
        published = result(pub)
        last, stable = -1, 0
        while stable < 20:
            now = len(numbers(db))
            stable = stable + 1 if now == last else 0
            last = now
            time.sleep(0.1)
        hub.terminate()
        hub.wait(30)
        got = numbers(db)
        missing = sorted(set(range(args.count)) - set(got))
        print(f"published {published['published']}, in the log {len(got)} ({len(set(got))} distinct, "
              f"{len(got) - len(set(got))} duplicates), missing {len(missing)}"
              + (f": first {missing[:10]}" if missing else ""))
        print("nothing missing:", not missing)
    finally:
        broker.stop()


if __name__ == "__main__":
    main()
