"""fastmcp's `Client` (4.2.3) against `sandgate serve examples/tools.py`, over HTTP and stdio."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastmcp import Client
from fastmcp.client.transports import StdioTransport
from fastmcp.exceptions import ToolError
from mcp.types import TextContent, TextResourceContents

from .wire import LEGACY_REVISIONS, MODERN

pytestmark = pytest.mark.anyio

NEWEST_LEGACY = LEGACY_REVISIONS[0]


@dataclass(frozen=True)
class Connected:
    client: Client
    protocol_version: str
    stderr_log: Path | None  # where a stdio server's stderr goes


@pytest.fixture(params=[("http", "legacy"), ("http", "auto"), ("stdio", "legacy"), ("stdio", "auto")],
                ids=["http-legacy", "http-modern", "stdio-legacy", "stdio-modern"])
async def fastmcp_client(request, server, stdio_command, tmp_path: Path) -> AsyncIterator[Connected]:
    transport, mode = request.param
    log = None
    if transport == "http":
        target = server.url
    else:
        log = tmp_path / "stdio-server.log"
        target = StdioTransport(stdio_command.command, stdio_command.args, cwd=stdio_command.cwd,
                                keep_alive=False, log_file=log)
    async with Client(target, mode=mode) as client:
        yield Connected(client, MODERN if mode == "auto" else NEWEST_LEGACY, log)


async def test_connects_in_the_expected_era_and_lists_tools(fastmcp_client: Connected) -> None:
    client = fastmcp_client.client
    assert client.protocol_version == fastmcp_client.protocol_version
    assert client.server_info is not None and client.server_info.name == "sandgate-examples"
    tools = {tool.name: tool for tool in await client.list_tools()}
    assert {"add", "word_count", "slow_echo", "fail", "describe_user"} <= set(tools)
    assert tools["add"].input_schema["required"] == ["a", "b"]


async def test_wrapped_primitive_result_is_unwrapped(server) -> None:
    """A tool returning `int` has its value wrapped as {"result": ...}; `.data` is the bare int,
    as it is against a FastMCP server (which marks such schemas `x-fastmcp-wrap-result`)."""
    async with Client(server.url) as client:
        added = await client.call_tool("add", {"a": 2, "b": 3})
    assert added.structured_content == {"result": 5}
    assert added.data == 5


async def test_structured_results_are_hydrated(fastmcp_client: Connected) -> None:
    client = fastmcp_client.client
    counted = await client.call_tool("word_count", {"text": "a b c"})
    assert counted.structured_content == {"words": 3, "characters": 5, "lines": 1}
    assert (counted.data.words, counted.data.characters) == (3, 5)

    user = await client.call_tool("describe_user", {"user_id": 2})
    assert user.structured_content == {"id": 2, "name": "Alan Turing", "email": "alan@example.com",
                                       "roles": ["engineer"]}


async def test_tool_errors(fastmcp_client: Connected) -> None:
    client = fastmcp_client.client
    with pytest.raises(ToolError, match="ValueError: kaboom"):
        await client.call_tool("fail", {"message": "kaboom"})

    result = await client.call_tool("add", {"a": 1}, raise_on_error=False)
    assert result.is_error is True
    assert isinstance(result.content[0], TextContent)
    assert "b: Field required" in result.content[0].text

    if fastmcp_client.stderr_log is not None:
        # The traceback goes to the server's stderr, never into the stdio protocol stream.
        assert "ValueError: kaboom" in fastmcp_client.stderr_log.read_text()


async def test_async_tool(fastmcp_client: Connected) -> None:
    result = await fastmcp_client.client.call_tool("slow_echo", {"text": "later", "delay_s": 0.2})
    assert result.is_error is False
    [content] = result.content
    assert isinstance(content, TextContent) and content.text == "later"


async def test_resources_and_prompt(fastmcp_client: Connected) -> None:
    client = fastmcp_client.client
    [config] = await client.read_resource("config://app")
    assert isinstance(config, TextResourceContents)
    assert json.loads(config.text)["max_upload_mib"] == 16

    [profile] = await client.read_resource("users://2/profile")
    assert isinstance(profile, TextResourceContents)
    assert json.loads(profile.text)["name"] == "Alan Turing"

    [template] = await client.list_resource_templates()
    assert template.uri_template == "users://{user_id}/profile"

    prompt = await client.get_prompt("summarize", {"text": "Sandgate."})
    assert isinstance(prompt.messages[0].content, TextContent)
    assert prompt.messages[0].content.text == "Summarize the following text in one sentence:\n\nSandgate."
