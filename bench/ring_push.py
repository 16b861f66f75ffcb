"""Push-to-log latency of the Ring integration: a notification handed to ring-doorbell's
listener until its device_event is committed and seen by a log subscriber.

Baseline, measured in the same run on the same log: `ctx.device_event` appended directly
(no ring-doorbell parsing, no queue). Prints medians, p95 and the ratio.

    .venv/bin/python bench/ring_push.py [N]
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "ring"))
warnings.filterwarnings("ignore", "BasicAuth is deprecated", DeprecationWarning)
warnings.filterwarnings("ignore", "The 'auth' parameter is deprecated", DeprecationWarning)

from ring_fake_cloud import FakeRingCloud  # noqa: E402
from ring_helpers import Harness, Listeners, iso_now, push_notification  # noqa: E402

from hub import events as ev  # noqa: E402
from hub.log import open_log  # noqa: E402
from integrations.ring.token import StoredToken, TokenFile  # noqa: E402


def summary(name: str, samples: list[float]) -> float:
    samples = sorted(samples)
    median = statistics.median(samples)
    p95 = samples[int(len(samples) * 0.95) - 1]
    print(f"{name:<38} median {median * 1000:7.3f} ms   p95 {p95 * 1000:7.3f} ms   n={len(samples)}")
    return median


async def main(n: int) -> None:
    cloud = FakeRingCloud()
    await cloud.start()
    with tempfile.TemporaryDirectory() as tmp:
        token = Path(tmp) / "ring-token.json"
        TokenFile(token).save(StoredToken(token=cloud.issue_token()))
        try:
            async with open_log(str(Path(tmp) / "hub.db"), synchronous="normal") as log, \
                    cloud.client_session() as session:
                harness = Harness(log, session, token, Listeners())
                ring = harness.build(history_limit=0, poll_interval=3600)
                async with harness.running(ring):
                    while ring.ctx.last_status != "connected":
                        await asyncio.sleep(0.01)
                    sub = log.follow(types=(ev.DEVICE_EVENT,))
                    pushed: list[float] = []
                    created = iso_now()
                    for i in range(n):
                        note = push_notification("push_front_door_ding.json", created)
                        note["data"]["data"] = note["data"]["data"].replace("7300000000000000101", str(10**15 + i))
                        started = time.perf_counter()
                        harness.listeners.current.deliver(note)
                        await anext(sub)
                        pushed.append(time.perf_counter() - started)
                    direct: list[float] = []
                    for i in range(n):
                        started = time.perf_counter()
                        await ring.ctx.device_event("event.front_door_ding", "ding", {"n": i}, event_id=f"b{i}")
                        await anext(sub)
                        direct.append(time.perf_counter() - started)
                    sub.close()
        finally:
            await cloud.stop()
    print(f"ring push -> device_event, {n} dings (SQLite, synchronous=normal)")
    base = summary("baseline: ctx.device_event direct", direct)
    push = summary("push via RingEventListener callback", pushed)
    print(f"ratio push/baseline (medians): {push / base:.2f}")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 300))
