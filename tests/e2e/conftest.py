"""End-to-end fixtures: `hub run` as a subprocess on a private config, driven only through
the CLI and HTTP, as a user would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


class HubProcess:
    """A daemon on its own config and database, plus the CLI pointed at the same config."""

    def __init__(self, folder: Path, extra: str = "", *, interval: float = 0.2) -> None:
        self.folder = folder
        self.port = free_port()
        self.config = folder / "config.yaml"
        self.config.write_text(
            "hub:\n  name: Test\n  timezone: Europe/Berlin\n  latitude: 52.52\n  longitude: 13.40\n"
            f"  database: data/hub.db\n  http: {{host: 127.0.0.1, port: {self.port}}}\n  synchronous: normal\n"
            f"integrations:\n  - {{type: demo, id: demo, interval: {interval}}}\n" + extra,
            encoding="utf-8")
        self.proc: subprocess.Popen[str] | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self, *, wait: bool = True) -> subprocess.Popen[str]:
        self.proc = subprocess.Popen([sys.executable, "-m", "hub", "run", "-c", str(self.config)], cwd=self.folder,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        if wait:
            self.wait_healthy()
        return self.proc

    def wait_healthy(self, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"hub run exited {self.proc.returncode}: {self.proc.stderr.read()}")  # type: ignore[union-attr]
            try:
                body = httpx.get(self.url + "/health", timeout=1).json()
                if body["integrations"].get("demo", {}).get("status") == "connected":
                    return body  # type: ignore[no-any-return]
            except (httpx.HTTPError, KeyError, ValueError) as exc:
                last = exc
            time.sleep(0.05)
        raise AssertionError(f"hub did not become healthy: {last}")

    def cli(self, *args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([sys.executable, "-m", "hub", *args, "-c", str(self.config)], cwd=self.folder,
                                capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"hub {' '.join(args)} exited {result.returncode}: {result.stderr}")
        return result

    def cli_json(self, *args: str) -> Any:
        return json.loads(self.cli(*args, "--json").stdout)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        self.proc = None
        return code


@pytest.fixture
def hub_process(tmp_path: Path) -> Iterator[HubProcess]:
    hub = HubProcess(tmp_path)
    try:
        yield hub
    finally:
        hub.stop(signal.SIGKILL if hub.proc is not None and hub.proc.poll() is None else signal.SIGTERM)


@pytest.fixture
def make_hub(tmp_path: Path) -> Iterator[Any]:
    made: list[HubProcess] = []

    def make(extra: str = "", *, interval: float = 0.2, folder: Path | None = None) -> HubProcess:
        f = folder or tmp_path / f"hub{len(made)}"
        f.mkdir(exist_ok=True)
        hub = HubProcess(f, extra, interval=interval)
        made.append(hub)
        return hub

    try:
        yield make
    finally:
        for hub in made:
            hub.stop(signal.SIGKILL)
