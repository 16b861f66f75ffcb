"""Daemon memory under sustained load on a large log: `hub run` on an existing database with the
demo house stepping fast, its RSS sampled over the run. The baseline is its RSS once started,
before the load has had time to grow anything.

    python -m bench.core_memory --db /tmp/hub10m.db [--minutes 10] [--interval 0.002]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

import httpx

from bench.common import median, rss_mb
from tests.conftest import free_port


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True, help="an existing (large) hub database")
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--interval", type=float, default=0.002, help="demo step interval (seconds)")
    parser.add_argument("--sample", type=float, default=10, help="seconds between RSS samples")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="hub-bench-")
    port = free_port()
    config = os.path.join(folder, "config.yaml")
    with open(config, "w", encoding="utf-8") as fh:
        fh.write(f"hub:\n  database: {os.path.abspath(args.db)}\n  http: {{host: 127.0.0.1, port: {port}}}\n"
                 f"integrations:\n  - {{type: demo, id: demo, interval: {args.interval}}}\n")
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "hub", "run", "-c", config], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).json()
                if health["integrations"].get("demo", {}).get("status") == "connected":
                    break
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            if proc.poll() is not None:
                raise SystemExit(f"hub run exited with {proc.returncode}")
            time.sleep(0.2)
        ready = time.monotonic() - started
        first_seq = health["last_seq"]
        baseline = rss_mb(proc.pid)
        samples: list[tuple[float, float]] = []
        end = time.monotonic() + args.minutes * 60
        while time.monotonic() < end:
            time.sleep(args.sample)
            samples.append((time.monotonic() - started, rss_mb(proc.pid)))
        last = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    values = [v for _, v in samples]
    events = last["last_seq"] - first_seq
    print(f"daemon on {args.db} ({os.path.getsize(args.db) / 1e9:.1f} GB, seq {first_seq:,} at start), "
          f"healthy after {ready:.1f}s (includes PRAGMA quick_check):")
    print(f"  load: {events:,} events in {args.minutes:g} min ({events / (args.minutes * 60):,.0f}/s)")
    print(f"  RSS at start (baseline) {baseline:6.1f} MB; over the run: first {values[0]:6.1f}, median "
          f"{median(values):6.1f}, max {max(values):6.1f}, last {values[-1]:6.1f} MB")
    third = max(1, len(values) // 3)
    print(f"  drift: median of the last third minus the first third = "
          f"{median(values[-third:]) - median(values[:third]):+.1f} MB")


if __name__ == "__main__":
    main()
