"""The state of a fake RouterOS router, shared by the fake REST and SSH servers.

Menus are loaded from a fixture of REST answers (every value a string). A set of
`management` interfaces models the path the hub reaches the router by: while one of
them is disabled, the REST server stops answering (the connection is cut).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"
COMMANDS = {"system/script/run", "ping", "tool/traceroute"}


class RouterError(Exception):
    """A refusal, with RouterOS's wording."""

    def __init__(self, status: int, message: str, detail: str = "") -> None:
        super().__init__(detail or message)
        self.status, self.message, self.detail = status, message, detail


class FakeRouter:
    def __init__(self, fixture: str = "ros7.json") -> None:
        data = json.loads((FIXTURES / fixture).read_text())
        self.singletons: dict[str, dict[str, str]] = {k: v for k, v in data.items() if isinstance(v, dict)}
        self.lists: dict[str, list[dict[str, str]]] = copy.deepcopy(
            {k: v for k, v in data.items() if isinstance(v, list)})
        self.next_id = 0x200
        self.management: set[str] = set()
        self.writes: list[tuple[str, str, dict[str, Any]]] = []
        self.scripts_run: list[str] = []

    # --- reads ----------------------------------------------------------------------

    def knows(self, menu: str) -> bool:
        return menu in self.singletons or menu in self.lists

    def print(self, menu: str) -> list[dict[str, str]] | dict[str, str]:
        if menu in self.singletons:
            return dict(self.singletons[menu])
        if menu in self.lists:
            return [dict(row) for row in self.lists[menu]]
        raise RouterError(400, "Bad Request", f"no such command or directory ({menu.rsplit('/', 1)[-1]})")

    def item(self, menu: str, item_id: str) -> dict[str, str]:
        for row in self.lists.get(menu, []):
            if row.get(".id") == item_id:
                return row
        raise RouterError(404, "Not Found", "no such item")

    @property
    def cut(self) -> bool:
        """True while a management interface is disabled: the hub's path to the router is gone."""
        return any(row.get("disabled") in ("true", "yes") for row in self.lists.get("interface", [])
                   if row.get("name") in self.management)

    # --- writes ---------------------------------------------------------------------

    @staticmethod
    def _strings(values: dict[str, Any]) -> dict[str, str]:
        for key, value in values.items():
            if not isinstance(value, str):
                raise RouterError(400, "Bad Request", f"expected string for {key}")
        return dict(values)

    def add(self, menu: str, values: dict[str, Any]) -> dict[str, str]:
        values = self._strings(values)
        if menu not in self.lists:
            raise RouterError(400, "Bad Request", "no such command or directory")
        if menu == "ip/firewall/address-list" and any(
                r["list"] == values.get("list") and r["address"] == values.get("address") for r in self.lists[menu]):
            raise RouterError(400, "Bad Request", "failure: already have such entry")
        self.next_id += 1
        row = {".id": f"*{self.next_id:X}", **values, "dynamic": "false", "disabled": "false"}
        self.lists[menu].append(row)
        self.writes.append(("add", menu, values))
        return dict(row)

    def set(self, menu: str, item_id: str, values: dict[str, Any]) -> dict[str, str]:
        values = self._strings(values)
        row = self.item(menu, item_id)
        row.update({k: {"yes": "true", "no": "false"}.get(v, v) for k, v in values.items()})
        self.writes.append(("set", menu, {".id": item_id, **values}))
        return dict(row)

    def set_singleton(self, menu: str, values: dict[str, Any]) -> None:
        values = self._strings(values)
        if menu not in self.singletons:
            raise RouterError(400, "Bad Request", "no such command or directory")
        self.singletons[menu].update(values)
        self.writes.append(("set", menu, values))

    def remove(self, menu: str, item_id: str) -> None:
        row = self.item(menu, item_id)
        self.lists[menu].remove(row)
        self.writes.append(("remove", menu, {".id": item_id}))

    # --- commands -------------------------------------------------------------------

    def run_script(self, item_id: str) -> None:
        self.scripts_run.append(self.item("system/script", item_id)["name"])

    @staticmethod
    def ping(address: str, count: int) -> list[dict[str, str]]:
        lost = address.endswith(".99")
        rows = []
        for seq in range(count):
            received = 0 if lost else seq + 1
            row = {"host": address, "seq": str(seq), "sent": str(seq + 1), "received": str(received),
                   "packet-loss": "100" if lost else "0"}
            if not lost:
                row.update({"size": "56", "ttl": "64", "time": "1ms450us", "avg-rtt": "1ms450us",
                            "min-rtt": "1ms200us", "max-rtt": "1ms700us"})
            else:
                row["status"] = "timeout"
            rows.append(row)
        return rows

    @staticmethod
    def traceroute(address: str) -> list[dict[str, str]]:
        return [{".section": "0", "address": "192.168.88.1", "loss": "0", "sent": "1", "last": "0.4", "avg": "0.4",
                 "best": "0.4", "worst": "0.4", "std-dev": "0", "status": ""},
                {".section": "0", "address": address, "loss": "0", "sent": "1", "last": "11.2", "avg": "11.2",
                 "best": "11.2", "worst": "11.2", "std-dev": "0", "status": ""}]
