"""The server over stdio (the official `mcp` SDK client against `python -m hub.mcp` in a subprocess, beside a
running command router on the same log) and over streamable HTTP with a bearer token."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastmcp import Client
from fastmcp.client.transports import StreamableHttpTransport
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from hub.config import Config
from hub.log import EventLog
from hub.mcp import build_server, http_app
from tests.conftest import free_port
from tests.mcp.house import House

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "s3cret-token-for-tests"


async def test_stdio_with_the_official_sdk(config_path: Path, log: EventLog, house: House, router: Any,
                                           tmp_path: Path) -> None:
    params = StdioServerParameters(command=sys.executable, args=["-m", "hub", "mcp", "-c", str(config_path)],
                                   cwd=str(ROOT))
    errors = (tmp_path / "stderr.txt").open("w")
    try:
        async with stdio_client(params, errlog=errors) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                tools = await session.list_tools()
                assert "send_command" in {t.name for t in tools.tools}
                state = await session.call_tool("get_state", {"entity_ids": ["light.kitchen"]})
                assert state.structured_content is not None
                assert state.structured_content["states"][0]["state"] == "on"
                wrong = await session.call_tool("get_state", {"entity_ids": ["light.kichen"]})
                assert wrong.is_error and "did you mean light.kitchen" in wrong.content[0].text
                why = await session.call_tool("explain", {"entity_id": "light.porch"})
                assert why.structured_content is not None
                assert why.structured_content["chain"][0]["seq"] == house.seqs["mqtt"]
                # The command goes through the log to the router running in this (the daemon's) process.
                done = await session.call_tool("send_command", {"entity_id": "light.kitchen", "command": "turn_off"})
                assert done.structured_content is not None, done.content
                assert done.structured_content["status"] == "succeeded", done.structured_content
    finally:
        errors.close()
    assert log.current_state("light.kitchen").state == "off"  # type: ignore[union-attr]
    request = await log.get(done.structured_content["request_seq"])
    assert request is not None and request.source == "mcp"
    assert "serving" in (tmp_path / "stderr.txt").read_text()  # logs go to stderr, stdout carries only MCP


async def test_stdio_with_a_bad_config_exits_with_a_reason(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("mcp:\n  allow: 12\n")
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "hub", "mcp", "-c", str(bad), cwd=str(ROOT),
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode == 1 and out == b""
    assert b"bad.yaml" in err and b"mcp.allow" in err and b"Traceback" not in err


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def http_url(log: EventLog, config: Config, house: House) -> AsyncIterator[str]:
    app = http_app(build_server(log, config), TOKEN, [], [])
    async with serving(app) as url:
        yield url


async def test_http_with_a_token(http_url: str) -> None:
    transport = StreamableHttpTransport(f"{http_url}/mcp", headers={"Authorization": f"Bearer {TOKEN}"})
    async with Client(transport) as client:
        result = await client.call_tool("list_entities", {"domain": "lock"})
        assert result.structured_content is not None
        assert [e["entity_id"] for e in result.structured_content["entities"]] == ["lock.front_door"]


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer", "bearer"])
async def test_http_without_the_right_token_is_401_without_detail(http_url: str, header: str | None) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    if header is not None:
        headers["Authorization"] = header
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{http_url}/mcp", content=json.dumps(body), headers=headers)
    assert response.status_code == 401
    assert response.text == "Unauthorized" and TOKEN not in response.text
    assert response.headers["www-authenticate"] == "Bearer"


async def test_http_checks_the_host_header(log: EventLog, config: Config, house: House) -> None:
    app = http_app(build_server(log, config), None, [], [])
    async with serving(app) as url:
        headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json",
                   "Host": "evil.example"}
        async with httpx.AsyncClient() as http:
            rebound = await http.post(f"{url}/mcp", content="{}", headers=headers)
        assert rebound.status_code == 421  # a DNS-rebinding page cannot reach the loopback endpoint
        async with Client(StreamableHttpTransport(f"{url}/mcp")) as client:  # loopback without a token
            assert (await client.call_tool("hub_status", {})).structured_content is not None


async def test_http_without_a_token_refuses_other_hosts(log: EventLog, config: Config, house: House) -> None:
    app = http_app(build_server(log, config), None, ["hub.lan"], [])
    transport = httpx.ASGITransport(app=app, client=("192.168.1.20", 50000))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=transport, base_url="http://hub.lan") as http:
            response = await http.post("/mcp", content="{}", headers={"Content-Type": "application/json"})
    assert response.status_code == 403
