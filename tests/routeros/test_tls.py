"""HTTPS to the REST API: verified by default, a CA file, or a pinned certificate fingerprint."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from integrations.routeros import RouterOSConfig
from integrations.routeros.errors import RouterOSError, Unreachable
from integrations.routeros.rest import RestClient
from integrations.routeros.tls import fingerprint_of
from tests.routeros.conftest import PASSWORD
from tests.routeros.fake_rest import FakeRestServer
from tests.routeros.fake_router import FakeRouter


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path, bytes]:
    """A self-signed certificate for 127.0.0.1, as RouterOS makes them."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "router")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path, cert.public_bytes(serialization.Encoding.DER)


@pytest.fixture
async def https(certificate: tuple[Path, Path, bytes]) -> AsyncIterator[FakeRestServer]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certificate[0], certificate[1])
    server = await FakeRestServer(FakeRouter(), password=PASSWORD, ssl_context=ctx).start()
    yield server
    await server.stop()


def client(url: str, **fields: object) -> RestClient:
    return RestClient(RouterOSConfig.model_validate({"type": "routeros", "id": "r", "url": url, "password": PASSWORD,
                                                     "timeout": "2s", **fields}))


async def test_pinned_fingerprint(https: FakeRestServer, certificate: tuple[Path, Path, bytes]) -> None:
    good = client(https.url, fingerprint=fingerprint_of(certificate[2]))
    try:
        assert (await good.connect())["version"] == "7.14.3 (stable)"
    finally:
        await good.close()
    bad = client(https.url, fingerprint="sha256:" + "00" * 32)
    try:
        with pytest.raises(RouterOSError, match="not trusted.*not the pinned") as caught:
            await bad.connect()
        assert not isinstance(caught.value, Unreachable)  # no silent fallback to SSH
    finally:
        await bad.close()
    assert [r for r in https.requests if r[0] == "GET"] == [("GET", "/rest/system/resource")]  # none from `bad`


async def test_ca_file_and_default_verification(https: FakeRestServer, certificate: tuple[Path, Path, bytes]) -> None:
    with_ca = client(https.url, verify_ssl=str(certificate[0]))
    try:
        assert (await with_ca.connect())["board-name"] == "hAP ax^3"
    finally:
        await with_ca.close()
    default = client(https.url)
    try:
        with pytest.raises(RouterOSError, match="not trusted"):
            await default.connect()
    finally:
        await default.close()
