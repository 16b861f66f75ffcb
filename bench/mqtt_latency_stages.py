"""Where the MQTT round trip's time goes inside the hub: `bench/mqtt_latency.py --spawn`, with the
daemon's stages timed round by round.

    python -m bench.mqtt_latency_stages [--rounds 300] [--synchronous full]

The daemon runs as `python -m bench.mqtt_latency_stages --daemon TRACE run -c CONFIG`: `hub run`
with the functions below wrapped to note the time (time.perf_counter, one clock for the machine)
at which each stage of a round begins, written to TRACE when it stops. A round starts when the
motion sensor's ON message is handed to the MQTT integration and ends when the light's command is
handed to the client library to publish; the broker's two legs (in and out) are the rest of what
bench/mqtt_latency.py measures. The wrappers cost a few microseconds each: the totals here run a
little above an uninstrumented run's.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import mqtt_latency

# (stage, the mark that ends it); each stage begins at the mark before it. A mark with a count
# is that occurrence of it within the round (the second commit is the automation's).
MARKS = ["received", "fold 1", "commit 1", "committed 1", "dispatch", "run", "fold 2", "commit 2", "committed 2",
         "execute", "publish"]
STAGES = {
    "fold 1": "message read, parsed, queued to the writer",
    "commit 1": "state change folded and its rows made",
    "committed 1": "state change committed (SQLite's thread; fsync if full)",
    "dispatch": "the automation engine handed the event",
    "run": "trigger matched, run started",
    "fold 2": "run's events made and queued",
    "commit 2": "run's events folded and their rows made",
    "committed 2": "run and command committed (SQLite's thread; fsync if full)",
    "execute": "the command router handed the request",
    "publish": "command made and handed to the MQTT client",
}


def instrument(marks: list[tuple[str, float]]) -> None:
    """Wrap the daemon's stages to append (mark, time) to `marks`."""
    import time

    from automations.engine import AutomationEngine
    from hub.commands import CommandRouter
    from hub.log import EventLog
    from hub.store.sqlite import SqliteBackend
    from integrations.mqtt.integration import MqttIntegration

    clock = time.perf_counter

    def wrap(cls: Any, name: str, mark: str | None, after: str | None = None,
             when: Callable[..., bool] | None = None) -> None:
        original = getattr(cls, name)
        if asyncio.iscoroutinefunction(original):
            async def wrapped(*args: Any) -> Any:
                if mark and (when is None or when(*args)):
                    marks.append((mark, clock()))
                result = await original(*args)
                if after:
                    marks.append((after, clock()))
                return result
        else:
            def wrapped(*args: Any) -> Any:  # type: ignore[misc]
                if mark and (when is None or when(*args)):
                    marks.append((mark, clock()))
                return original(*args)
        setattr(cls, name, wrapped)

    def motion_on(_self: Any, topic: bytes, payload: bytes, *_: Any) -> bool:
        return topic == b"bench/motion" and payload == b"ON"

    def turned_on(_self: Any, event: Any) -> bool:
        return event.type == "state_changed" and event.entity_id == "binary_sensor.bench_motion" \
            and (event.data.get("new_state") or {}).get("state") == "on"

    wrap(MqttIntegration, "_received", "received", when=motion_on)
    wrap(EventLog, "_fold_prepared", "fold")
    wrap(SqliteBackend, "commit_batch", "commit", after="committed")
    wrap(AutomationEngine, "dispatch", "dispatch", when=turned_on)
    wrap(AutomationEngine, "_start", "run")
    wrap(CommandRouter, "execute", "execute")
    wrap(MqttIntegration, "_publish", "publish")


def rounds(marks: list[tuple[str, float]]) -> tuple[list[dict[str, float]], int]:
    """Each complete round's stages in milliseconds, and how many rounds were incomplete."""
    out: list[dict[str, float]] = []
    incomplete = 0
    starts = [i for i, (mark, _) in enumerate(marks) if mark == "received"] + [len(marks)]
    for begin, end in itertools.pairwise(starts):
        seen: dict[str, int] = {}
        at: dict[str, float] = {}
        for mark, t in marks[begin:end]:
            seen[mark] = seen.get(mark, 0) + 1
            at.setdefault(mark if mark not in ("fold", "commit", "committed") else f"{mark} {seen[mark]}", t)
        if not all(m in at for m in MARKS) or sorted(MARKS, key=at.__getitem__) != MARKS:
            incomplete += 1
            continue
        stages = {m: (at[m] - at[prev]) * 1000 for prev, m in itertools.pairwise(MARKS)}
        stages["total"] = (at["publish"] - at["received"]) * 1000
        out.append(stages)
    return out, incomplete


def daemon(trace: str, argv: list[str]) -> int:
    """`hub` with its stages timed; the marks are written to `trace` when it stops."""
    from hub.cli import main as hub_main

    marks: list[tuple[str, float]] = []
    instrument(marks)
    try:
        return hub_main(argv)
    finally:
        Path(trace).write_text(json.dumps(marks))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--synchronous", default="full", choices=["full", "normal"])
    parser.add_argument("--daemon", metavar="TRACE", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.daemon:
        sys.exit(daemon(args.daemon, rest))
    folder = Path(tempfile.mkdtemp(prefix="mqtt-stages-"))
    trace = folder / "trace.json"
    broker, hub_process, port = mqtt_latency.spawn(
        folder, args.synchronous, [sys.executable, "-m", "bench.mqtt_latency_stages", "--daemon", str(trace)])
    try:
        measured = argparse.Namespace(rounds=args.rounds, motion_topic="bench/motion", light_topic="bench/light/set",
                                      expect="ON", settle=0.02, timeout=5.0)
        asyncio.run(mqtt_latency.measure(measured, "127.0.0.1", port))
    finally:
        hub_process.terminate()
        hub_process.wait(30)
        broker.stop()  # type: ignore[attr-defined]
    timed, incomplete = rounds([(m, t) for m, t in json.loads(trace.read_text())])
    timed = timed[3:]  # the first rounds warm caches up, as in bench/mqtt_latency.py
    slowest = sorted(timed, key=lambda r: r["total"])[-max(1, len(timed) // 20):]
    print(f"inside the hub, synchronous={args.synchronous}, {len(timed)} rounds ({incomplete} incomplete, left out):")
    print(f"  {'stage (ending when)':<52} {'median':>8} {'slowest 5%':>11}")
    for mark, label in STAGES.items():
        print(f"  {label:<52} {statistics.median(r[mark] for r in timed):6.3f} ms "
              f"{statistics.mean(r[mark] for r in slowest):8.3f} ms")
    print(f"  {'message handed in -> command handed out':<52} {statistics.median(r['total'] for r in timed):6.3f} ms "
          f"{statistics.mean(r['total'] for r in slowest):8.3f} ms")


if __name__ == "__main__":
    main()
