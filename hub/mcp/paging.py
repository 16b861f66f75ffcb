"""Bounded answers: a token estimate, fitting lists into a budget, and signed cursors to continue.

A cursor is `base64url(json).signature`: the JSON names the tool, the query it
continues (so a cursor from one query cannot steer another) and when it was
issued; the HMAC-SHA256 signature uses a key drawn when the server starts, so a
forged cursor, or one from an earlier run of the server, is refused with a
message that says to repeat the query without it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from hub.errors import UserError

T = TypeVar("T")

CHARS_PER_TOKEN = 4
CURSOR_TTL_S = 3600.0


def size_tokens(value: Any) -> int:
    """An estimate of the tokens a JSON value takes in an answer (about 4 characters per token)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    return len(text) // CHARS_PER_TOKEN + 1


def fit(items: Iterable[T], budget: int, *, size: Callable[[T], int] | None = None,
        limit: int | None = None) -> tuple[list[T], bool]:
    """The leading items that fit in `budget` tokens (and `limit` items); True when some were left out."""
    measure = size or (lambda item: size_tokens(_plain(item)))
    kept: list[T] = []
    used = 0
    for item in items:
        if limit is not None and len(kept) >= limit:
            return kept, True
        cost = measure(item)
        if kept and used + cost > budget:
            return kept, True
        if not kept and cost > budget:
            return kept, True
        kept.append(item)
        used += cost
    return kept, False


def _plain(item: Any) -> Any:
    dump = getattr(item, "model_dump", None)
    return dump(mode="json", exclude_none=True) if dump is not None else item


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Cursors:
    """Issues and checks HMAC-signed cursors that continue one query of one tool."""

    def __init__(self, key: bytes | None = None, *, ttl: float = CURSOR_TTL_S,
                 clock: Callable[[], float] = time.time) -> None:
        self._key = key or os.urandom(32)
        self.ttl = ttl
        self.clock = clock

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest()[:18])

    def issue(self, tool: str, query: dict[str, Any], position: dict[str, Any]) -> str:
        """A cursor that resumes `tool` on `query` at `position`."""
        body = _b64(json.dumps({"tool": tool, "q": _fingerprint(query), "p": position,
                                "t": int(self.clock())}, separators=(",", ":")).encode())
        return f"{body}.{self._sign(body)}"

    def resume(self, tool: str, query: dict[str, Any], cursor: str) -> dict[str, Any]:
        """The position a cursor carries; UserError if it is forged, stale or from another query."""
        again = "repeat the query without a cursor to start over"
        body, _, signature = cursor.strip().partition(".")
        if not body or not signature or not hmac.compare_digest(self._sign(body), signature):
            raise UserError(f"the cursor is not valid: it was altered, or it was issued by an earlier run of "
                            f"this server; {again}")
        try:
            data = json.loads(_unb64(body))
        except (ValueError, UnicodeDecodeError):
            raise UserError(f"the cursor is not valid; {again}") from None
        if data.get("tool") != tool:
            raise UserError(f"this cursor belongs to {data.get('tool')}, not {tool}; {again}")
        if data.get("q") != _fingerprint(query):
            raise UserError(f"this cursor continues a different query (pass the same filters as the call "
                            f"that returned it); or {again}")
        if self.clock() - float(data.get("t", 0)) > self.ttl:
            raise UserError(f"the cursor has expired (cursors last {self.ttl / 60:.0f} minutes); {again}")
        position = data.get("p")
        if not isinstance(position, dict):
            raise UserError(f"the cursor is not valid; {again}")
        return position


def _fingerprint(query: dict[str, Any]) -> str:
    text = json.dumps(query, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
