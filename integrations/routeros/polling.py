"""One poll of a router: the menus the integration reads, and which of them the router has."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from integrations.routeros.errors import UnknownMenu
from integrations.routeros.transport import Transport

log = logging.getLogger(__name__)

Row = dict[str, str]

# The newest first: `wifi` (RouterOS 7.13+), `wifiwave2` (7.x before that), `wireless` (legacy, 6).
WIRELESS_MENUS = ("interface/wifi/registration-table", "interface/wifiwave2/registration-table",
                  "interface/wireless/registration-table")


@dataclass
class Snapshot:
    """What one poll read; None where the router has no such menu."""

    resource: Row
    health: list[Row] = field(default_factory=list)
    interfaces: list[Row] = field(default_factory=list)
    leases: list[Row] | None = None
    arp: list[Row] | None = None
    wireless: list[Row] | None = None
    wireless_menu: str | None = None
    address_lists: list[Row] | None = None
    dns: Row | None = None
    ntp: Row | None = None


class Poller:
    """Reads a snapshot; remembers the menus a router lacks (for the life of one connection)."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.missing: set[str] = set()
        self.wireless_menu: str | None = None
        self._wireless_detected = False

    async def read(self, transport: Transport) -> Snapshot:
        resource = await transport.get("system/resource")
        if not resource:
            resource = [{}]
        snap = Snapshot(resource=resource[0])
        snap.health = await self._optional_get(transport, "system/health") or []
        snap.interfaces = await transport.print("interface")
        snap.leases = await self._optional_print(transport, "ip/dhcp-server/lease")
        snap.arp = await self._optional_print(transport, "ip/arp")
        snap.wireless_menu, snap.wireless = await self._wireless(transport)
        snap.address_lists = await self._optional_print(transport, "ip/firewall/address-list")
        dns = await self._optional_get(transport, "ip/dns")
        snap.dns = dns[0] if dns else None
        ntp = await self._optional_get(transport, "system/ntp/client")
        snap.ntp = ntp[0] if ntp else None
        return snap

    async def _optional_print(self, transport: Transport, menu: str) -> list[Row] | None:
        if menu in self.missing:
            return None
        try:
            return await transport.print(menu)
        except UnknownMenu as exc:
            self._missing(menu, exc)
            return None

    async def _optional_get(self, transport: Transport, menu: str) -> list[Row] | None:
        if menu in self.missing:
            return None
        try:
            return await transport.get(menu)
        except UnknownMenu as exc:
            self._missing(menu, exc)
            return None

    def _missing(self, menu: str, exc: UnknownMenu) -> None:
        self.missing.add(menu)
        log.info("routeros %s: no /%s on this router, not polled (%s)", self.host, menu, exc)

    async def _wireless(self, transport: Transport) -> tuple[str | None, list[Row] | None]:
        """The registration table of whichever wireless package the router runs, detected once."""
        if not self._wireless_detected:
            for menu in WIRELESS_MENUS:
                try:
                    rows = await transport.print(menu)
                except UnknownMenu:
                    continue
                self.wireless_menu, self._wireless_detected = menu, True
                log.info("routeros %s: wireless clients from /%s", self.host, menu)
                return menu, rows
            self._wireless_detected = True
            log.info("routeros %s: no wireless package (none of %s)", self.host, ", ".join(WIRELESS_MENUS))
            return None, None
        if self.wireless_menu is None:
            return None, None
        return self.wireless_menu, await self._optional_print(transport, self.wireless_menu)
