"""`script.<id>` and `notify.<name>` as owners on the daemon's CommandRouter."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from hub.errors import CommandError
from hub.integration import Command

if TYPE_CHECKING:
    from automations.engine import AutomationEngine

log = logging.getLogger(__name__)


def register(engine: AutomationEngine, router: Any, *, transport: Any = None) -> None:
    """Add the `scripts` and `notify` owners to `router` (hub.commands.CommandRouter)."""
    from automations.notify import Notifiers

    def owns_script(target: str) -> bool:
        return target.startswith("script.") and target[7:] in engine.scripts

    async def handle_script(cmd: Command) -> dict[str, Any] | None:
        target = cmd.entity_id or ""
        name = target[7:]
        if cmd.command in ("turn_off",):
            for task in engine.script_runs.get(name, []):
                task.cancel()
            return {"stopped": name}
        if cmd.command not in ("turn_on", "toggle", "run", name):
            raise CommandError(f"script.{name} accepts turn_on, turn_off or toggle, not {cmd.command}")
        try:
            seq = await engine.start_script(name, cmd.data, causation=cmd.seq, correlation=cmd.correlation)
        except KeyError:
            raise CommandError(f"there is no script.{name}") from None
        return {"run": seq}

    notifiers = Notifiers(lambda: engine.rules.notifiers, transport=transport)
    engine.notifiers = notifiers  # type: ignore[attr-defined]

    def owns_notify(target: str) -> bool:
        return target.startswith("notify.") and target[7:] in notifiers.names()

    async def handle_notify(cmd: Command) -> dict[str, Any] | None:
        name = (cmd.entity_id or "")[7:]
        return await notifiers.send(name, cmd.data)

    router.add_owner("scripts", owns_script, handle_script)
    router.add_owner("notify", owns_notify, handle_notify)
