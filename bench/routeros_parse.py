"""RouterOS console parsing: `print terse` of a 2,000-lease DHCP table, against a naive
split-on-spaces baseline measured in the same run. Run: .venv/bin/python bench/routeros_parse.py"""

from __future__ import annotations

import statistics
import time

from integrations.routeros.console import parse_terse

LINE = (" {i} D address=192.168.{a}.{b} mac-address=AA:BB:CC:00:{a:02X}:{b:02X} server=defconf status=bound "
        "expires-after=9m1s last-seen=1m2s host-name=host-{i} comment=\"room {a}\"\r\n")
OUTPUT = "".join(LINE.format(i=i, a=i // 250, b=i % 250) for i in range(2000)) + "\r\n"


def baseline(output: str) -> list[dict[str, str]]:
    rows = []
    for line in output.splitlines():
        if line.strip():
            rows.append(dict(p.split("=", 1) for p in line.split() if "=" in p))
    return rows


def median_ms(fn: object, runs: int = 15) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn(OUTPUT) if fn is baseline else parse_terse(OUTPUT, "ip/dhcp-server/lease")  # type: ignore[operator]
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


if __name__ == "__main__":
    assert len(parse_terse(OUTPUT, "ip/dhcp-server/lease").rows) == 2000
    base, ours = median_ms(baseline), median_ms(parse_terse)
    print(f"parse_terse 2000 lines: median {ours:.2f} ms; naive split baseline {base:.2f} ms; ratio {ours / base:.1f}x")
