"""`hub run` as a user meets it: health, metrics, the CLI verbs, clean stops and refusals."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import httpx

from tests.e2e.conftest import HubProcess


def test_daemon_serves_health_metrics_and_the_cli(hub_process: HubProcess) -> None:
    hub_process.start()
    health = httpx.get(hub_process.url + "/health").json()
    assert health["status"] == "ok" and health["integrations"]["sun"]["status"] == "connected"
    assert health["last_seq"] > 0 and health["projection_lag"] == 0
    metrics = httpx.get(hub_process.url + "/metrics").text
    assert "hub_events_appended_total" in metrics and 'hub_integration_up{integration="demo",type="demo"} 1' in metrics

    states = hub_process.cli_json("state", "light.*")["states"]
    assert {s["entity_id"] for s in states} == {"light.kitchen", "light.living_room", "light.porch"}
    sun = hub_process.cli_json("state", "sun.sun")["states"][0]
    assert sun["state"] in ("above_horizon", "below_horizon") and "next_rising" in sun["attributes"]

    sent = hub_process.cli_json("send", "light.porch", "turn_on", "brightness=128")
    assert sent["outcome"]["type"] == "command_succeeded"
    porch = hub_process.cli_json("state", "light.porch")["states"][0]
    assert porch["state"] == "on" and porch["attributes"]["brightness"] == 128

    failed = hub_process.cli("send", "light.porch", "turn_on", "brightness=900", check=False)
    assert failed.returncode == 1 and "brightness must be 0-255" in failed.stderr and "Traceback" not in failed.stderr

    history = hub_process.cli_json("history", "light.porch", "--since", "1h")["history"]
    assert [h["state"] for h in history][-2:] == ["off", "on"]

    request_seq = sent["request"]["seq"]
    explained = hub_process.cli_json("explain", str(porch_change_seq(hub_process, request_seq)))
    assert [c["seq"] for c in explained["chain"]][0] == request_seq
    text = hub_process.cli("explain", str(request_seq)).stdout
    assert "cli requested turn_on on light.porch" in text and "light.porch changed from off to on" in text
    # An entity id stands for its last change, which this command caused.
    last_change = hub_process.cli_json("events", "--entity", "light.porch", "--type", "state_changed")["events"][-1]
    by_entity = hub_process.cli_json("explain", "light.porch")
    assert [c["seq"] for c in by_entity["chain"]] == [request_seq, last_change["seq"]]
    # --at: the change in effect then; here the light's first state, which nothing caused.
    first = hub_process.cli_json("events", "--entity", "light.porch", "--type", "state_changed")["events"][0]
    at_first = hub_process.cli_json("explain", "light.porch", "--at", first["time"])
    assert [c["seq"] for c in at_first["chain"]] == [first["seq"]]
    unknown = hub_process.cli("explain", "light.nowhere", check=False)
    assert unknown.returncode == 1 and "no events of light.nowhere" in unknown.stderr
    garbled = hub_process.cli("explain", "Porch light", check=False)
    assert garbled.returncode == 1 and "neither an event's seq nor an entity id" in garbled.stderr

    events = hub_process.cli_json("events", "--type", "command_succeeded", "--since", "1h")["events"]
    assert events and events[-1]["causation"] == request_seq


def porch_change_seq(hub: HubProcess, request_seq: int) -> int:
    events = hub.cli_json("events", "--entity", "light.porch", "--type", "state_changed")["events"]
    return next(e["seq"] for e in events if e["causation"] == request_seq)


def test_follow_prints_new_events_as_they_come(hub_process: HubProcess) -> None:
    hub_process.start()
    follower = subprocess.Popen([sys.executable, "-m", "hub", "events", "--follow", "--json", "--type",
                                 "command_requested", "-c", str(hub_process.config)], cwd=hub_process.folder,
                                stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)
        hub_process.cli("send", "switch.coffee_maker", "turn_on")
        line = follower.stdout.readline()  # type: ignore[union-attr]
        event = json.loads(line)
        assert event["type"] == "command_requested" and event["entity_id"] == "switch.coffee_maker"
    finally:
        follower.terminate()
        follower.wait(10)
        follower.stdout.close()  # type: ignore[union-attr]


def test_a_follower_whose_reader_goes_away_stops_quietly(hub_process: HubProcess) -> None:
    """`hub events --follow | head -1`: once head has its line, the next write finds no reader."""
    hub_process.start()
    follower = subprocess.Popen([sys.executable, "-m", "hub", "events", "--follow", "--type", "command_requested",
                                 "-c", str(hub_process.config)], cwd=hub_process.folder,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)
        hub_process.cli("send", "switch.coffee_maker", "turn_on")
        assert "command_requested" in follower.stdout.readline()  # type: ignore[union-attr]
        follower.stdout.close()  # type: ignore[union-attr]
        hub_process.cli("send", "switch.coffee_maker", "turn_off")
        assert follower.wait(15) == 0
        stderr = follower.stderr.read()  # type: ignore[union-attr]
        assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()
        follower.stderr.close()  # type: ignore[union-attr]


def test_a_second_daemon_is_refused(hub_process: HubProcess) -> None:
    hub_process.start()
    second = subprocess.run([sys.executable, "-m", "hub", "run", "-c", str(hub_process.config)],
                            cwd=hub_process.folder, capture_output=True, text=True, timeout=30)
    assert second.returncode == 1
    assert "already running" in second.stderr and "Traceback" not in second.stderr


def test_sigterm_stops_cleanly_and_records_it(hub_process: HubProcess) -> None:
    hub_process.start()
    hub_process.cli("send", "light.kitchen", "turn_on")
    assert hub_process.stop(signal.SIGTERM) == 0
    last = hub_process.cli_json("events", "--limit", "100000")["events"][-1]
    assert last["type"] == "hub_stopped" and "SIGTERM" in last["data"]["reason"]
    verify = hub_process.cli_json("verify")
    assert verify["ok"] and verify["problems"] == []
    # Restart: the state the projections hold is the one the log says.
    hub_process.start()
    assert hub_process.cli_json("state", "light.kitchen")["states"][0]["state"] == "on"


def test_send_without_a_daemon_fails_clearly_and_is_recorded(hub_process: HubProcess) -> None:
    hub_process.start()
    hub_process.stop()
    result = hub_process.cli("send", "light.porch", "turn_on", check=False)
    assert result.returncode == 1 and "no hub daemon is running" in result.stderr
    failed = hub_process.cli_json("events", "--type", "command_failed")["events"]
    assert failed and "no hub daemon" in failed[-1]["data"]["reason"]


def test_broken_config_names_line_and_key_and_starts_nothing(hub_process: HubProcess) -> None:
    hub_process.config.write_text("hub:\n  database: data/hub.db\n  http: {port: 99999}\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "hub", "run", "-c", str(hub_process.config)],
                            cwd=hub_process.folder, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert f"{hub_process.config}:3: hub.http.port:" in result.stderr and "Traceback" not in result.stderr
    assert not (hub_process.folder / "data" / "hub.db").exists()
    check = subprocess.run([sys.executable, "-m", "hub", "check", "-c", str(hub_process.config)],
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 1 and "hub.http.port" in check.stderr


def test_corrupt_database_is_reported_and_refused(hub_process: HubProcess) -> None:
    hub_process.start()
    hub_process.stop()
    db = hub_process.folder / "data" / "hub.db"
    for suffix in ("-wal", "-shm"):
        (db.parent / (db.name + suffix)).unlink(missing_ok=True)
    raw = bytearray(db.read_bytes())
    for offset in range(4096, len(raw), 4096):  # scribble over every page after the first
        raw[offset + 100: offset + 300] = b"\xde\xad" * 100
    db.write_bytes(bytes(raw))
    size = db.stat().st_size
    verify = hub_process.cli("verify", check=False)
    assert verify.returncode == 1 and ("corrupt" in verify.stdout + verify.stderr
                                       or "malformed" in verify.stdout + verify.stderr)
    run = subprocess.run([sys.executable, "-m", "hub", "run", "-c", str(hub_process.config)],
                         cwd=hub_process.folder, capture_output=True, text=True, timeout=30)
    assert run.returncode == 1 and "hub verify" in run.stderr and "Traceback" not in run.stderr
    assert db.exists() and db.stat().st_size == size  # never renamed away or emptied
