"""TLS for the controller: the system trust store, a CA file, or one pinned certificate.

A pinned fingerprint is checked on a connection that sends nothing, before any
credential leaves the hub; the certificate it matched then becomes the only trust
anchor of every later connection (HTTP and websocket), so a different certificate
fails the handshake rather than being checked after the fact.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import ssl
from pathlib import Path

from hub.errors import AuthFailed, IntegrationError

from .config import UnifiConfig

log = logging.getLogger(__name__)

# OpenSSL's X509_V_FLAG_NO_CHECK_TIME: a pinned certificate is trusted as the exact bytes
# the user pinned, also after it expires (UniFi consoles let their self-signed one lapse).
_NO_CHECK_TIME = 0x200000
_warned_plain: set[str] = set()


async def ssl_context(cfg: UnifiConfig) -> ssl.SSLContext | None:
    """The SSLContext for `cfg.url`, or None for http:// (warned about once per host)."""
    if cfg.url.startswith("http://"):
        if cfg.host not in _warned_plain:
            _warned_plain.add(cfg.host)
            log.warning("%s: %s uses plain http://; credentials and cookies cross the network unencrypted "
                        "unless a TLS-terminating proxy is in between", cfg.id, cfg.host)
        return None
    if cfg.fingerprint is not None:
        der = await peer_certificate(cfg.host, cfg.timeout)
        seen = hashlib.sha256(der).hexdigest()
        if seen != cfg.fingerprint:
            raise AuthFailed(f"unifi: the certificate of {cfg.host} has fingerprint sha256:{seen}, "
                             f"not the pinned sha256:{cfg.fingerprint}; nothing was sent")
        ctx = ssl.create_default_context(cadata=ssl.DER_cert_to_PEM_cert(der))
        ctx.check_hostname = False
        ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN | _NO_CHECK_TIME
        return ctx
    if isinstance(cfg.verify_ssl, str):
        path = Path(cfg.verify_ssl).expanduser()
        try:
            return ssl.create_default_context(cafile=str(path))
        except (OSError, ssl.SSLError) as exc:
            raise IntegrationError(f"unifi: cannot load the CA file {path} for {cfg.host}: {exc}") from None
    return ssl.create_default_context()


async def peer_certificate(host_port: str, timeout: float) -> bytes:
    """The DER certificate that `host[:port]` presents (no verification, nothing sent)."""
    host, port = split_host_port(host_port, 443)
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    probe.check_hostname = False
    probe.verify_mode = ssl.CERT_NONE
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(host, port, ssl=probe, server_hostname=host)
    except TimeoutError:
        raise IntegrationError(f"unifi: TLS handshake with {host_port} timed out after {timeout:g}s") from None
    except (OSError, ssl.SSLError) as exc:
        raise IntegrationError(f"unifi: cannot connect to {host_port} to check its certificate ({exc})") from None
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (OSError, ssl.SSLError):
            pass  # the certificate is what we came for; a rough close does not matter
    if not der:
        raise IntegrationError(f"unifi: {host_port} presented no certificate")
    return bytes(der)


def split_host_port(host_port: str, default_port: int) -> tuple[str, int]:
    """`host`, `host:port`, `[v6]:port` as (host, port)."""
    if host_port.startswith("["):
        host, _, rest = host_port[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else default_port
    if host_port.count(":") == 1:
        host, port = host_port.split(":")
        return host, int(port)
    return host_port, default_port
