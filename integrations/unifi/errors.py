"""The one place where httpx's and the controller's errors become the hub's own.

    IntegrationError (hub)
    +-- AuthFailed (hub)     credentials or API key refused
    +-- RateLimited          HTTP 429; `retry_after` seconds
    +-- BadResponse          not the JSON the API promises; `body` holds a bounded excerpt
    +-- ControllerError      the controller answered `rc: error`; `msg` is its code
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator

import httpx

from hub.errors import IntegrationError
from hub.events import excerpt


class RateLimited(IntegrationError):
    """The controller answered 429."""

    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BadResponse(IntegrationError):
    """The controller's answer is not the JSON its API promises."""

    def __init__(self, message: str, body: bytes | str | object) -> None:
        super().__init__(message)
        self.body = excerpt(body)


class ControllerError(IntegrationError):
    """The controller refused a request with `meta.rc = error`."""

    def __init__(self, message: str, msg: str) -> None:
        super().__init__(message)
        self.msg = msg


def _is_cert_error(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


@contextlib.contextmanager
def translated(what: str, host: str, timeout: float) -> Iterator[None]:
    """Turn httpx's transport errors during `what` into IntegrationError naming the host.

    Messages carry the method, path and host only: never headers, cookies or bodies.
    """
    try:
        yield
    except httpx.TimeoutException as exc:
        raise IntegrationError(f"unifi: {what} on {host} timed out after {timeout:g}s "
                               f"({type(exc).__name__})") from None
    except httpx.ConnectError as exc:
        if _is_cert_error(exc):
            raise IntegrationError(f"unifi: the certificate of {host} is not trusted ({_reason(exc)}); "
                                   "set `fingerprint: sha256:...` or `verify_ssl: /path/to/ca.pem`") from None
        raise IntegrationError(f"unifi: cannot connect to {host} for {what} ({_reason(exc)})") from None
    except httpx.HTTPError as exc:
        raise IntegrationError(f"unifi: {what} on {host} failed ({type(exc).__name__}: "
                               f"{_reason(exc)})") from None


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."
