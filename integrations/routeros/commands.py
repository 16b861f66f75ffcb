"""The commands a router accepts: interface switches, address lists, DNS, scripts, ping,
traceroute, and `routeros.approve` for changes that wait for approval."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from hub import events as ev
from hub.errors import CommandError
from hub.events import Event
from hub.integration import Command
from integrations.routeros.approvals import ApprovalRefused, Change, apply_verified
from integrations.routeros.errors import RouterOSError
from integrations.routeros.transport import Transport
from integrations.routeros.values import check_address, check_count, check_ip, check_name, check_servers, parse_duration

if TYPE_CHECKING:
    from integrations.routeros.integration import RouterOSIntegration

log = logging.getLogger(__name__)

ADDRESS_LIST = "ip/firewall/address-list"
INSTANCE_COMMANDS = ("add_address_list", "remove_address_list", "set_dns", "run_script", "ping",
                     "traceroute", "approve")


class RouterCommands:
    """Carries out one router's commands; every write and rollback is appended to the log."""

    def __init__(self, integration: RouterOSIntegration) -> None:
        self.integ = integration
        self.ctx = integration.ctx

    async def handle(self, command: Command) -> dict[str, Any] | None:
        name = command.command.removeprefix("routeros.")
        try:
            if name in INSTANCE_COMMANDS:
                handler: Callable[[Command], Awaitable[dict[str, Any] | None]] = getattr(self, name)
                return await handler(command)
            if command.entity_id is not None and name in ("turn_on", "turn_off", "toggle"):
                return await self.switch(command, name)
        except ValueError as exc:
            await self.ctx.reject(f"command {command.command}", str(exc), command.data)
            raise CommandError(f"routeros {self.integ.id}: {command.command}: {exc}") from None
        except ApprovalRefused as exc:
            await self.ctx.reject(f"command {command.command}", str(exc), {"token": "(withheld)"})
            raise CommandError(f"routeros {self.integ.id}: approval refused: {exc}") from None
        except RouterOSError as exc:
            raise CommandError(f"routeros {self.integ.id}: {command.command} failed: {exc}") from None
        raise CommandError(f"routeros {self.integ.id} does not know {command.command!r} for "
                           f"{command.entity_id or 'the router'} (it knows turn_on/turn_off/toggle on interface "
                           f"switches and routeros.{', routeros.'.join(INSTANCE_COMMANDS)})")

    # --- helpers ------------------------------------------------------------------

    def link(self) -> Transport:
        if self.integ.link is None:
            raise CommandError(f"routeros {self.integ.id}: not connected to the router "
                               f"({self.ctx.last_status or 'starting'})")
        return self.integ.link

    def recorder(self, command: Command) -> Callable[[str, dict[str, Any]], Awaitable[None]]:
        async def record(event_type: str, data: dict[str, Any]) -> None:
            await self.ctx.append(Event(ev.DEVICE_EVENT, self.integ.id, command.entity_id,
                                        {"event_type": event_type, "router": self.integ.id, **data},
                                        causation=command.seq or None, correlation=command.correlation))
        return record

    def _plan(self, command: Command, summary: str, change: Change) -> dict[str, Any]:
        plan, token = self.integ.approvals.issue(command.command, summary, change)
        log.info("routeros %s: %s waits for approval (plan %s)", self.integ.id, summary, plan.id)
        return {"approval_required": True, "plan": plan.as_data(), "approval_token": token,
                "approve_with": f"hub send {self.integ.id} routeros.approve token=<approval_token>"}

    async def _refresh(self) -> None:
        try:
            await self.integ.poll_once()
        except RouterOSError as exc:
            log.warning("routeros %s: refresh after a command failed: %s", self.integ.id, exc)

    # --- interface switches -------------------------------------------------------

    async def switch(self, command: Command, name: str) -> dict[str, Any] | None:
        iface = self.integ.entities.interface_for(command.entity_id or "")
        if iface is None:
            raise CommandError(f"routeros {self.integ.id}: {command.entity_id} is not an interface switch")
        if name == "toggle":
            name = "turn_on" if iface.disabled else "turn_off"
        link = self.link()
        change = Change("interface", {"name": iface.name}, {"disabled": iface.disabled},
                        {"disabled": name == "turn_off"})
        current = await change.read(link)
        change.current = {"disabled": current["disabled"] in ("true", "yes")}
        if change.current == change.intended:
            return {"changed": False}
        if name == "turn_off":
            return self._plan(command, f"disable interface {iface.name}", change)
        await change.write(link, change.intended)
        await self.recorder(command)("routeros_write", {**change.as_data(), "via": link.name})
        await self._refresh()
        return {"changed": True}

    # --- instance commands -----------------------------------------------------------

    async def add_address_list(self, command: Command) -> dict[str, Any]:
        data = command.data
        values: dict[str, Any] = {"list": check_name(data.get("list"), "list"),
                                  "address": check_address(data.get("address"))}
        if data.get("timeout") is not None:
            values["timeout"] = f"{int(parse_duration(str(data['timeout'])))}s"
        link = self.link()
        where = {"list": values["list"], "address": values["address"]}
        existing = [r for r in await link.print(ADDRESS_LIST) if all(r.get(k) == v for k, v in where.items())]
        if existing:
            return {"added": False, "reason": f"{values['address']} is already on {values['list']}"}
        await link.add(ADDRESS_LIST, values)
        await self.recorder(command)("routeros_write", {"menu": "/" + ADDRESS_LIST, "added": values,
                                                       "via": link.name})
        await self._refresh()
        return {"added": True}

    async def remove_address_list(self, command: Command) -> dict[str, Any]:
        where: dict[str, Any] = {"list": check_name(command.data.get("list"), "list"),
                                 "address": check_address(command.data.get("address"))}
        link = self.link()
        removed = await link.remove(ADDRESS_LIST, where)
        if not removed:
            raise CommandError(f"routeros {self.integ.id}: {where['address']} is not on list {where['list']}")
        await self.recorder(command)("routeros_write", {"menu": "/" + ADDRESS_LIST, "removed": where,
                                                       "count": removed, "via": link.name})
        await self._refresh()
        return {"removed": removed}

    async def set_dns(self, command: Command) -> dict[str, Any]:
        servers = ",".join(check_servers(command.data.get("servers")))
        link = self.link()
        change = Change("ip/dns", None, {}, {"servers": servers})
        change.current = dict(await change.read(link))
        if change.current == change.intended:
            return {"changed": False}
        return self._plan(command, f"set DNS servers to {servers}", change)

    async def approve(self, command: Command) -> dict[str, Any]:
        plan = self.integ.approvals.redeem(command.data.get("token"))
        link = self.link()
        outcome = await apply_verified(plan, link, self.integ.connector, self.integ.config.verify_timeout,
                                       self.recorder(command))
        if not outcome.reachable:
            raise CommandError(f"routeros {self.integ.id}: {plan.summary}: {outcome.detail}")
        await self._refresh()
        return {"plan": plan.id, "summary": plan.summary, **outcome.as_data()}

    async def run_script(self, command: Command) -> dict[str, Any]:
        name = check_name(command.data.get("name"), "name")
        link = self.link()
        await link.run_script(name)
        await self.recorder(command)("routeros_script_run", {"name": name, "via": link.name})
        return {"ran": name}

    async def ping(self, command: Command) -> dict[str, Any]:
        address = check_ip(command.data.get("address"))
        count = check_count(command.data.get("count"), 3, 1, 10)
        rows = await self.link().ping(address, count)
        last = rows[-1] if rows else {}
        result: dict[str, Any] = {"address": address, "sent": _int(last.get("sent"), count),
                                  "received": _int(last.get("received"), 0)}
        result["packet_loss"] = _int(last.get("packet-loss"), 100 if not result["received"] else 0)
        if last.get("avg-rtt"):
            result["avg_rtt_ms"] = _ms(last["avg-rtt"])
        await self.recorder(command)("routeros_ping", result)
        return result

    async def traceroute(self, command: Command) -> dict[str, Any]:
        address = check_ip(command.data.get("address"))
        rows = await self.link().traceroute(address)
        hops = [{"hop": i + 1, "address": row.get("address", ""), "loss": _int(row.get("loss"), 0),
                 "avg_ms": _ms(row.get("avg", "")), "status": row.get("status", "")} for i, row in enumerate(rows[:64])]
        result = {"address": address, "hops": hops}
        await self.recorder(command)("routeros_traceroute", result)
        return result


def _int(text: str | None, default: int) -> int:
    return int(text) if text is not None and text.isdigit() else default


def _ms(text: str) -> float | None:
    """RouterOS gives RTTs as `1ms450us` (ping) or `0.5` milliseconds (traceroute)."""
    if not text:
        return None
    try:
        return round(float(text), 3)
    except ValueError:
        pass
    try:
        return round(parse_duration(text) * 1000, 3)
    except ValueError:
        return None
