"""The MCP server: `build_server` for the daemon (HTTP) and `run_stdio` for `hub mcp`."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fastmcp import FastMCP

from hub.config import Config, load_config
from hub.integration import Integration
from hub.log import EventLog, open_log
from hub.mcp import resources, tools_commands, tools_events, tools_history, tools_house, tools_state, tools_status
from hub.mcp.view import HubView

log = logging.getLogger(__name__)

INSTRUCTIONS = """\
This server is a home-automation hub. Everything that happens in the house is an event in one append-only log;
states, history and statistics are read from it. Start with list_entities to learn entity ids, get_state for
details, get_history for values over time, query_events for what happened, explain for why it happened, and
hub_status when something seems broken. send_command operates devices only where the owner allowed it; for locks
and alarm panels it first returns a plan and a confirm_token: ask the user, then call again with the token.
Answers are bounded; when `cursor` is set, pass it back with the same arguments to continue. Times are ISO 8601
with time zone; durations like 24h, 7d or PT6H.
"""


def build_server(log_: EventLog, config: Config, *,
                 integrations: Mapping[str, Integration] | None = None) -> FastMCP[Any]:
    """The hub's MCP server on `log_` (projecting in the daemon, or not in `hub mcp`)."""
    hub = HubView(log_, config, integrations)
    server: FastMCP[Any] = FastMCP(f"hub ({config.hub.name})", instructions=INSTRUCTIONS,
                                   mask_error_details=True)
    tools_state.register(server, hub)
    tools_history.register(server, hub)
    tools_events.register(server, hub)
    tools_house.register(server, hub)
    tools_commands.register(server, hub)
    tools_status.register(server, hub)
    resources.register(server, hub)
    return server


async def run_stdio(config_path: str | Path) -> None:
    """`hub mcp`: the server over stdio on the configured log, beside a running daemon; logs go to stderr."""
    config = load_config(config_path)
    if not logging.getLogger().handlers:
        logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    async with open_log(config.database_url, project=False) as log_:
        server = build_server(log_, config)
        log.info("hub mcp: serving %s over stdio", config.database_url.split("@")[-1])
        await server.run_stdio_async(show_banner=False)
