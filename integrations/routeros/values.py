"""RouterOS values (every one a string on the wire) read into Python, and user input validated.

Parsers raise ValueError with a message that names what was expected; the caller
records the bad value through ctx.reject and goes on with the rest.
"""

from __future__ import annotations

import ipaddress
import re

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(w|d|h|ms|us|m|s)")
_CLOCK = re.compile(r"^(?:(\d+)d)?(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$")
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|TiB)?$")
_SIZES = {None: 1, "B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4}
_UNITS = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 0.000001}
_MAC = re.compile(r"^[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,62}$")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?")


def parse_bool(text: str) -> bool:
    """`true`/`false` (REST) or `yes`/`no` (console)."""
    lowered = text.strip().lower()
    if lowered in ("true", "yes"):
        return True
    if lowered in ("false", "no"):
        return False
    raise ValueError(f"{text!r} is not true/false or yes/no")


def parse_int(text: str) -> int:
    """A non-negative integer (counters, percentages, byte counts)."""
    if not text.strip().isdigit():
        raise ValueError(f"{text!r} is not a whole number")
    return int(text.strip())


def parse_float(text: str) -> float:
    """A number, with RouterOS's unit suffix allowed (`45C`, `24.1V`, `-61dBm`)."""
    m = _NUMBER.match(text.strip())
    if m is None:
        raise ValueError(f"{text!r} is not a number")
    return float(m.group(0))


def parse_size(text: str) -> int:
    """Bytes: a plain number (REST) or `38.5MiB` (console)."""
    m = _SIZE.match(text.strip())
    if m is None:
        raise ValueError(f"{text!r} is not a size in bytes")
    return int(float(m.group(1)) * _SIZES[m.group(2)])


def parse_duration(text: str) -> float:
    """Seconds from RouterOS durations: `1w2d3h4m5s`, `3d04:05:06`, `00:01:02`, `1ms45us`."""
    s = text.strip()
    if not s:
        raise ValueError("empty duration")
    m = _CLOCK.match(s)
    if m:
        days, h, mi, sec = m.groups()
        return int(days or 0) * 86400 + int(h) * 3600 + int(mi) * 60 + float(sec)
    total, pos = 0.0, 0
    for part in _DURATION_PART.finditer(s):
        if part.start() != pos:
            break
        total += float(part.group(1)) * _UNITS[part.group(2)]
        pos = part.end()
    if pos != len(s):
        # A duration may end in a clock part: `1w2d03:04:05`.
        m = _CLOCK.match(s[pos:])
        if m is None or pos == 0:
            raise ValueError(f"{text!r} is not a RouterOS duration")
        days, h, mi, sec = m.groups()
        total += int(days or 0) * 86400 + int(h) * 3600 + int(mi) * 60 + float(sec)
    return total


def parse_mac(text: str) -> str:
    if not _MAC.match(text.strip()):
        raise ValueError(f"{text!r} is not a MAC address")
    return text.strip().upper()


def parse_ip(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise ValueError(f"{text!r} is not an IP address") from None


# --- user input ---------------------------------------------------------------


def check_name(value: object, what: str) -> str:
    """A list, script or interface name: letters, digits, `_ . -`, at most 63 characters."""
    if not isinstance(value, str) or not _NAME.match(value):
        raise ValueError(f"{what} must be 1-63 letters, digits, '_', '.' or '-' starting with a letter "
                         f"or digit, not {value!r}")
    return value


def check_address(value: object) -> str:
    """An address-list entry: an IP, a CIDR network, an IP range `a-b`, or a DNS name."""
    if not isinstance(value, str) or not value or len(value) > 253:
        raise ValueError(f"address must be an IP, a network, a range or a DNS name, not {value!r}")
    text = value.strip()
    try:
        return str(ipaddress.ip_network(text, strict=False)) if "/" in text else str(ipaddress.ip_address(text))
    except ValueError:
        pass
    if text.count("-") == 1 and all(c in "0123456789abcdefABCDEF.:-" for c in text):
        lo, hi = text.split("-")
        try:
            a, b = ipaddress.ip_address(lo), ipaddress.ip_address(hi)
        except ValueError:
            pass
        else:
            if a.version == b.version and a <= b:
                return f"{a}-{b}"
    if _HOSTNAME.match(text) and not text.replace(".", "").isdigit():
        return text.lower()
    raise ValueError(f"address must be an IP, a network, a range or a DNS name, not {value!r}")


def check_ip(value: object, what: str = "address") -> str:
    """One IP address (ping, traceroute, DNS servers)."""
    if not isinstance(value, str):
        raise ValueError(f"{what} must be an IP address, not {value!r}")
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise ValueError(f"{what} must be an IP address, not {value!r}") from None


def check_servers(value: object) -> list[str]:
    """DNS servers: a list or a comma-separated string of 1-10 IP addresses."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not items or len(items) > 10:
        raise ValueError(f"servers must be 1-10 IP addresses (a list or comma-separated), not {value!r}")
    return [check_ip(item, "each DNS server") for item in items]


def check_count(value: object, default: int, low: int, high: int, what: str = "count") -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit():
        raise ValueError(f"{what} must be a whole number from {low} to {high}, not {value!r}")
    number = int(value)
    if not low <= number <= high:
        raise ValueError(f"{what} must be from {low} to {high}, not {number}")
    return number


def slug(text: str) -> str:
    """An object_id part: lowercase [a-z0-9_]."""
    out = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return out or "unnamed"
