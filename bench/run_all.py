"""`make bench`: every benchmark in turn, each printing its figures and its baseline.

The large-log figures of the README come from `python -m bench.core_queries --events 10000000` and
`python -m bench.mcp_tools --events 10000000` (each builds a 10M-event log first: tens of minutes);
this runner uses 1,000,000 events so that it finishes in well under an hour.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOG_1M = os.path.join(tempfile.gettempdir(), "hub-bench-run-all-1m.db")  # made by core_queries, then rebuilt

RUNS: list[list[str]] = [
    ["-m", "bench.core_ingest"],
    ["-m", "bench.core_ingest_parts", "--beside-writer"],
    ["-m", "bench.core_ingest_timeline"],
    ["-m", "bench.core_latency"],
    ["-m", "bench.core_queries", "--events", "1000000", "--days", "36.5", "--db", LOG_1M],
    ["-m", "bench.core_rebuild_timeline", "--db", LOG_1M],
    ["-m", "bench.core_rebuild_timeline", "--db", LOG_1M, "--writer-alone"],
    ["-m", "bench.core_rebuild_instructions", "--db", LOG_1M],
    ["-m", "bench.automations_latency"],
    ["-m", "bench.automations_replay"],
    ["bench/mqtt_burst.py"],
    ["bench/mqtt_latency.py", "--spawn"],
    ["-m", "bench.mqtt_latency_stages"],
    ["bench/gc_pause.py"],
    ["bench/mqtt_ingest.py", "--seconds", "20"],
    ["-m", "bench.mcp_tools"],
    ["bench/store_postgres.py"],
    ["bench/ring_push.py", "300"],
    ["bench/unifi_poll.py"],
    ["bench/routeros_parse.py"],
]


def main() -> int:
    failed = 0
    for args in RUNS:
        print(f"\n=== python {' '.join(args)}", flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, *args], cwd=ROOT)
        print(f"=== exit {code} after {time.monotonic() - started:.0f}s", flush=True)
        failed += code != 0
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(LOG_1M + suffix)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
