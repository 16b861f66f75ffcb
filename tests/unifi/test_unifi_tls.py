"""TLS: a self-signed controller is reached through a pinned fingerprint or its CA file, and
refused (before any credential is sent) otherwise."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from conftest import Cert, Served, make_cert, running, state, status_row, unifi_config, until
from unifi_fake import FakeController

from hub.log import EventLog


@pytest.fixture
def cert(tmp_path: Path) -> Cert:
    return make_cert(tmp_path)


@pytest.fixture
async def tls_served(controller: FakeController, cert: Cert) -> AsyncIterator[Served]:
    s = Served(controller, cert.certfile, cert.keyfile)
    await s.start()
    try:
        yield s
    finally:
        await s.stop()


async def test_pinned_fingerprint(hub_log: EventLog, tls_served: Served, controller: FakeController,
                                  cert: Cert) -> None:
    pin = "sha256:" + ":".join(f"{b:02X}" for b in hashlib.sha256(cert.der).digest())
    async with running(hub_log, unifi_config(tls_served.url, fingerprint=pin)) as r:
        await until(lambda: r.integration.polls >= 1 and r.integration.websocket_connected, "connected over TLS")
        assert state(hub_log, "device_tracker.alice_s_iphone") == "home"
        assert controller.ws_opened == 1


async def test_wrong_fingerprint_sends_nothing(hub_log: EventLog, tls_served: Served, controller: FakeController,
                                               tmp_path: Path) -> None:
    other = make_cert(tmp_path, "other")
    pin = "sha256:" + hashlib.sha256(other.der).hexdigest()
    async with running(hub_log, unifi_config(tls_served.url, fingerprint=pin)) as _:
        row = await status_row(hub_log, "auth_failed")
        assert "not the pinned sha256:" in row.data["reason"] and "nothing was sent" in row.data["reason"]
        assert controller.requests == [] and controller.logins == 0


async def test_ca_file(hub_log: EventLog, tls_served: Served, cert: Cert) -> None:
    async with running(hub_log, unifi_config(tls_served.url, verify_ssl=str(cert.certfile))) as r:
        await until(lambda: r.integration.polls >= 1 and r.integration.websocket_connected, "connected with a CA file")


async def test_untrusted_certificate_is_refused(hub_log: EventLog, tls_served: Served,
                                                controller: FakeController) -> None:
    async with running(hub_log, unifi_config(tls_served.url)) as _:
        row = await status_row(hub_log, "unavailable")
        assert "is not trusted" in row.data["reason"] and "fingerprint" in row.data["reason"]
        assert controller.logins == 0


async def test_missing_ca_file(hub_log: EventLog, tls_served: Served, tmp_path: Path) -> None:
    async with running(hub_log, unifi_config(tls_served.url, verify_ssl=str(tmp_path / "nope.pem"))) as _:
        row = await status_row(hub_log, "unavailable")
        assert "cannot load the CA file" in row.data["reason"] and "nope.pem" in row.data["reason"]
