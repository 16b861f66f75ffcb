"""`python -m hub.mcp [-c config.yaml]`: the MCP server over stdio (what `hub mcp` runs)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from hub.errors import HubError
from hub.mcp.server import run_stdio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hub mcp", description="The hub's MCP server over stdio.")
    parser.add_argument("-c", "--config", default="config.yaml", help="configuration file (default ./config.yaml)")
    args = parser.parse_args(argv)
    try:
        asyncio.run(run_stdio(args.config))
    except HubError as exc:
        print(f"hub mcp: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
