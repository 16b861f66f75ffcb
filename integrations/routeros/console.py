"""The RouterOS console language, as far as the SSH transport speaks it: quoting, command
building, and reading `print terse` and `:put [... as-value]` output.

Nothing user-supplied goes into a command except through `quote()`; menus and keys are
the integration's own constants, checked against strict patterns all the same.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from integrations.routeros.errors import MalformedOutput, RouterOSError, UnknownMenu

MENU = re.compile(r"^[a-z0-9][a-z0-9\-]*(?:/[a-z0-9][a-z0-9\-]*)*$")
KEY = re.compile(r"^\.?[a-z0-9][a-z0-9.\-]*$")
_KEY_AT = re.compile(r"(\.?[a-z0-9][a-z0-9.\-]*)=")
_NEXT_KEY = re.compile(r"\s+\.?[a-z0-9][a-z0-9.\-]*=")
_LINE = re.compile(r"^\s*(\d+)\s+(.*)$")
_FLAGS = re.compile(r"^([A-Z*]+)\s+")
_ERROR = re.compile(r"^(bad command name|no such command|syntax error|expected |no such item|input does not "
                    r"match|invalid value|ambiguous value|failure:|value of .* out of range|not enough "
                    r"permissions)", re.IGNORECASE)
_UNKNOWN = re.compile(r"^(bad command name|no such command)", re.IGNORECASE)
_UNESCAPE = {"n": "\n", "r": "\r", "t": "\t", "a": "\a", "b": "\b", "f": "\f", "v": "\v", "_": " "}

# What the one-letter flags of `print terse` mean, per menu (a missing flag means false).
FLAGS: dict[str, dict[str, str]] = {
    "interface": {"X": "disabled", "R": "running", "S": "slave", "D": "dynamic"},
    "ip/arp": {"X": "disabled", "I": "invalid", "H": "dhcp", "D": "dynamic", "P": "published",
               "C": "complete"},
    "ip/dhcp-server/lease": {"X": "disabled", "R": "radius", "D": "dynamic", "B": "blocked"},
    "ip/firewall/address-list": {"X": "disabled", "D": "dynamic"},
    "system/script": {"I": "invalid"},
}
_DEFAULT_FLAGS = {"X": "disabled", "D": "dynamic", "I": "invalid"}

Value = str | bool | int


def quote(value: str) -> str:
    """A RouterOS string literal that the console reads back as exactly `value`."""
    out = ['"']
    for ch in value:
        if ch in '\\"$?':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            out.extend(f"\\{byte:02X}" for byte in ch.encode("utf-8"))
    out.append('"')
    return "".join(out)


def unquote(text: str) -> str:
    """The value of a RouterOS string literal (with its quotes)."""
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        raise ValueError(f"not a quoted string: {text!r}")
    value, end = _read_quoted(text, 0)
    if end != len(text):
        raise ValueError(f"text after the closing quote: {text!r}")
    return value


def _read_quoted(text: str, start: int) -> tuple[str, int]:
    """Read the literal opening at text[start]; returns (value, index after the closing quote)."""
    raw = bytearray()
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == '"':
            return raw.decode("utf-8", errors="replace"), i + 1
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if re.match(r"[0-9A-F]{2}", text[i + 1:i + 3]):
                raw.append(int(text[i + 1:i + 3], 16))
                i += 3
                continue
            raw.extend(_UNESCAPE.get(nxt, nxt).encode())
            i += 2
            continue
        raw.extend(ch.encode())
        i += 1
    raise ValueError("unterminated quoted string")


def console_path(menu: str) -> str:
    """`ip/dhcp-server/lease` as the console writes it: `/ip dhcp-server lease` (RouterOS 6 and 7)."""
    if not MENU.match(menu):
        raise ValueError(f"not a menu path: {menu!r}")
    return "/" + menu.replace("/", " ")


def _literal(value: Value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    return quote(value)


def _pairs(values: dict[str, Value]) -> str:
    for key in values:
        if not KEY.match(key):
            raise ValueError(f"not a property name: {key!r}")
    return " ".join(f"{key}={_literal(value)}" for key, value in values.items())


def find(where: dict[str, Value]) -> str:
    """`[find where name="ether1" and disabled=no]`."""
    if not where:
        raise ValueError("find needs at least one condition")
    for key in where:
        if not KEY.match(key):
            raise ValueError(f"not a property name: {key!r}")
    return "[find where " + " and ".join(f"{k}={_literal(v)}" for k, v in where.items()) + "]"


def print_terse(menu: str) -> str:
    return f"{console_path(menu)} print terse"


def print_values(menu: str) -> str:
    return f":put [{console_path(menu)} print as-value]"


def add(menu: str, values: dict[str, Value]) -> str:
    return f"{console_path(menu)} add {_pairs(values)}"


def set_where(menu: str, where: dict[str, Value], values: dict[str, Value]) -> str:
    return f"{console_path(menu)} set {find(where)} {_pairs(values)}"


def set_singleton(menu: str, values: dict[str, Value]) -> str:
    return f"{console_path(menu)} set {_pairs(values)}"


def remove(menu: str, where: dict[str, Value]) -> str:
    return f"{console_path(menu)} remove {find(where)}"


def run_script(name: str) -> str:
    return f"/system script run {find({'name': name})}"


def ping(address: str, count_: int) -> str:
    return f":put [/ping address={quote(address)} count={count_}]"


# --- reading output --------------------------------------------------------------


def check_error(output: str, command: str) -> None:
    """Raise when the console answered with an error message instead of output."""
    first = next((line.strip() for line in output.splitlines() if line.strip()), "")
    if _UNKNOWN.match(first):
        raise UnknownMenu(f"the router does not know `{command}`: {first[:200]}")
    if _ERROR.match(first):
        raise RouterOSError(f"the router refused `{command}`: {first[:200]}")


@dataclass
class Parsed:
    """Rows read from console output, and the lines that could not be read."""

    rows: list[dict[str, str]] = field(default_factory=list)
    bad_lines: list[tuple[str, str]] = field(default_factory=list)  # (line, why)


def parse_pairs(text: str) -> dict[str, str]:
    """`name=ether1 comment="to the garden" mtu=1500` (unquoted values may hold spaces)."""
    row: dict[str, str] = {}
    i = 0
    text = text.strip()
    while i < len(text):
        m = _KEY_AT.match(text, i)
        if m is None:
            raise ValueError(f"expected key=value at {text[i:i + 40]!r}")
        key, i = m.group(1), m.end()
        if i < len(text) and text[i] == '"':
            value, i = _read_quoted(text, i)
        else:
            nxt = _NEXT_KEY.search(text, i)
            end = nxt.start() if nxt else len(text)
            value, i = text[i:end].rstrip(), end
        row[key] = value
        while i < len(text) and text[i].isspace():
            i += 1
    return row


def parse_terse(output: str, menu: str) -> Parsed:
    """Rows of `print terse`; a line that does not read (cut off, garbled) is set aside."""
    flags_of = FLAGS.get(menu, _DEFAULT_FLAGS)
    parsed = Parsed()
    lines = output.replace("\r\n", "\n").split("\n")
    complete = output.endswith("\n")
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        if index == len(lines) - 1 and not complete:
            parsed.bad_lines.append((line, "the output ends in the middle of this line"))
            continue
        m = _LINE.match(line)
        if m is None:
            parsed.bad_lines.append((line, "not an item line (`N [flags] key=value ...`)"))
            continue
        rest = m.group(2)
        flags = ""
        fm = _FLAGS.match(rest)
        if fm and "=" not in fm.group(1):
            flags, rest = fm.group(1), rest[fm.end():]
        try:
            row = parse_pairs(rest)
        except ValueError as exc:
            parsed.bad_lines.append((line, str(exc)))
            continue
        if not row:
            parsed.bad_lines.append((line, "no properties on the line"))
            continue
        for letter, name in flags_of.items():
            row.setdefault(name, "true" if letter in flags else "false")
        parsed.rows.append(row)
    return parsed


def parse_values(output: str) -> list[dict[str, str]]:
    """Rows of `:put [... print as-value]`: `k=v;k=v` (a repeated key starts the next row)."""
    text = output.strip()
    if not text:
        return []
    if "\n" in text:
        raise MalformedOutput(f"expected one line of key=value;... but got {text.count(chr(10)) + 1} lines")
    rows: list[dict[str, str]] = []
    row: dict[str, str] = {}
    last: str | None = None
    for segment in text.split(";"):
        m = _KEY_AT.match(segment)
        if m is None:
            if last is None:
                raise MalformedOutput(f"expected key=value at {segment[:40]!r}")
            row[last] += ";" + segment  # a value holding ';'
            continue
        key, value = m.group(1), segment[m.end():]
        if key in row:
            rows.append(row)
            row = {}
        row[key], last = value, key
    if row:
        rows.append(row)
    return rows
