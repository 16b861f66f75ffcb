"""Fixtures for the UniFi tests: the fake controller served by uvicorn on loopback, and a
running integration (supervised, with a command router) on a real log."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from unifi_fake import FakeController

from hub.commands import CommandRouter
from hub.integration import IntegrationContext
from hub.log import EventLog
from hub.supervisor import Supervisor
from integrations.unifi import UnifiConfig, UnifiIntegration


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """The fake controller behind a real uvicorn server; `restart()` keeps the port."""

    def __init__(self, controller: FakeController, certfile: Path | None = None, keyfile: Path | None = None) -> None:
        self.controller = controller
        self.port = _free_port()
        self.certfile, self.keyfile = certfile, keyfile
        self.server: uvicorn.Server | None = None
        self.task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.certfile else 'http'}://127.0.0.1:{self.port}"

    async def start(self) -> None:
        config = uvicorn.Config(self.controller.app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="off", timeout_graceful_shutdown=1, ws="websockets-sansio",
                                ssl_certfile=str(self.certfile) if self.certfile else None,
                                ssl_keyfile=str(self.keyfile) if self.keyfile else None)
        self.server = uvicorn.Server(config)
        self.server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self.task = asyncio.create_task(self.server.serve(), name="fake-unifi")
        while not self.server.started:
            if self.task.done():
                self.task.result()
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self.server is None or self.task is None:
            return
        await self.controller.close_websockets()
        self.server.should_exit = True
        await self.task
        self.server = self.task = None

    async def restart(self) -> None:
        """Stop, forget every session (as a restarted controller does), start on the same port."""
        await self.stop()
        self.controller.expire_sessions()
        await self.start()


@pytest.fixture
def controller() -> FakeController:
    return FakeController()


@pytest.fixture
async def served(controller: FakeController) -> AsyncIterator[Served]:
    s = Served(controller)
    await s.start()
    try:
        yield s
    finally:
        await s.stop()


@dataclass
class Cert:
    certfile: Path
    keyfile: Path
    der: bytes


def make_cert(tmp: Path, name: str = "unifi") -> Cert:
    """A self-signed certificate for 127.0.0.1, like the one a UniFi console makes for itself."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "UniFi")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    certfile, keyfile = tmp / f"{name}.crt", tmp / f"{name}.key"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return Cert(certfile, keyfile, cert.public_bytes(serialization.Encoding.DER))


def unifi_config(url: str, **overrides: Any) -> UnifiConfig:
    fields: dict[str, Any] = {"type": "unifi", "id": "unifi", "url": url, "username": "hubuser",
                              "password": "pw-Secret-4711", "poll_interval": "0.05s", "consider_home": "300s",
                              "timeout": "2s", "speedtest_poll": "0.02s", "speedtest_timeout": "10s"}
    fields.update(overrides)
    return UnifiConfig.model_validate(fields)


@dataclass
class Running:
    integration: UnifiIntegration
    ctx: IntegrationContext
    supervisor: Supervisor
    router: CommandRouter
    log: EventLog


@contextlib.asynccontextmanager
async def running(log: EventLog, config: UnifiConfig, **kwargs: Any) -> AsyncIterator[Running]:
    """The integration under a Supervisor (quick retries) with a CommandRouter, until the block exits."""
    ctx = IntegrationContext(log, config.id)
    integration = UnifiIntegration(config, ctx, **kwargs)
    supervisor = Supervisor(initial_backoff=0.05, max_backoff=0.2, healthy_after=60)
    supervisor.add(integration, ctx)
    router = CommandRouter(log, timeout=5)
    supervisor.register_owners(router)
    task = asyncio.create_task(_both(supervisor, router), name="unifi-under-test")
    try:
        yield Running(integration, ctx, supervisor, router, log)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _both(supervisor: Supervisor, router: CommandRouter) -> None:
    async with asyncio.TaskGroup() as tg:
        tg.create_task(supervisor.run())
        tg.create_task(router.run())


async def until(predicate: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    """Wait until `predicate()` is truthy (awaiting it if needed); fail naming `what`."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                value = predicate()
                if asyncio.iscoroutine(value):
                    value = await value
                if value:
                    return value
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout:g}s waiting for {what}") from None


def state(log: EventLog, entity_id: str) -> str | None:
    current = log.current_state(entity_id)
    return current.state if current else None


async def status_row(log: EventLog, status: str) -> Any:
    """Wait until the log's latest integration_status is `status`, and return that row."""
    from hub import events as ev
    from hub.store import EventFilter

    async def latest() -> Any:
        rows = await log.read(EventFilter(types=(ev.INTEGRATION_STATUS,), descending=True, limit=1))
        return rows[0] if rows and rows[0].data["status"] == status else None

    return await until(latest, f"integration_status {status}")
