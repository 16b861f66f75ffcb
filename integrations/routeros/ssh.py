"""The SSH transport (RouterOS 6, or 7 with the web service off): console commands over
asyncssh, with the router's host key pinned on first use and checked on every connection."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncssh

from integrations.routeros import console
from integrations.routeros.config import RouterOSConfig
from integrations.routeros.console import Parsed, Value
from integrations.routeros.errors import AuthFailed, HostKeyChanged, MalformedOutput, RouterOSError, Unreachable

log = logging.getLogger(__name__)

Row = dict[str, str]


class KnownHosts:
    """A known-hosts file of pinned router keys (`[host]:port algorithm base64` per line)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @staticmethod
    def _pattern(host: str, port: int) -> str:
        return f"[{host}]:{port}"

    def lookup(self, host: str, port: int) -> asyncssh.SSHKey | None:
        if not self.path.exists():
            return None
        pattern = self._pattern(host, port)
        for line in self.path.read_text().splitlines():
            fields = line.split()
            if len(fields) >= 3 and fields[0] == pattern:
                return asyncssh.import_public_key(f"{fields[1]} {fields[2]}")
        return None

    def pin(self, host: str, port: int, key: asyncssh.SSHKey) -> None:
        """Record the key seen on first use (the file is rewritten atomically)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lines = self.path.read_text().splitlines() if self.path.exists() else []
        pattern = self._pattern(host, port)
        lines = [line for line in lines if not line.startswith(pattern + " ")]
        lines.append(f"{pattern} {key.export_public_key('openssh').decode().strip()}")
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("\n".join(lines) + "\n")
        os.replace(tmp, self.path)


class SshClient:
    """One router over SSH; every request is one exec channel running one console command."""

    name = "ssh"

    def __init__(self, config: RouterOSConfig, known_hosts: KnownHosts, *,
                 on_bad_line: Callable[[str, str, str], Any] | None = None,
                 **connect_options: Any) -> None:
        self.config = config
        self.host = config.host
        self.port = config.ssh_port
        self.known_hosts = known_hosts
        self.on_bad_line = on_bad_line
        self.connect_options = connect_options
        self.local_address: str | None = None
        self._conn: asyncssh.SSHClientConnection | None = None

    async def connect(self) -> Row:
        pinned = self.known_hosts.lookup(self.host, self.port)
        options: dict[str, Any] = {
            "port": self.port, "username": self.config.username,
            "password": self.config.password.get_secret_value(),
            "known_hosts": ([pinned], [], []) if pinned is not None else None,
            "client_keys": None, "agent_path": None, "config": None,
            "preferred_auth": "password,keyboard-interactive",
            "connect_timeout": self.config.timeout, "login_timeout": self.config.timeout,
            **self.connect_options,
        }
        try:
            self._conn = await asyncssh.connect(self.host, **options)
        except asyncssh.HostKeyNotVerifiable as exc:
            raise HostKeyChanged(
                f"routeros {self.host}:{self.port}: the SSH host key is not the one pinned in "
                f"{self.known_hosts.path} ({exc.reason}); if the router was replaced or reinstalled, "
                "delete its line there to pin the new key") from None
        except asyncssh.PermissionDenied:
            raise AuthFailed(f"routeros {self.host}:{self.port}: SSH login as {self.config.username!r} "
                             "refused") from None
        except (OSError, asyncssh.Error, TimeoutError) as exc:
            raise Unreachable(f"routeros {self.host}:{self.port}: SSH connection failed: "
                              f"{type(exc).__name__}: {exc}") from None
        if pinned is None:
            key = self._conn.get_server_host_key()
            if key is not None:
                self.known_hosts.pin(self.host, self.port, key)
                log.warning("routeros %s:%d: pinned SSH host key %s on first use in %s", self.host, self.port,
                            key.get_fingerprint(), self.known_hosts.path)
        sockname = self._conn.get_extra_info("sockname")
        self.local_address = str(sockname[0]) if sockname else None
        return (await self.get("system/resource"))[0]

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            await self._conn.wait_closed()
            self._conn = None

    async def run(self, command: str, *, timeout: float | None = None) -> str:
        """Run one console command; returns its output after checking it for console errors."""
        if self._conn is None:
            raise Unreachable(f"routeros {self.host}: SSH is not connected")
        limit = timeout if timeout is not None else self.config.timeout
        try:
            result = await asyncio.wait_for(self._conn.run(command, check=False), limit)
        except TimeoutError:
            raise Unreachable(f"routeros {self.host}: no answer to `{command}` over SSH within {limit:g}s") \
                from None
        except (OSError, asyncssh.Error) as exc:
            raise Unreachable(f"routeros {self.host}: SSH failed on `{command}`: {exc}") from None
        output = result.stdout if isinstance(result.stdout, str) else (result.stdout or b"").decode(
            "utf-8", errors="replace")
        console.check_error(output, command)
        if result.exit_status is None and result.exit_signal is None and not output.endswith("\n"):
            log.debug("routeros %s: `%s` closed without an exit status", self.host, command)
        return output

    # --- reads ---------------------------------------------------------------------

    async def print(self, menu: str) -> list[Row]:
        command = console.print_terse(menu)
        parsed: Parsed = console.parse_terse(await self.run(command), menu)
        for line, why in parsed.bad_lines:
            if self.on_bad_line is not None:
                await self.on_bad_line(command, why, line)
        return parsed.rows

    async def get(self, menu: str) -> list[Row]:
        command = console.print_values(menu)
        output = await self.run(command)
        if not output.endswith("\n") and output:
            raise MalformedOutput(f"routeros {self.host}: `{command}` output ends mid-line: {output[-60:]!r}")
        return console.parse_values(output)

    async def probe(self, timeout: float) -> None:
        await self.run(":put [/system identity get name]", timeout=timeout)

    # --- writes --------------------------------------------------------------------

    async def add(self, menu: str, values: dict[str, Value]) -> None:
        await self.run(console.add(menu, values))

    async def set_where(self, menu: str, where: dict[str, Value], values: dict[str, Value]) -> int:
        found = await self._count(menu, where)
        if found:
            await self.run(console.set_where(menu, where, values))
        return found

    async def set_singleton(self, menu: str, values: dict[str, Value]) -> None:
        await self.run(console.set_singleton(menu, values))

    async def remove(self, menu: str, where: dict[str, Value]) -> int:
        found = await self._count(menu, where)
        if found:
            await self.run(console.remove(menu, where))
        return found

    async def _count(self, menu: str, where: dict[str, Value]) -> int:
        rows = await self.print(menu)
        wire = {k: ("true" if v else "false") if isinstance(v, bool) else str(v) for k, v in where.items()}
        return sum(1 for row in rows if all(_same(row.get(k), v) for k, v in wire.items()))

    async def run_script(self, name: str) -> None:
        if not await self._count("system/script", {"name": name}):
            raise RouterOSError(f"routeros {self.host}: there is no script named {name!r}")
        await self.run(console.run_script(name))

    async def ping(self, address: str, count: int) -> list[Row]:
        output = (await self.run(console.ping(address, count), timeout=self.config.timeout + count)).strip()
        if not output.isdigit():
            raise MalformedOutput(f"routeros {self.host}: ping answered {output[:60]!r}, not a count")
        return [{"host": address, "sent": str(count), "received": output,
                 "packet-loss": str(round(100 * (count - int(output)) / count))}]

    async def traceroute(self, address: str) -> list[Row]:
        raise RouterOSError(f"routeros {self.host}: traceroute needs the REST transport (RouterOS 7)")


def _same(seen: str | None, wanted: str) -> bool:
    aliases = {"yes": "true", "no": "false"}
    return seen is not None and aliases.get(seen, seen) == aliases.get(wanted, wanted)
