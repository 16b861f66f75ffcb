"""Counters and gauges for /metrics (Prometheus text format) and /health."""

from __future__ import annotations

import time
from collections import Counter, deque
from typing import Any


class Metrics:
    """Process-wide counters; cheap enough for the append path."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.appended = 0
        self.commits = 0
        self.commit_seconds = 0.0
        self.write_failures = 0
        self.rejected_by: Counter[str] = Counter()
        self.events_by_type: Counter[str] = Counter()
        self.commands: Counter[str] = Counter()
        self.last_errors: deque[dict[str, Any]] = deque(maxlen=20)
        self.gauges: dict[str, float] = {}
        self._rate_window: deque[tuple[float, int]] = deque(maxlen=120)

    def rejected(self, origin: str) -> None:
        self.rejected_by[origin] += 1

    def committed(self, count: int, seconds: float, types: Counter[str]) -> None:
        self.appended += count
        self.commits += 1
        self.commit_seconds += seconds
        self.events_by_type.update(types)
        now = time.monotonic()
        if not self._rate_window or now - self._rate_window[-1][0] >= 1.0:
            self._rate_window.append((now, self.appended))

    def error(self, where: str, message: str) -> None:
        self.last_errors.append({"time": time.time(), "where": where, "error": message})

    def rate(self) -> float:
        """Events per second over the last minute or so."""
        if len(self._rate_window) < 2:
            return 0.0
        (t0, n0), (t1, n1) = self._rate_window[0], self._rate_window[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0

    def prometheus(self, extra: dict[str, float] | None = None) -> str:
        lines = [
            "# HELP hub_events_appended_total Events committed to the log by this process.",
            "# TYPE hub_events_appended_total counter",
            f"hub_events_appended_total {self.appended}",
            "# HELP hub_commits_total Write transactions committed.",
            "# TYPE hub_commits_total counter",
            f"hub_commits_total {self.commits}",
            "# HELP hub_commit_seconds_total Time spent in write transactions.",
            "# TYPE hub_commit_seconds_total counter",
            f"hub_commit_seconds_total {self.commit_seconds:.6f}",
            "# HELP hub_write_failures_total Write transactions that failed and were retried.",
            "# TYPE hub_write_failures_total counter",
            f"hub_write_failures_total {self.write_failures}",
            "# HELP hub_input_rejected_total Payloads rejected, by integration.",
            "# TYPE hub_input_rejected_total counter",
        ]
        lines += [f'hub_input_rejected_total{{integration="{k}"}} {v}' for k, v in sorted(self.rejected_by.items())]
        lines += ["# HELP hub_events_total Events committed, by type.", "# TYPE hub_events_total counter"]
        lines += [f'hub_events_total{{type="{k}"}} {v}' for k, v in sorted(self.events_by_type.items())]
        lines += ["# HELP hub_commands_total Command outcomes, by result.", "# TYPE hub_commands_total counter"]
        lines += [f'hub_commands_total{{result="{k}"}} {v}' for k, v in sorted(self.commands.items())]
        for name, value in sorted({**self.gauges, **(extra or {})}.items()):
            lines += [f"# TYPE {name} gauge", f"{name} {value}"]
        return "\n".join(lines) + "\n"
