"""Choosing the transport: REST, SSH, or auto (REST first, SSH when REST is not served)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from integrations.routeros.config import RouterOSConfig
from integrations.routeros.console import Value
from integrations.routeros.errors import RouterOSError, Unreachable
from integrations.routeros.rest import RestClient
from integrations.routeros.ssh import SshClient

log = logging.getLogger(__name__)

Row = dict[str, str]


class Transport(Protocol):
    """What the integration asks of a router connection; REST and SSH both provide it."""

    name: str
    local_address: str | None

    async def connect(self) -> Row: ...
    async def close(self) -> None: ...
    async def print(self, menu: str) -> list[Row]: ...
    async def get(self, menu: str) -> list[Row]: ...
    async def probe(self, timeout: float) -> None: ...
    async def add(self, menu: str, values: dict[str, Value]) -> None: ...
    async def set_where(self, menu: str, where: dict[str, Value], values: dict[str, Value]) -> int: ...
    async def set_singleton(self, menu: str, values: dict[str, Value]) -> None: ...
    async def remove(self, menu: str, where: dict[str, Value]) -> int: ...
    async def run_script(self, name: str) -> None: ...
    async def ping(self, address: str, count: int) -> list[Row]: ...
    async def traceroute(self, address: str) -> list[Row]: ...


class Connector:
    """Makes connected transports for one router, in the order its `transport` setting allows."""

    def __init__(self, config: RouterOSConfig, make_rest: Callable[[], RestClient],
                 make_ssh: Callable[[], SshClient]) -> None:
        self.config = config
        self.make_rest = make_rest
        self.make_ssh = make_ssh

    def order(self) -> list[str]:
        return {"auto": ["rest", "ssh"], "rest": ["rest"], "ssh": ["ssh"]}[self.config.transport]

    async def connect(self, *, skip: str | None = None) -> tuple[Transport, Row]:
        """The first transport that answers; `skip` leaves one out (the one that just failed).

        Only an unreachable REST API falls back to SSH: refused credentials or an untrusted
        certificate are raised, so that a man in the middle cannot force a downgrade.
        """
        names = [n for n in self.order() if n != skip] or self.order()
        failures: list[str] = []
        for index, name in enumerate(names):
            transport: Transport = self.make_rest() if name == "rest" else self.make_ssh()
            try:
                resource = await transport.connect()
            except Unreachable as exc:
                await transport.close()
                failures.append(str(exc))
                if index + 1 < len(names):
                    log.info("%s; trying %s", exc, names[index + 1])
                continue
            except BaseException:
                await transport.close()
                raise
            return transport, resource
        raise Unreachable("; ".join(failures))

    async def open_any(self, *, prefer: str | None = None) -> Transport:
        """A connected transport for a rollback: the preferred one first, then the other.

        Both are tried whatever `transport` says: a rollback is the one moment when any
        working path to the router is worth taking.
        """
        names = ["rest", "ssh"]
        if prefer in names:
            names = [prefer] + [n for n in names if n != prefer]
        failures: list[str] = []
        for name in names:
            transport: Transport = self.make_rest() if name == "rest" else self.make_ssh()
            try:
                await transport.connect()
            except RouterOSError as exc:
                await transport.close()
                failures.append(str(exc))
                continue
            except BaseException:  # cancelled by the caller's deadline: still close what was opened
                await transport.close()
                raise
            return transport
        raise Unreachable("; ".join(failures))


def describe(transport: Any) -> str:
    return str(getattr(transport, "name", "?"))
