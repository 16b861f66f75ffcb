"""A fake RouterOS SSH server on loopback (asyncssh), answering console commands.

Commands found in `recorded` get their recorded output (a RouterOS 6 fixture); the others
are read by a small, independent RouterOS console reader and run against FakeRouter.
The reader rejects what a real console would treat as a second command (`;` outside
quotes, `$` or `[` inside an unquoted value), which is what the injection tests rely on.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncssh

from tests.routeros.fake_router import FakeRouter, RouterError

VERBS = {"print", "add", "set", "remove", "run", "get", "enable", "disable"}
TERSE_FLAGS = {"interface": {"disabled": "X", "running": "R", "slave": "S"},
               "ip/arp": {"dynamic": "D", "complete": "C"}, "ip/dhcp-server/lease": {"dynamic": "D"},
               "ip/firewall/address-list": {"disabled": "X", "dynamic": "D"}}


class ConsoleSyntaxError(Exception):
    pass


def tokenize(text: str) -> list[Any]:
    """Words, `key=value` pairs (value unquoted) and `[...]` groups as nested lists."""
    tokens, stack, i = [], [], 0
    current: list[Any] = tokens
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch == ";":
            raise ConsoleSyntaxError("a second command after ';'")
        elif ch == "[":
            stack.append(current)
            group: list[Any] = []
            current.append(group)
            current = group
            i += 1
        elif ch == "]":
            if not stack:
                raise ConsoleSyntaxError("unbalanced ]")
            current = stack.pop()
            i += 1
        else:
            j = i
            while j < len(text) and not text[j].isspace() and text[j] not in '[];"':
                if text[j] == "$":
                    raise ConsoleSyntaxError("variable substitution in an unquoted word")
                j += 1
            word = text[i:j]
            if j < len(text) and text[j] == '"':
                value, j = _string(text, j)
                word += "\0" + value  # a quoted part, kept apart from the key
            current.append(word)
            i = j
    if stack:
        raise ConsoleSyntaxError("unbalanced [")
    return tokens


def _string(text: str, start: int) -> tuple[str, int]:
    out, i = bytearray(), start + 1
    simple = {"n": b"\n", "r": b"\r", "t": b"\t", '"': b'"', "\\": b"\\", "$": b"$", "?": b"?", "_": b" "}
    while i < len(text):
        ch = text[i]
        if ch == '"':
            return out.decode(), i + 1
        if ch == "\\":
            pair = text[i + 1:i + 3]
            if len(pair) == 2 and all(c in "0123456789ABCDEF" for c in pair):
                out.append(int(pair, 16))
                i += 3
                continue
            if text[i + 1] not in simple:
                raise ConsoleSyntaxError(f"unknown escape \\{text[i + 1]}")
            out += simple[text[i + 1]]
            i += 2
            continue
        if ch == "$":
            raise ConsoleSyntaxError("variable substitution inside a string")
        out += ch.encode()
        i += 1
    raise ConsoleSyntaxError("unterminated string")


def pairs(words: list[Any]) -> dict[str, str]:
    out = {}
    for word in words:
        if not isinstance(word, str) or "=" not in word:
            raise ConsoleSyntaxError(f"expected key=value, got {word!r}")
        key, _, value = word.partition("=")
        out[key] = value[1:] if value.startswith("\0") else value
    return out


class Console:
    """Executes the console subset the SSH transport sends."""

    def __init__(self, router: FakeRouter) -> None:
        self.router = router

    def execute(self, text: str) -> str:
        tokens = tokenize(text)
        if tokens and tokens[0] == ":put":
            if len(tokens) != 2 or not isinstance(tokens[1], list):
                raise ConsoleSyntaxError("expected :put [command]")
            return self._put(tokens[1]) + "\r\n"
        return self._command(tokens)

    def _split(self, tokens: list[Any]) -> tuple[str, str, list[Any]]:
        path: list[str] = []
        for index, token in enumerate(tokens):
            if isinstance(token, str) and token in VERBS:
                menu = "/".join(path)
                if not self.router.knows(menu) and not menu == "system/script":
                    raise RouterError(400, "bad command name", menu)
                return menu, token, tokens[index + 1:]
            if not isinstance(token, str) or "=" in token:
                break
            path.extend(p for p in token.strip("/").split("/") if p)
        raise RouterError(400, "bad command name", " ".join(path))

    def _where(self, menu: str, group: Any) -> list[dict[str, str]]:
        if not isinstance(group, list) or group[:2] != ["find", "where"]:
            raise ConsoleSyntaxError("expected [find where ...]")
        conditions = [w for w in group[2:] if w != "and"]
        wanted = {k: {"yes": "true", "no": "false"}.get(v, v) for k, v in pairs(conditions).items()}
        rows = self.router.lists.get(menu, [])
        return [row for row in rows if all(row.get(k) == v for k, v in wanted.items())]

    def _command(self, tokens: list[Any]) -> str:
        menu, verb, rest = self._split(tokens)
        r = self.router
        if verb == "print" and rest == ["terse"]:
            rows = r.print(menu)
            return render_terse(menu, rows if isinstance(rows, list) else [rows])
        if verb == "add":
            r.add(menu, pairs(rest))
            return ""
        if verb == "set" and rest and isinstance(rest[0], list):
            for row in self._where(menu, rest[0]):
                r.set(menu, row[".id"], pairs(rest[1:]))
            return ""
        if verb == "set":
            r.set_singleton(menu, pairs(rest))
            return ""
        if verb == "remove" and len(rest) == 1:
            for row in self._where(menu, rest[0]):
                r.remove(menu, row[".id"])
            return ""
        if verb == "run" and menu == "system/script" and len(rest) == 1:
            for row in self._where(menu, rest[0]):
                r.run_script(row[".id"])
            return ""
        raise ConsoleSyntaxError(f"unsupported: {verb} {rest}")

    def _put(self, inner: list[Any]) -> str:
        if inner and inner[0] == "/ping":
            args = pairs(inner[1:])
            return str(int(self.router.ping(args["address"], int(args["count"]))[-1]["received"]))
        menu, verb, rest = self._split(inner)
        if verb == "get" and rest == ["name"]:
            return str(self.router.print(menu)["name"])  # type: ignore[call-overload]
        if verb == "print" and rest == ["as-value"]:
            rows = self.router.print(menu)
            rows = rows if isinstance(rows, list) else [rows]
            return ";".join(f"{k}={v}" for row in rows for k, v in row.items())
        raise ConsoleSyntaxError(f"unsupported: :put [{verb} {rest}]")


def render_terse(menu: str, rows: list[dict[str, str]]) -> str:
    flag_keys = TERSE_FLAGS.get(menu, {"disabled": "X"})
    lines = []
    for index, row in enumerate(rows):
        flags = "".join(letter for key, letter in flag_keys.items() if row.get(key) == "true")
        props = " ".join(f'{k}="{v}"' if (" " in v or not v) else f"{k}={v}"
                         for k, v in row.items() if k != ".id" and k not in flag_keys)
        lines.append(f"{index:>2} {flags:<2} {props}")
    return "\r\n".join(lines) + "\r\n\r\n"


class FakeSshServer:
    """asyncssh on 127.0.0.1 with one host key (replaceable, to model a changed router)."""

    def __init__(self, router: FakeRouter, *, username: str = "admin", password: str = "s3cret",
                 recorded: dict[str, str] | None = None) -> None:
        self.router = router
        self.console = Console(router)
        self.username, self.password = username, password
        self.recorded = recorded or {}
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.commands: list[str] = []
        self.mode = "normal"  # or "partial" (output cut mid-line), "silent" (never answers)
        self.port = 0
        self._server: asyncssh.SSHAcceptor | None = None
        self._release = asyncio.Event()

    async def start(self, port: int = 0) -> FakeSshServer:
        outer = self

        class Server(asyncssh.SSHServer):
            def begin_auth(self, username: str) -> bool:
                return True

            def password_auth_supported(self) -> bool:
                return True

            def validate_password(self, username: str, password: str) -> bool:
                return username == outer.username and password == outer.password

        self._server = await asyncssh.create_server(
            Server, "127.0.0.1", port, server_host_keys=[self.host_key], process_factory=self._process)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _process(self, process: asyncssh.SSHServerProcess[str]) -> None:
        command = process.command or ""
        self.commands.append(command)
        if self.mode == "silent":
            with contextlib.suppress(asyncio.CancelledError):
                await self._release.wait()
            process.exit(0)
            return
        if command in self.recorded:
            output = self.recorded[command]
        else:
            try:
                output = self.console.execute(command)
            except ConsoleSyntaxError as exc:
                output = f"syntax error ({exc}) (line 1 column 1)\r\n"
            except RouterError as exc:
                output = f"{exc.message} {exc.detail} (line 1 column 1)\r\n" if exc.message == "bad command name" \
                    else f"failure: {exc.detail}\r\n"
        if self.mode == "partial" and len(output) > 40:
            process.stdout.write(output[: len(output) * 2 // 3])
            process.channel.close()  # cut off: no exit status, no final newline
            return
        process.stdout.write(output)
        process.exit(0)
