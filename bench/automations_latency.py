"""Trigger-to-first-command latency inside the hub, with 500 automations loaded and with 1 (baseline).

Each sample reports a state change through the real log (SQLite in a temp folder) and
times, in the same process:
  engine    = engine receives the state_changed -> index lookup, trigger match, conditions done,
              the run's automation_triggered handed to the log (no I/O yet)
  decision  = engine receives the state_changed -> the command_requested is handed to the log
  in-hub    = engine receives the state_changed -> command_requested committed (in one commit
              with the run's automation_triggered, whose seq is the command's causation)
  end-to-end = report_state() called -> command_requested committed

    .venv/bin/python bench/automations_latency.py [--samples 300] [--synchronous normal|full]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from automations.config import load_rules
from automations.effects import LiveEffects
from automations.engine import AutomationEngine
from hub.commands import CommandRouter
from hub.config import load_config
from hub.log import open_log


def rules_yaml(n: int) -> str:
    lines = ["automations:"]
    for i in range(n):
        lines += [f"  - id: a{i}", "    mode: parallel", "    triggers:",
                  f"      - {{trigger: state, entity_id: binary_sensor.m{i}, to: 'on'}}",
                  "    conditions:", "      - {condition: state, entity_id: input_boolean.enabled, state: 'on'}",
                  "    actions:", f"      - {{action: light.turn_on, target: {{entity_id: light.l{i}}}}}"]
    return "\n".join(lines) + "\n"


class Stamped(AutomationEngine):
    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.received: dict[int, float] = {}

    def dispatch(self, event: Any) -> None:
        if event.type == "state_changed" and event.seq is not None:
            self.received[event.seq] = time.perf_counter()
        super().dispatch(event)


class StampedEffects(LiveEffects):
    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.handed: dict[int, float] = {}
        self.begun: dict[int, float] = {}
        self.committed: dict[int, float] = {}

    async def begin(self, run: Any, trigger: dict[str, Any], passed: bool, **kw: Any) -> int:
        self.begun.setdefault(run.causation, time.perf_counter())
        return await super().begin(run, trigger, passed, **kw)

    async def command(self, run: Any, command: str, targets: list[str], data: dict[str, Any]) -> dict[str, Any]:
        cause = run.causation
        self.handed.setdefault(cause, time.perf_counter())
        original, original_many = self.log.append, self.log.append_many

        async def append(event: Any) -> Any:
            stored = await original(event)
            self.committed.setdefault(cause, time.perf_counter())
            return stored

        async def append_many(events: Any, **kw: Any) -> Any:  # the run record and its first command
            stored = await original_many(events, **kw)
            self.committed.setdefault(cause, time.perf_counter())
            return stored

        self.log.append = append  # type: ignore[method-assign]
        self.log.append_many = append_many  # type: ignore[method-assign]
        try:
            return await super().command(run, command, targets, data)
        finally:
            del self.log.append
            del self.log.append_many


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


async def measure(n: int, samples: int, synchronous: str, folder: Path) -> dict[str, list[float]]:
    cfg_path = folder / f"config_{n}.yaml"
    cfg_path.write_text(rules_yaml(n))
    cfg = load_config(cfg_path)
    async with open_log(str(folder / f"hub_{n}.db"), synchronous=synchronous) as log:
        await log.report_state("input_boolean.enabled", "on", {}, source="bench")
        for i in range(n):
            await log.report_state(f"binary_sensor.m{i}", "off", {}, source="bench")
        router = CommandRouter(log)

        async def handle(cmd: Any) -> None:
            return None

        router.add_owner("lights", lambda t: t.startswith("light."), handle)
        rules = load_rules(cfg)
        engine = Stamped(log, cfg, rules=rules)
        effects = StampedEffects(log, engine.outcomes, engine.clock)
        engine.effects = effects
        tasks = [asyncio.create_task(router.run(log.head)), asyncio.create_task(engine.run())]
        await asyncio.sleep(0.05)
        out: dict[str, list[float]] = {"engine": [], "decision": [], "in-hub": [], "end-to-end": []}
        try:
            for k in range(samples + 20):
                i = k % n
                t0 = time.perf_counter()
                event = await log.report_state(f"binary_sensor.m{i}", "on", {}, source="bench")
                assert event is not None and event.seq is not None
                while event.seq not in effects.committed:
                    await asyncio.sleep(0.0002)
                await engine.idle()
                if k >= 20:  # warm-up
                    received = engine.received[event.seq]
                    out["engine"].append(effects.begun[event.seq] - received)
                    out["decision"].append(effects.handed[event.seq] - received)
                    out["in-hub"].append(effects.committed[event.seq] - received)
                    out["end-to-end"].append(effects.committed[event.seq] - t0)
                await log.report_state(f"binary_sensor.m{i}", "off", {}, source="bench")
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return out


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--synchronous", default="normal", choices=["normal", "full"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for n in (1, 500):
            results[n] = await measure(n, args.samples, args.synchronous, Path(tmp))
    print(f"trigger-to-first-command latency, {args.samples} samples, SQLite synchronous={args.synchronous}")
    print(f"{'measure':<12}{'automations':>12}{'p50 ms':>10}{'p99 ms':>10}")
    for metric in ("engine", "decision", "in-hub", "end-to-end"):
        for n in (1, 500):
            v = results[n][metric]
            print(f"{metric:<12}{n:>12}{pct(v, 0.5):>10.3f}{pct(v, 0.99):>10.3f}")
    for metric in ("engine", "decision", "in-hub"):
        ratio = statistics.median(results[500][metric]) / statistics.median(results[1][metric])
        print(f"median ratio 500/1 ({metric}): {ratio:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
