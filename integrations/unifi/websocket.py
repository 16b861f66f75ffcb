"""The controller's events websocket (`/wss/s/<site>/events`): connects, disconnects, roams, syncs.

Messages look like `{"meta": {"rc": "ok", "message": "events"}, "data": [{"key":
"EVT_WU_Connected", "user": "<mac>", ...}]}`; `sta:sync` carries client objects.
The websocket is an accelerator: polling stays the source of truth, and the hub
falls back to polling alone when the websocket is refused or drops.
"""

from __future__ import annotations

import json
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus, WebSocketException

from hub.errors import InputRejected, IntegrationError

from .client import UnifiClient

log = logging.getLogger(__name__)
# The websockets library logs handshake headers (our cookie, the API key) at DEBUG; its own
# logger stops at INFO so that `--debug` never prints them.
_protocol_log = logging.getLogger(__name__ + ".protocol")
_protocol_log.setLevel(logging.INFO)

MAX_MESSAGE = 4 * 1024 * 1024
CONNECTED = {"EVT_WU_Connected", "EVT_WG_Connected", "EVT_LU_Connected", "EVT_LG_Connected"}
DISCONNECTED = {"EVT_WU_Disconnected", "EVT_WG_Disconnected", "EVT_LU_Disconnected", "EVT_LG_Disconnected"}
ROAMED = {"EVT_WU_Roam", "EVT_WU_RoamRadio", "EVT_WG_Roam", "EVT_WG_RoamRadio"}


@dataclass(slots=True)
class Message:
    kind: str
    data: list[Any]
    raw: str


def parse_message(text: str | bytes) -> Message:
    """A websocket frame as (meta.message, data); raises InputRejected for anything else."""
    try:
        payload = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise InputRejected("websocket message is not JSON") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("meta"), dict):
        raise InputRejected("websocket message has no `meta` object")
    kind = payload["meta"].get("message")
    data = payload.get("data")
    if not isinstance(kind, str) or not isinstance(data, list):
        raise InputRejected("websocket message needs `meta.message` (string) and `data` (list)")
    raw = text if isinstance(text, str) else text.decode("utf-8", "backslashreplace")
    return Message(kind, data, raw)


async def listen(client: UnifiClient, handle: Callable[[str | bytes], Awaitable[None]],
                 on_open: Callable[[], Awaitable[None]]) -> None:
    """Connect once and hand every frame to `handle` until the controller closes the socket.

    Raises IntegrationError when the handshake is refused or the connection fails.
    """
    url = client.events_url()
    context: ssl.SSLContext | None = None
    if url.startswith("wss://"):
        context = client.ssl or ssl.create_default_context()
    where = f"events websocket on {client.host}"
    try:
        async with connect(url, additional_headers=client.auth_headers(), ssl=context, proxy=None,
                           open_timeout=client.cfg.timeout, max_size=MAX_MESSAGE, compression=None,
                           ping_interval=30, ping_timeout=client.cfg.timeout, close_timeout=1,
                           user_agent_header="hub-unifi", logger=_protocol_log) as ws:
            await on_open()
            async for frame in ws:
                await handle(frame)
    except InvalidStatus as exc:
        raise IntegrationError(f"unifi: {where} refused (HTTP {exc.response.status_code})") from None
    except TimeoutError:
        raise IntegrationError(f"unifi: {where} timed out after {client.cfg.timeout:g}s") from None
    except (OSError, WebSocketException) as exc:
        raise IntegrationError(f"unifi: {where} failed ({type(exc).__name__}: {exc})") from None
