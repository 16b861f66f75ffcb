"""Approved changes: a plan with current and intended values, an HMAC-signed single-use
token with a short expiry, and the apply-verify-rollback sequence that redeems it.

Tokens are signed with a key that lives only in this process: a restart voids every
pending plan, which is what a short expiry asks for anyway.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from hub.events import new_id
from hub.times import now_us, to_iso
from integrations.routeros.console import Value
from integrations.routeros.errors import RouterOSError
from integrations.routeros.transport import Connector, Transport

Record = Callable[[str, dict[str, Any]], Awaitable[None]]


class ApprovalRefused(Exception):
    """A token that is forged, expired, for another router, or already used."""


@dataclass
class Change:
    """One write: properties of the items `where` selects in `menu` (or of a settings menu)."""

    menu: str
    where: dict[str, Value] | None
    current: dict[str, Value]
    intended: dict[str, Value]

    async def read(self, transport: Transport) -> dict[str, str]:
        """The current values of the changed properties, as the router reports them."""
        if self.where is None:
            rows = await transport.get(self.menu)
        else:
            rows = [row for row in await transport.print(self.menu)
                    if all(same(row.get(k), v) for k, v in self.where.items())]
        if not rows:
            raise RouterOSError(f"nothing in /{self.menu} matches {self.where}")
        return {key: rows[0].get(key, "") for key in self.intended}

    async def write(self, transport: Transport, values: dict[str, Value]) -> None:
        if self.where is None:
            await transport.set_singleton(self.menu, values)
        elif not await transport.set_where(self.menu, self.where, values):
            raise RouterOSError(f"nothing in /{self.menu} matches {self.where}")

    def as_data(self) -> dict[str, Any]:
        return {"menu": "/" + self.menu, "where": self.where, "current": self.current, "intended": self.intended}


@dataclass
class Plan:
    """A change waiting for approval."""

    command: str
    summary: str
    change: Change
    expires: int
    id: str = field(default_factory=new_id)

    def as_data(self) -> dict[str, Any]:
        return {"id": self.id, "command": self.command, "summary": self.summary, **self.change.as_data(),
                "expires": to_iso(self.expires)}


def same(seen: object, wanted: Value) -> bool:
    """Equal as RouterOS means it: `true`/`yes`, `false`/`no`, and numbers as text."""
    aliases = {"yes": "true", "no": "false", True: "true", False: "false"}
    a = aliases.get(seen, seen) if isinstance(seen, (str, bool)) else seen
    b = aliases.get(wanted, wanted) if isinstance(wanted, (str, bool)) else wanted
    return str(a) == str(b)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Approvals:
    """Pending plans of one router, and the tokens that redeem them."""

    def __init__(self, instance_id: str, ttl: float, key: bytes | None = None) -> None:
        self.instance_id = instance_id
        self.ttl_us = int(ttl * 1_000_000)
        self._key = key or os.urandom(32)
        self._pending: dict[str, Plan] = {}

    def issue(self, command: str, summary: str, change: Change) -> tuple[Plan, str]:
        now = now_us()
        self._pending = {k: p for k, p in self._pending.items() if p.expires > now}
        plan = Plan(command, summary, change, now + self.ttl_us)
        self._pending[plan.id] = plan
        payload = _b64(f"{self.instance_id}\n{plan.id}\n{plan.expires}".encode())
        return plan, f"{payload}.{self._sign(payload)}"

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())

    def redeem(self, token: object) -> Plan:
        """The plan a valid token approves, removed so that the token cannot be used again."""
        if not isinstance(token, str) or token.count(".") != 1 or len(token) > 512:
            raise ApprovalRefused("the approval token is malformed")
        payload, signature = token.split(".")
        if not hmac.compare_digest(self._sign(payload), signature):
            raise ApprovalRefused("the approval token's signature does not verify (forged, altered, or "
                                  "issued before the hub restarted)")
        try:
            instance, plan_id, expires = _unb64(payload).decode().split("\n")
            expires_us = int(expires)
        except (ValueError, UnicodeDecodeError):
            raise ApprovalRefused("the approval token is malformed") from None
        if instance != self.instance_id:
            raise ApprovalRefused(f"the approval token is for {instance!r}, not {self.instance_id!r}")
        if expires_us <= now_us():
            self._pending.pop(plan_id, None)
            raise ApprovalRefused(f"the approval token expired at {to_iso(expires_us)}; request the change "
                                  "again for a new plan")
        plan = self._pending.pop(plan_id, None)
        if plan is None:
            raise ApprovalRefused("the approval token was already used")
        return plan


@dataclass
class Outcome:
    """What happened to an approved change."""

    applied: bool
    reachable: bool
    rolled_back: bool = False
    detail: str = ""
    via: str = ""

    def as_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"applied": self.applied, "reachable": self.reachable,
                                "rolled_back": self.rolled_back}
        if self.detail:
            data["detail"] = self.detail
        if self.via:
            data["via"] = self.via
        return data


async def apply_verified(plan: Plan, transport: Transport, connector: Connector, budget: float,
                         record: Record) -> Outcome:
    """Apply a plan, check the router still answers, and roll back when it does not.

    Reading and writing get `budget` seconds each, verifying gets `budget`, rolling back
    gets `budget` (a third over the same transport, the rest over a fresh one), so the whole
    sequence ends within four budgets whatever the network does.
    """
    change = plan.change
    async with asyncio.timeout(budget):
        now = await change.read(transport)
    stale = {k: v for k, v in now.items() if not same(v, change.current[k])}
    if stale:
        raise ApprovalRefused(f"the router changed since the plan ({stale} now, the plan expected "
                              f"{ {k: change.current[k] for k in stale} }); request the change again")
    write_error = ""
    try:
        async with asyncio.timeout(budget):
            await change.write(transport, change.intended)
    except (RouterOSError, TimeoutError) as exc:
        # A write that cuts the path may never be answered although the router applied it.
        write_error = str(exc) or f"no answer within {budget:g}s"
    await record("routeros_write", {"plan": plan.id, **change.as_data(), "via": transport.name,
                                    **({"error": write_error} if write_error else {})})
    if await _reachable(transport, budget):
        if write_error:
            raise RouterOSError(f"the write failed: {write_error}")
        return Outcome(applied=True, reachable=True)
    outcome = await _roll_back(plan, transport, connector, budget)
    await record("routeros_rollback", {"plan": plan.id, **change.as_data(), **outcome.as_data()})
    return outcome


async def _reachable(transport: Transport, budget: float) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + budget
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            return False
        try:
            async with asyncio.timeout(remaining):
                await transport.probe(remaining)
            return True
        except (RouterOSError, TimeoutError):
            await asyncio.sleep(min(0.2, max(0.0, deadline - loop.time())))


async def _roll_back(plan: Plan, transport: Transport, connector: Connector, budget: float) -> Outcome:
    """Write the plan's current values back: over the same transport, else over a fresh one."""
    change, errors = plan.change, []
    try:
        async with asyncio.timeout(budget):
            try:
                async with asyncio.timeout(budget / 3):
                    await change.write(transport, change.current)
                return Outcome(True, False, rolled_back=True, via=transport.name,
                               detail="the router stopped answering; the change was rolled back")
            except (RouterOSError, TimeoutError) as exc:
                errors.append(f"{transport.name}: {str(exc) or f'no answer within {budget / 3:g}s'}")
            other = await connector.open_any(prefer="ssh" if transport.name == "rest" else "rest")
            try:
                await change.write(other, change.current)
            finally:
                await other.close()
            return Outcome(True, False, rolled_back=True, via=other.name,
                           detail="the router stopped answering; the change was rolled back")
    except (RouterOSError, TimeoutError) as exc:
        errors.append(str(exc) or f"no answer within {budget:g}s")
    return Outcome(True, False, rolled_back=False,
                   detail="the router stopped answering and the rollback failed (" + "; ".join(errors)
                   + f"); restore by hand: /{change.menu} {change.where or ''} {change.current}")
