"""RouterOS errors, all IntegrationError subclasses so the supervisor retries them.

    IntegrationError (hub)
    +-- RouterOSError          the router answered with an error, or a transport failed
    |   +-- Unreachable        no answer: connection refused, reset or timed out
    |   |   +-- RestUnavailable  the router answers, but not with the REST API (RouterOS 6, www off)
    |   +-- UnknownMenu        the router has no such menu or command (no `wifi` package, ...)
    |   +-- MalformedOutput    the router's answer could not be read (partial SSH output, bad JSON)
    +-- AuthFailed (hub)
        +-- HostKeyChanged     the SSH host key differs from the one pinned on first use
"""

from __future__ import annotations

from hub.errors import AuthFailed, IntegrationError


class RouterOSError(IntegrationError):
    """The router refused a request, or the transport to it failed."""


class Unreachable(RouterOSError):
    """The router did not answer (refused, reset, timed out)."""


class RestUnavailable(Unreachable):
    """The router does not serve the REST API at the configured URL."""


class UnknownMenu(RouterOSError):
    """The router has no such menu or command."""


class MalformedOutput(RouterOSError):
    """An answer from the router could not be parsed."""


class HostKeyChanged(AuthFailed):
    """The router's SSH host key is not the one pinned on first use."""


__all__ = ["AuthFailed", "HostKeyChanged", "MalformedOutput", "RestUnavailable", "RouterOSError",
           "UnknownMenu", "Unreachable"]
