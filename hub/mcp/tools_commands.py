"""Tool: send_command, under the mcp.allow / mcp.confirm policy, through the log.

A command to an entity matched by `mcp.confirm` runs in two calls: the first
returns a plan and a single-use confirmation token (valid two minutes) and runs
nothing; the second, carrying the token with the same entity, command and data,
runs it. Refusals are recorded as input_rejected with source `mcp`; commands as
command_requested with source `mcp`, executed by the daemon, which records the outcome.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Annotated, Any

from fastmcp import FastMCP
from mcp.types import ToolAnnotations
from pydantic import Field

from hub import events as ev
from hub.commands import DOMAIN_COMMANDS, normalise_command, send_command
from hub.errors import CommandError, UserError
from hub.events import Event, excerpt
from hub.mcp.models import CommandAnswer
from hub.mcp.rows import answers_errors
from hub.mcp.view import HubView, matches_any, unknown_entity
from hub.times import parse_duration_us, to_iso

log = logging.getLogger(__name__)

CONFIRM_TTL_S = 120.0
WRITE = ToolAnnotations(readOnlyHint=False, destructiveHint=True, idempotentHint=False, openWorldHint=True)


@dataclass(slots=True)
class _Pending:
    entity_id: str
    command: str
    data: str
    expires: float


class ConfirmTokens:
    """Single-use tokens that confirm one planned command, each valid for a limited time."""

    def __init__(self, ttl: float = CONFIRM_TTL_S, clock: Any = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._pending: dict[str, _Pending] = {}

    def issue(self, entity_id: str, command: str, data: str) -> tuple[str, float]:
        now = self.clock()
        self._pending = {k: v for k, v in self._pending.items() if v.expires > now}
        token = secrets.token_urlsafe(18)
        self._pending[token] = _Pending(entity_id, command, data, now + self.ttl)
        return token, self.ttl

    def redeem(self, token: str, entity_id: str, command: str, data: str) -> str | None:
        """None when the token confirms exactly this command; else why not. A token is used up either way."""
        pending = self._pending.pop(token.strip(), None)
        if pending is None:
            return "the confirmation token is unknown or was used already"
        if pending.expires < self.clock():
            return "the confirmation token has expired (tokens last two minutes)"
        if (pending.entity_id, pending.command, pending.data) != (entity_id, command, data):
            return (f"the confirmation token was issued for {pending.command} on {pending.entity_id} "
                    f"with other data")
        return None


def register(mcp: FastMCP[Any], hub: HubView) -> ConfirmTokens:
    tokens = ConfirmTokens()
    policy = hub.config.mcp
    timeout = parse_duration_us(hub.config.hub.command_timeout) / 1_000_000

    async def refuse(entity_id: str, command: str, data: dict[str, Any], reason: str) -> CommandAnswer:
        request = {"entity_id": entity_id, "command": command, "data": data}
        await hub.log.append(Event(ev.INPUT_REJECTED, "mcp", None, {
            "origin": "mcp.send_command", "reason": reason, "excerpt": excerpt(request)}))
        log.info("mcp: refused %s on %s: %s", command, entity_id, reason)
        return CommandAnswer(status="refused", entity_id=entity_id, command=command, message=reason)

    @mcp.tool(name="send_command", annotations=WRITE, title="Send command")
    @answers_errors
    async def send_command_tool(
        entity_id: Annotated[str, Field(description="The target entity (or an integration id for "
                                        "integration commands like mqtt.publish).", max_length=255)],
        command: Annotated[str, Field(description="Home Assistant's service name: turn_on, turn_off, toggle, "
                                      "lock, unlock, open_cover, alarm_arm_away, set_value, ... or "
                                      "<integration>.<verb>.", max_length=128)],
        data: Annotated[dict[str, Any] | None, Field(description="Service data, e.g. {\"brightness\": 128}.")]
        = None,
        confirm_token: Annotated[str | None, Field(description="The token from a previous call's plan, to "
                                                   "carry out a command that needs confirmation.",
                                                   max_length=100)] = None,
    ) -> CommandAnswer:
        """Operate a device: turn lights and switches on or off, lock, open covers, arm the alarm. Only entities
        the owner allowed (mcp.allow). For sensitive ones (mcp.confirm: locks, alarm panels) the first call
        returns a plan and a confirm_token and does nothing; call again with the same arguments and the
        token, after the user agreed, to carry it out. Waits for the device's outcome."""
        entity_id = entity_id.strip()
        payload = dict(data or {})
        raw_command = command.strip()
        name = normalise_command(raw_command, entity_id)
        if len(json.dumps(payload, default=str)) > 4096:
            return await refuse(entity_id, name, {"size": "over 4 KiB"}, "command data is larger than 4 KiB")
        if not matches_any(entity_id, policy.allow) and not matches_any(entity_id, policy.confirm):
            return await refuse(entity_id, name, payload,
                                f"{entity_id} is not in mcp.allow (allowed: {', '.join(policy.allow) or 'nothing'})")
        states = await hub.states()
        known = await hub.known_ids()
        is_instance = not ev.is_entity_id(entity_id) and hub.integration_type(entity_id) is not None
        if not is_instance and entity_id not in known:
            return await refuse(entity_id, name, payload, unknown_entity(entity_id, known))
        domain = entity_id.split(".", 1)[0]
        if "." not in name and domain in DOMAIN_COMMANDS and name not in DOMAIN_COMMANDS[domain]:
            return await refuse(entity_id, name, payload, f"{domain} entities accept "
                                f"{', '.join(DOMAIN_COMMANDS[domain])}, not {name}")
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
        current = states.get(entity_id)
        if matches_any(entity_id, policy.confirm):
            if not confirm_token:
                token, ttl = tokens.issue(entity_id, name, canonical)
                state_text = current.state if current else "unknown"
                extra = f" with {canonical}" if payload else ""
                return CommandAnswer(
                    status="needs_confirmation", entity_id=entity_id, command=name,
                    plan=f"{name} on {entity_id}{extra}; it is {state_text} now",
                    current_state=state_text, confirm_token=token,
                    expires=to_iso(int((time.time() + ttl) * 1_000_000), hub.tz),
                    message="nothing was done: ask the user to confirm, then call send_command again with the "
                            "same entity_id, command and data and this confirm_token (valid two minutes, once)")
            problem = tokens.redeem(confirm_token, entity_id, name, canonical)
            if problem:
                return await refuse(entity_id, name, payload, f"{problem}; call without a token for a new plan")
        try:
            request, outcome = await send_command(hub.log, raw_command, entity_id, payload, source="mcp",
                                                  timeout=timeout)
        except CommandError as exc:
            raise UserError(str(exc)) from None
        answer = CommandAnswer(status="pending", entity_id=entity_id, command=name, request_seq=request.seq,
                               message=f"requested (seq {request.seq}); no outcome within {timeout:g}s: is the "
                                       "hub daemon (`hub run`) running on this database?")
        if outcome is not None:
            answer.outcome_seq = outcome.seq
            if outcome.type == ev.COMMAND_SUCCEEDED:
                answer.status = "succeeded"
                after = (await hub.states()).get(entity_id)
                answer.current_state = after.state if after else None
                answer.result = (outcome.data.get("result") or {}).get(entity_id)
                answer.message = f"{name} on {entity_id} succeeded" + (
                    f"; it is {after.state} now" if after else "")
            else:
                answer.status = "failed"
                answer.message = str(outcome.data.get("reason") or "failed")
        return answer

    return tokens
