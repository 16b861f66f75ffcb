"""How long one UniFi poll takes, and its peak Python memory, as the site grows.

Serves the fake controller in-process (httpx.ASGITransport, no sockets) to a real
UnifiIntegration on a real log, and prints the median of several polls for 100
(the baseline), 1,000 and 10,000 connected clients, with the ratio to the baseline.
Run: .venv/bin/python bench/unifi_poll.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "unifi"))

from unifi_fake import FakeController  # noqa: E402

from hub.integration import IntegrationContext  # noqa: E402
from hub.log import open_log  # noqa: E402
from integrations.unifi import UnifiConfig, UnifiIntegration  # noqa: E402
from integrations.unifi.client import UnifiClient  # noqa: E402

SIZES = (100, 1_000, 10_000)
POLLS = 5


def clients(n: int, template: dict[str, object]) -> list[dict[str, object]]:
    out = []
    for i in range(n):
        entry = dict(template)
        entry.update(mac=f"02:10:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}:01", name=f"Client {i}",
                     hostname=f"client-{i}", ip=f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", is_wired=i % 4 == 0)
        out.append(entry)
    return out


async def measure(n: int, folder: Path) -> tuple[float, float, float]:
    controller = FakeController()
    controller.active = clients(n, controller.active[0])
    config = UnifiConfig.model_validate({"type": "unifi", "id": "unifi", "url": "http://unifi.test",
                                         "username": "hubuser", "password": "pw-Secret-4711", "websocket": False})
    async with open_log(str(folder / f"bench-{n}.db"), synchronous="normal") as log:
        ctx = IntegrationContext(log, "unifi")
        integration = UnifiIntegration(config, ctx, transport=httpx.ASGITransport(app=controller.app))
        async with UnifiClient(config, transport=integration.transport) as client:
            integration.client = client
            await client.connect()
            started = time.perf_counter()
            await integration.poll_once()  # first poll: registers every tracked entity
            first = time.perf_counter() - started
            times = []
            for _ in range(POLLS):
                started = time.perf_counter()
                await integration.poll_once()
                times.append(time.perf_counter() - started)
            tracemalloc.start()  # a separate poll: tracing slows Python down several times
            await integration.poll_once()
            peak = tracemalloc.get_traced_memory()[1] / 1e6
            tracemalloc.stop()
    return first, statistics.median(times), peak


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        results = {n: await measure(n, Path(tmp)) for n in SIZES}
    base = results[SIZES[0]][1]
    print(f"{'clients':>8} {'first poll s':>13} {'median poll s':>14} {'x baseline':>11} {'peak MB':>8}")
    for n, (first, median, peak) in results.items():
        print(f"{n:>8} {first:>13.3f} {median:>14.3f} {median / base:>11.1f} {peak:>8.1f}")
    print(f"(median of {POLLS} polls after the first; baseline = {SIZES[0]} clients; tracked entities are capped "
          "at max_tracked_clients=1000; peak = tracemalloc peak during one more poll)")


if __name__ == "__main__":
    asyncio.run(main())
