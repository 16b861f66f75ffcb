"""kill -9 under load: nothing whose append had returned is lost, and the projections are
consistent after restart."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.e2e.conftest import HubProcess

APPENDER = r"""
import asyncio, sys
from hub.log import open_log
from hub.events import Event

async def main():
    async with open_log(sys.argv[1], synchronous="full") as log:
        i = 0
        while True:
            i += 1
            batch = [Event("device_event", "loadgen", "event.button", {"i": i, "j": j}) for j in range(50)]
            stored = await log.append_many(batch)
            await log.report_state("sensor.counter", str(i), {}, source="loadgen")
            print(stored[-1].seq, stored[-1].id, i, flush=True)

asyncio.run(main())
"""


def test_kill_9_of_an_appending_process_loses_nothing_acknowledged(tmp_path: Path) -> None:
    db = tmp_path / "hub.db"
    proc = subprocess.Popen([sys.executable, "-c", APPENDER, str(db)], stdout=subprocess.PIPE, text=True)
    acknowledged: list[tuple[int, str, int]] = []
    deadline = time.monotonic() + 2.0
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line:
            seq, id_, i = line.split()
            acknowledged.append((int(seq), id_, int(i)))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    assert len(acknowledged) > 20
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        for seq, id_, _ in acknowledged:
            assert conn.execute("SELECT id FROM events WHERE seq=?", (seq,)).fetchone() == (id_,)
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        conn.close()
    # Reopen as the daemon would: projections catch up and agree with the log.
    config = tmp_path / "config.yaml"
    config.write_text(f"hub: {{database: {db}}}\n", encoding="utf-8")
    verify = subprocess.run([sys.executable, "-m", "hub", "verify", "--json", "-c", str(config)],
                            capture_output=True, text=True, timeout=60)
    report = json.loads(verify.stdout)
    assert report["head"] >= acknowledged[-1][0]
    rebuilt = subprocess.run([sys.executable, "-c", (
        "import asyncio,sys\nfrom hub.log import open_log\n"
        "async def m():\n  async with open_log(sys.argv[1]) as log:\n"
        "    s = log.current_state('sensor.counter')\n    print(s.state if s else None, log.fold.position, log.head)\n"
        "asyncio.run(m())"), str(db)], capture_output=True, text=True, timeout=60)
    counter, position, head = rebuilt.stdout.split()
    assert position == head and int(counter) >= acknowledged[-1][2]


def test_kill_9_of_the_daemon_under_load(make_hub: object) -> None:
    hub: HubProcess = make_hub(interval=0.001)  # type: ignore[operator]
    hub.start()
    outcomes: list[dict[str, object]] = []
    stop = threading.Event()

    def send_loop() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            result = hub.cli("send", "light.kitchen", "toggle", "--json", check=False, timeout=30)
            if result.returncode in (0, 1) and result.stdout.strip():
                outcomes.append(json.loads(result.stdout))

    sender = threading.Thread(target=send_loop)
    sender.start()
    time.sleep(3.0)
    assert hub.proc is not None
    hub.proc.send_signal(signal.SIGKILL)
    hub.proc.wait()
    stop.set()
    sender.join(60)
    hub.stop()
    acknowledged = [o for o in outcomes if o["outcome"]["type"] == "command_succeeded"]  # type: ignore[index]
    assert acknowledged, "no command completed before the kill"
    hub.start()
    events = {e["seq"]: e for e in hub.cli_json("events", "--type", "command_succeeded")["events"]}
    for item in acknowledged:
        outcome = item["outcome"]
        assert events[outcome["seq"]]["id"] == outcome["id"]  # type: ignore[index]
    hub.stop()
    verify = hub.cli_json("verify")
    assert verify["ok"], verify["problems"]
