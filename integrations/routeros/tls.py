"""TLS for the REST transport: verification by default, a CA file, or a pinned certificate."""

from __future__ import annotations

import hashlib
import hmac
import ssl

from integrations.routeros.config import RouterOSConfig


class _PinnedSSLObject(ssl.SSLObject):
    """Checks the peer certificate's SHA-256 right after the handshake, before any request."""

    expected: str = ""

    def do_handshake(self) -> None:
        super().do_handshake()
        der = self.getpeercert(binary_form=True)
        seen = hashlib.sha256(der or b"").hexdigest()
        if not hmac.compare_digest(seen, self.expected):
            raise ssl.SSLCertVerificationError(
                f"certificate fingerprint sha256:{seen} is not the pinned sha256:{self.expected}")


def ssl_context(config: RouterOSConfig) -> ssl.SSLContext:
    """The context for the router's HTTPS: a pinned fingerprint, a CA file, or the system CAs."""
    if config.fingerprint:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        # The pin replaces chain and name checks (RouterOS certificates are mostly self-signed).
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.sslobject_class = type("PinnedSSLObject", (_PinnedSSLObject,), {"expected": config.fingerprint})
        return ctx
    if isinstance(config.verify_ssl, str):
        return ssl.create_default_context(cafile=config.verify_ssl)
    return ssl.create_default_context()


def fingerprint_of(der: bytes) -> str:
    """`sha256:<hex>` of a DER certificate, as the config's `fingerprint` takes it."""
    return "sha256:" + hashlib.sha256(der).hexdigest()
