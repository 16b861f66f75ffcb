"""The hub's exception tree: every error the hub raises on purpose derives from HubError.

    HubError
    +-- ConfigError          a configuration or automation file is invalid
    +-- StoreError           the event store failed (disk full, read-only, corrupt)
    |   +-- CorruptDatabase  the database file fails its integrity check
    |   +-- LockedDatabase   another daemon holds the database
    +-- CommandError         a command could not be carried out (reason is user-facing)
    +-- IntegrationError     an integration's device or cloud failed (retried)
    |   +-- AuthFailed       credentials were refused (retried only slowly)
    +-- InputRejected        a payload failed validation
    +-- UserError            a CLI or MCP request is wrong (unknown entity, bad time)
"""

from __future__ import annotations


class HubError(Exception):
    """Base of every error the hub raises on purpose."""


class ConfigError(HubError):
    """A configuration file is invalid; `problems` lists every problem found."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]


class StoreError(HubError):
    """The event store failed."""


class CorruptDatabase(StoreError):
    """The database file fails its integrity check."""


class LockedDatabase(StoreError):
    """Another daemon already runs on this database."""


class CommandError(HubError):
    """A command could not be carried out; the message is the recorded reason."""


class IntegrationError(HubError):
    """An integration's device, broker or cloud failed; the supervisor retries."""


class AuthFailed(IntegrationError):
    """Credentials were refused; the supervisor retries at its slowest pace."""


class InputRejected(HubError):
    """A payload failed validation; recorded as input_rejected."""


class UserError(HubError):
    """A request from a user (CLI, MCP) is wrong; the message says how."""
