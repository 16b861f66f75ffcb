"""The MCP server for Claude: tools, resources and prompts over the hub's log; stdio and streamable HTTP."""

from __future__ import annotations

from hub.mcp.auth import http_app
from hub.mcp.server import build_server, run_stdio

__all__ = ["build_server", "http_app", "run_stdio"]
