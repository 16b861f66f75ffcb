"""A disk that refuses writes under the running daemon: `/health` and the process log say so, what
integrations report waits in memory and is retried, and nothing is lost or corrupted once the disk
takes writes again.

The daemon's file-size limit (RLIMIT_FSIZE, set on the running process from outside as `prlimit` does)
stands in for a full disk: every write that would extend a file fails, as on a full filesystem, with
no filesystem to fill and no privileges beyond owning the process. (Python ignores SIGXFSZ, so the
write fails with EFBIG instead of killing the process.)"""

from __future__ import annotations

import resource
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.conftest import HubProcess


def _health(hub: HubProcess) -> tuple[int, dict[str, Any]]:
    response = httpx.get(hub.url + "/health", timeout=2)
    return response.status_code, response.json()


def _until(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _stored(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    finally:
        conn.close()


def test_a_disk_that_refuses_writes_is_reported_and_loses_nothing(hub_process: HubProcess) -> None:
    hub = hub_process
    proc = hub.start()
    db = hub.folder / "data" / "hub.db"
    _until(lambda: _health(hub)[1]["last_seq"] > 20, 20, "the demo house's first events")

    _, hard = resource.prlimit(proc.pid, resource.RLIMIT_FSIZE)
    resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (1, hard))  # no file may grow past its first byte
    try:
        status, body = _until(lambda: (h := _health(hub))[0] == 503 and h, 20, "/health to report the log unwritable")
        assert body["status"] == "degraded" and body["log"]["writable"] is False
        assert "disk I/O error" in body["log"]["error"] and "check the disk: free space" in body["log"]["error"]
        # The demo house awaits each reading's commit, so one waits at a time; it is retried, not dropped.
        body = _until(lambda: (h := _health(hub)[1])["log"]["pending"] >= 1 and h, 20, "a reading to wait in memory")
        refused_at = body["last_seq"]
        time.sleep(1)  # several retries, all refused
        assert _health(hub)[1]["last_seq"] == refused_at and proc.poll() is None
    finally:
        resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (hard, hard))

    status, body = _until(lambda: (h := _health(hub))[0] == 200 and h[1]["last_seq"] > refused_at + 1 and h, 30,
                          "the waiting reading and the next ones to be committed")
    assert body["log"]["writable"] is True and body["log"]["error"] is None
    # The demo's awaited reading was committed, not failed: a failed append would have restarted it.
    assert body["integrations"]["demo"] == {**body["integrations"]["demo"], "status": "connected", "restarts": 0}
    assert hub.cli_json("state", "light.*")["states"]  # the projections answer again

    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    hub.proc = None
    assert proc.returncode == 0, err
    assert "cannot write to the event log" in err and "events wait in memory and are retried" in err
    assert "the event log is writable again" in err
    assert "Traceback" not in err

    # Every event the daemon had queued while the disk refused was committed, gap-free, and the file is sound.
    assert _stored(db) > refused_at + 1
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        seqs = [r[0] for r in conn.execute("SELECT seq FROM events ORDER BY seq")]
        assert seqs == list(range(1, len(seqs) + 1))
        assert conn.execute("SELECT count(*) FROM events WHERE type = 'hub_stopped'").fetchone()[0] == 1
    finally:
        conn.close()
    assert hub.cli("verify").returncode == 0
