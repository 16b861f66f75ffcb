"""The one retry loop: runs each integration, restarts it with capped exponential backoff,
and records integration_status once per transition, never per retry."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from hub.commands import CommandRouter
from hub.errors import AuthFailed, CommandError, HubError
from hub.integration import Command, Integration, IntegrationContext

log = logging.getLogger(__name__)


@dataclass
class Backoff:
    """Capped exponential backoff; authentication failures go straight to the cap."""

    initial: float = 1.0
    cap: float = 300.0
    factor: float = 2.0
    current: float = field(default=0.0)

    def next(self, *, auth: bool = False) -> float:
        if auth:
            self.current = self.cap
        else:
            self.current = self.initial if self.current == 0 else min(self.current * self.factor, self.cap)
        return self.current

    def reset(self) -> None:
        self.current = 0.0


@dataclass
class Supervised:
    integration: Integration
    ctx: IntegrationContext
    backoff: Backoff
    restarts: int = 0
    last_error: str | None = None
    running: bool = False


class Supervisor:
    """Runs integrations so that one broken integration never stops the others."""

    def __init__(self, *, initial_backoff: float = 1.0, max_backoff: float = 300.0,
                 healthy_after: float = 60.0) -> None:
        self.items: dict[str, Supervised] = {}
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.healthy_after = healthy_after

    def add(self, integration: Integration, ctx: IntegrationContext) -> None:
        self.items[integration.id] = Supervised(integration, ctx, Backoff(self.initial_backoff, self.max_backoff))

    def register_owners(self, router: CommandRouter) -> None:
        """Route commands for each integration's entities (and its instance id) to it."""
        for item in self.items.values():
            router.add_owner(item.integration.id, _owns(item), _handler(item))

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            for item in self.items.values():
                tg.create_task(self._keep_running(item), name=f"integration:{item.integration.id}")

    async def _keep_running(self, item: Supervised) -> None:
        integration, ctx = item.integration, item.ctx
        while True:
            loop = asyncio.get_running_loop()
            started = loop.time()
            item.running = True
            try:
                await integration.run()
                log.info("%s: stopped on its own", integration.id)
                item.running = False
                return
            except asyncio.CancelledError:
                item.running = False
                raise
            except AuthFailed as exc:
                reason, auth = str(exc), True
            except HubError as exc:
                reason, auth = str(exc), False
            except Exception as exc:  # the supervisor is where any integration failure stops
                log.exception("%s: crashed", integration.id)
                reason, auth = f"{type(exc).__name__}: {exc}", False
            item.running = False
            if loop.time() - started >= self.healthy_after:
                item.backoff.reset()
            item.restarts += 1
            item.last_error = reason
            delay = item.backoff.next(auth=auth)
            await ctx.status("auth_failed" if auth else "unavailable", reason)
            log.debug("%s: restarting in %.1fs", integration.id, delay)
            await asyncio.sleep(delay)

    def status(self) -> dict[str, dict[str, Any]]:
        return {
            iid: {"type": item.integration.type, "status": item.ctx.last_status or ("running" if item.running
                                                                                      else "starting"),
                  "restarts": item.restarts, "last_error": item.last_error, "entities": len(item.ctx.owned),
                  "rejected": item.ctx.rejected}
            for iid, item in self.items.items()
        }


def _owns(item: Supervised) -> Any:
    def owns(target: str) -> bool:
        return target == item.integration.id or target in item.ctx.owned
    return owns


def _handler(item: Supervised) -> Any:
    async def handle(command: Command) -> dict[str, Any] | None:
        if not item.running:
            raise CommandError(f"integration {item.integration.id} is not running ({item.last_error or 'starting'})")
        token = item.ctx.command_started(command)
        try:
            return await item.integration.handle_command(command)
        finally:
            item.ctx.command_finished(token)
    return handle
