"""Commands on UniFi entities: block, unblock, kick, restart a device, run a speed test.

`unifi.block_client` / `unblock_client` / `kick_client` target a client's
device_tracker or switch (or the instance with `mac=`); `turn_on`/`turn_off`/
`toggle` on the switch unblock/block. `unifi.restart_device` targets any entity of
a device (or the instance with `mac=`). `unifi.speedtest` targets the instance or
a speed-test sensor; it returns once started, and the result is recorded when the
controller reports it finished (sensors plus a `speedtest_finished` device_event).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from hub.errors import CommandError, InputRejected, IntegrationError
from hub.integration import Command

from .entities import DEVICE_ROLES
from .errors import ControllerError
from .records import mac_of, parse_speedtest

if TYPE_CHECKING:
    from .integration import UnifiIntegration

log = logging.getLogger(__name__)

CLIENT_COMMANDS = {"block_client": "block-sta", "unblock_client": "unblock-sta", "kick_client": "kick-sta",
                   "turn_off": "block-sta", "turn_on": "unblock-sta"}


async def handle_command(integration: UnifiIntegration, command: Command) -> dict[str, Any]:
    """Carry out one command; raises CommandError with a reason the user can act on."""
    client = integration.client
    if client is None:
        raise CommandError(f"unifi: {integration.id} is not connected to {integration.config.host}")
    name = command.command.removeprefix("unifi.")
    owner, role = _target(integration, command)
    if name == "toggle" and role == "network":
        record = integration.tracked.get(owner)
        name = "turn_on" if record is not None and record.blocked else "turn_off"
    try:
        if name in CLIENT_COMMANDS and (role in ("tracker", "network") or (owner != "site" and role == "mac")):
            if name.startswith("turn_") and role != "network":
                raise CommandError(f"unifi: {name} applies to a client's network switch, not {command.entity_id}")
            return await _client_command(integration, owner, name)
        if name == "restart_device" and (role in DEVICE_ROLES or role == "mac"):
            await client.command("devmgr", "restart", mac=owner, reboot_type="soft")
            return {"mac": owner, "restarting": True}
        if name == "speedtest" and owner == "site":
            before = parse_speedtest(await client.command("devmgr", "speedtest-status")).rundate
            await client.command("devmgr", "speedtest")
            integration.speedtests.put_nowait((command, before))
            return {"started": True}
    except ControllerError as exc:
        raise CommandError(f"unifi: the controller refused {name} for {owner} ({exc.msg})") from None
    except InputRejected as exc:
        raise CommandError(f"unifi: the controller's answer to {name} is malformed ({exc})") from None
    raise CommandError(f"unifi: {command.command} does not apply to {command.entity_id or integration.id} "
                       "(block_client/unblock_client/kick_client: a client; restart_device: a device; "
                       "speedtest: the integration)")


def _target(integration: UnifiIntegration, command: Command) -> tuple[str, str]:
    """(mac or "site", role) of the command's target; the instance itself takes `mac=`."""
    if command.entity_id is None:
        if "mac" not in command.data:
            return "site", "site"
        try:
            mac = mac_of(command.data)
        except InputRejected as exc:
            raise CommandError(f"unifi: {exc}") from None
        return mac, "mac"
    key = integration.ids.keys.get(command.entity_id)
    if key is None:
        raise CommandError(f"unifi: {command.entity_id} is not an entity of {integration.id}")
    return key


async def _client_command(integration: UnifiIntegration, mac: str, name: str) -> dict[str, Any]:
    client = integration.client
    assert client is not None
    cmd = CLIENT_COMMANDS[name]
    await client.command("stamgr", cmd, mac=mac)
    record = integration.tracked.get(mac) or integration.clients_by_mac.get(mac)
    if record is not None and cmd != "kick-sta":
        record.blocked = cmd == "block-sta"
        if mac in integration.tracked:
            await integration.publish_client(record)
    log.info("%s: %s %s", integration.id, cmd, mac)
    return {"mac": mac, "blocked": cmd == "block-sta"} if cmd != "kick-sta" else {"mac": mac, "kicked": True}


async def speedtest_loop(integration: UnifiIntegration) -> None:
    """Watch each started speed test until the controller reports it finished, then record it."""
    while True:
        command, before = await integration.speedtests.get()
        token = integration.ctx.command_started(command)
        try:
            await _watch_speedtest(integration, before)
        except (IntegrationError, InputRejected) as exc:
            log.warning("%s: speed test result unavailable: %s", integration.id, exc)
            await integration.ctx.device_event(None, "speedtest_failed", {"reason": str(exc)})
        finally:
            integration.ctx.command_finished(token)


async def _watch_speedtest(integration: UnifiIntegration, before: float | None) -> None:
    cfg = integration.config
    deadline = time.monotonic() + cfg.speedtest_timeout
    while time.monotonic() < deadline:
        await asyncio.sleep(cfg.speedtest_poll)
        client = integration.client
        if client is None:
            raise IntegrationError("unifi: the connection closed while a speed test ran")
        status = parse_speedtest(await client.command("devmgr", "speedtest-status"))
        if status.running or status.rundate == before:
            continue
        result = {"download_mbps": status.download, "upload_mbps": status.upload, "ping_ms": status.latency,
                  "rundate": status.rundate}
        integration.speedtest_result = result
        entity = await integration.publish_site_value("speedtest_download", status.download)
        await integration.publish_site_value("speedtest_upload", status.upload)
        await integration.publish_site_value("speedtest_ping", status.latency)
        await integration.ctx.device_event(entity, "speedtest_finished", result)
        return
    raise IntegrationError(f"unifi: the speed test did not finish within {cfg.speedtest_timeout:g}s")
