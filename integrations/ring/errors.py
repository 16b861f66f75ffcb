"""The one place where ring-doorbell's exceptions become the hub's own.

    RingError (ring_doorbell)         -> hub error
    +-- Requires2FAError              -> AuthFailed   (the daemon never asks for a code)
    +-- AuthenticationError           -> AuthFailed   (token refused: run `hub ring login`)
    +-- RingTimeout                   -> RingUnavailable
    +-- RingError from an HTTP status -> RingHttpError (status, retry_after)
    +-- any other RingError           -> RingUnavailable
"""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import ClientConnectionError, ClientResponseError
from ring_doorbell import AuthenticationError, Requires2FAError, RingError, RingTimeout

from hub.errors import AuthFailed, IntegrationError

LOGIN_ADVICE = "run `hub ring login`"


class RingUnavailable(IntegrationError):
    """The Ring cloud could not be reached or answered with an error; retried with backoff."""


class RingHttpError(RingUnavailable):
    """The Ring cloud answered with an HTTP error status."""

    def __init__(self, message: str, status: int, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after

    @property
    def throttled_or_down(self) -> bool:
        return self.status == 429 or self.status >= 500


class TokenFileError(AuthFailed):
    """The token file is missing, unreadable, corrupt or readable by others."""


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with every secret replaced by `***` (tokens must never reach logs or events)."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def _retry_after(exc: ClientResponseError) -> float | None:
    value = exc.headers.get("Retry-After") if exc.headers else None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: rare from Ring, and our own backoff covers it


def translate(exc: RingError, what: str, secrets: Iterable[str | None] = ()) -> IntegrationError:
    """The hub error for a ring-doorbell error raised while doing `what`."""
    secrets = list(secrets)
    if isinstance(exc, Requires2FAError):
        return AuthFailed(f"ring: {what}: Ring asks for a two-factor code; {LOGIN_ADVICE}")
    if isinstance(exc, AuthenticationError):
        detail = redact(str(exc), secrets) or type(exc.__cause__).__name__
        return AuthFailed(f"ring: {what}: the stored token was refused ({detail}); {LOGIN_ADVICE}")
    if isinstance(exc, RingTimeout):
        return RingUnavailable(f"ring: {what} timed out")
    cause = exc.__cause__
    if isinstance(cause, ClientResponseError):
        return RingHttpError(f"ring: {what} failed (HTTP {cause.status})", cause.status, _retry_after(cause))
    if isinstance(cause, ClientConnectionError):
        return RingUnavailable(f"ring: {what} failed: cannot reach the Ring cloud ({type(cause).__name__}: "
                               f"{redact(str(cause), secrets)})")
    return RingUnavailable(f"ring: {what} failed: {redact(str(exc), secrets)}")
