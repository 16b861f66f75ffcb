"""The REST transport (RouterOS 7, `/rest`): GET prints, PUT creates, PATCH sets, DELETE
removes, POST runs commands. Every value on the wire is a string."""

from __future__ import annotations

import logging
from typing import Any

import httpx

from integrations.routeros.config import RouterOSConfig
from integrations.routeros.console import KEY, MENU, Value
from integrations.routeros.errors import (
    AuthFailed,
    MalformedOutput,
    RestUnavailable,
    RouterOSError,
    UnknownMenu,
    Unreachable,
)
from integrations.routeros.tls import ssl_context

log = logging.getLogger(__name__)

Row = dict[str, str]


def _wire(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _rows(body: Any, what: str) -> list[Row]:
    if isinstance(body, dict):
        body = [body]
    if not isinstance(body, list) or not all(isinstance(row, dict) for row in body):
        raise MalformedOutput(f"{what}: expected a JSON list of objects, got {type(body).__name__}")
    return [{str(k): v if isinstance(v, str) else str(v) for k, v in row.items()} for row in body]


class RestClient:
    """One router over its REST API."""

    name = "rest"

    def __init__(self, config: RouterOSConfig, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self.host = config.host
        verify: Any = True if config.is_plain_http else ssl_context(config)
        self._client = httpx.AsyncClient(
            base_url=config.url + "/rest", auth=(config.username, config.password.get_secret_value()),
            timeout=config.timeout, verify=verify, transport=transport, follow_redirects=False,
            headers={"Accept": "application/json"},
        )
        self.local_address: str | None = None

    async def close(self) -> None:
        await self._client.aclose()

    async def connect(self) -> Row:
        """Check that the REST API answers with these credentials; returns /system/resource."""
        return (await self.get("system/resource"))[0]

    async def _request(self, method: str, path: str, *, json: Any = None, params: dict[str, str] | None = None,
                       timeout: float | None = None) -> Any:
        what = f"{method} /rest/{path}"
        try:
            response = await self._client.request(
                method, "/" + path, json=json, params=params,
                timeout=timeout if timeout is not None else self.config.timeout)
        except httpx.TimeoutException:
            raise Unreachable(f"routeros {self.host}: no answer to {what} within "
                              f"{timeout or self.config.timeout:g}s") from None
        except httpx.ConnectError as exc:
            if "CERTIFICATE" in str(exc).upper() or "fingerprint" in str(exc):
                raise RouterOSError(f"routeros {self.host}: TLS certificate not trusted: {exc}") from None
            raise Unreachable(f"routeros {self.host}: cannot connect for {what}: {exc}") from None
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            raise Unreachable(f"routeros {self.host}: connection lost during {what}: {exc}") from None
        self._note_local_address(response)
        return self._body(response, what)

    def _note_local_address(self, response: httpx.Response) -> None:
        stream = response.extensions.get("network_stream")
        if stream is not None:
            client = stream.get_extra_info("client_addr")
            if client:
                self.local_address = str(client[0])

    def _body(self, response: httpx.Response, what: str) -> Any:
        is_json = response.headers.get("content-type", "").startswith("application/json")
        if response.status_code == 401:
            raise AuthFailed(f"routeros {self.host}: the router refused the credentials of user "
                             f"{self.config.username!r} (HTTP 401)")
        if response.status_code == 204:
            return None
        if not is_json:
            raise RestUnavailable(f"routeros {self.host}: {what} answered HTTP {response.status_code} "
                                  f"{response.headers.get('content-type', 'without content type')}, not the "
                                  "REST API (RouterOS 6, or the www/www-ssl service off?)")
        try:
            body = response.json()
        except ValueError:
            raise MalformedOutput(f"routeros {self.host}: {what} answered invalid JSON") from None
        if response.status_code >= 400:
            message = body.get("message", "") if isinstance(body, dict) else ""
            detail = body.get("detail", "") if isinstance(body, dict) else ""
            text = f"{message}: {detail}" if detail else str(message)
            if response.status_code == 404 or "no such command" in str(detail):
                raise UnknownMenu(f"routeros {self.host}: the router has no {what.split(' ', 1)[1]} "
                                  f"(HTTP {response.status_code} {text})")
            raise RouterOSError(f"routeros {self.host}: {what} refused (HTTP {response.status_code} {text})")
        return body

    # --- reads ---------------------------------------------------------------------

    async def print(self, menu: str) -> list[Row]:
        """Every item of a list menu."""
        return _rows(await self._request("GET", _menu(menu)), f"GET /rest/{menu}")

    async def get(self, menu: str) -> list[Row]:
        """A menu's print: one row for a settings menu, several for a list."""
        return _rows(await self._request("GET", _menu(menu)), f"GET /rest/{menu}")

    async def find_ids(self, menu: str, where: dict[str, Value]) -> list[str]:
        params = {_key(k): _wire(v) for k, v in where.items()}
        rows = _rows(await self._request("GET", _menu(menu), params=params), f"GET /rest/{menu}")
        # Filter again here: the query is a convenience, the match must be exact.
        return [row[".id"] for row in rows
                if ".id" in row and all(row.get(k) == _wire(v) for k, v in where.items())]

    async def probe(self, timeout: float) -> None:
        """A cheap request that proves the router still answers."""
        await self._request("GET", "system/identity", timeout=timeout)

    # --- writes --------------------------------------------------------------------

    async def add(self, menu: str, values: dict[str, Value]) -> None:
        await self._request("PUT", _menu(menu), json={_key(k): _wire(v) for k, v in values.items()})

    async def set_where(self, menu: str, where: dict[str, Value], values: dict[str, Value]) -> int:
        ids = await self.find_ids(menu, where)
        for item in ids:
            await self._request("PATCH", f"{_menu(menu)}/{_id(item)}",
                                json={_key(k): _wire(v) for k, v in values.items()})
        return len(ids)

    async def set_singleton(self, menu: str, values: dict[str, Value]) -> None:
        await self._request("POST", f"{_menu(menu)}/set", json={_key(k): _wire(v) for k, v in values.items()})

    async def remove(self, menu: str, where: dict[str, Value]) -> int:
        ids = await self.find_ids(menu, where)
        for item in ids:
            await self._request("DELETE", f"{_menu(menu)}/{_id(item)}")
        return len(ids)

    async def run_script(self, name: str) -> None:
        ids = await self.find_ids("system/script", {"name": name})
        if not ids:
            raise RouterOSError(f"routeros {self.host}: there is no script named {name!r}")
        await self._request("POST", "system/script/run", json={".id": ids[0]})

    async def ping(self, address: str, count: int) -> list[Row]:
        body = await self._request("POST", "ping", json={"address": address, "count": str(count)},
                                   timeout=self.config.timeout + count)
        return _rows(body, "POST /rest/ping")

    async def traceroute(self, address: str) -> list[Row]:
        body = await self._request("POST", "tool/traceroute", json={"address": address, "count": "1"},
                                   timeout=self.config.timeout + 5)
        return _rows(body, "POST /rest/tool/traceroute")


def _menu(menu: str) -> str:
    if not MENU.match(menu):
        raise ValueError(f"not a menu path: {menu!r}")
    return menu


def _key(key: str) -> str:
    if not KEY.match(key):
        raise ValueError(f"not a property name: {key!r}")
    return key


def _id(item: str) -> str:
    if not (item.startswith("*") and item[1:].isalnum()):
        raise MalformedOutput(f"not a RouterOS item id: {item!r}")
    return item
