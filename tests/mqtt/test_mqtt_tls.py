"""mqtts:// against a Mosquitto TLS listener with a private CA: verified, and refused without the CA."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
from pathlib import Path

import pytest
from conftest import events, wait_for
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from mqtt_broker import Broker

from hub import events as ev
from hub.integration import IntegrationContext
from integrations.mqtt import MqttConfig, MqttIntegration


def _certs(folder: Path) -> tuple[Path, Path, Path]:
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hub test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


# paho leaves the socket of a failed TLS handshake to the garbage collector (its bug, not ours);
# the refused connection below would otherwise fail the test with an unraisable ResourceWarning.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_mqtts_with_a_ca_file(tmp_path: Path, hub_log) -> None:
    ca, cert, key = _certs(tmp_path / "certs")
    broker = Broker(tmp_path / "tls", extra=f"cafile {ca}\ncertfile {cert}\nkeyfile {key}\n")
    broker.start()
    tasks = []
    try:
        good = MqttIntegration(MqttConfig.model_validate(
            {"type": "mqtt", "id": "good", "url": f"mqtts://127.0.0.1:{broker.port}", "ca_file": str(ca),
             "reconnect_max": 1}), IntegrationContext(hub_log, "good"))
        bad = MqttIntegration(MqttConfig.model_validate(
            {"type": "mqtt", "id": "bad", "url": f"mqtts://127.0.0.1:{broker.port}", "reconnect_max": 1}),
            IntegrationContext(hub_log, "bad"))
        tasks = [asyncio.create_task(good.run()), asyncio.create_task(bad.run())]
        await wait_for(lambda: good.connected, what="TLS connection with the CA")
        # The status is set before its event is durable: wait for the event itself.
        reasons = await wait_for(lambda: _reasons(hub_log, "bad"), what="TLS refused without the CA")
        assert "certificate verify failed" in reasons[0], reasons
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        broker.stop()


async def _reasons(log, source: str) -> list[str]:
    return [e.data["reason"] for e in await events(log, ev.INTEGRATION_STATUS) if e.source == source]
