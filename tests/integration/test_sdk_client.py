"""The official `mcp` SDK (2.3.0) against `sandgate serve examples/tools.py`, in both eras.

Each test runs over four connections: Streamable HTTP with the legacy initialize handshake,
Streamable HTTP in the 2026-07-28 era (the SDK's default `mode="auto"` probes
`server/discover` and adopts the modern version), and the same two over stdio.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio
import pytest
from mcp import Client, ClientSession, MCPError, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import TextContent, TextResourceContents

from .wire import LEGACY_REVISIONS, MODERN

pytestmark = pytest.mark.anyio

NEWEST_LEGACY = LEGACY_REVISIONS[0]
SERVER_NAME = "sandgate-examples"
TOOL_NAMES = {"add", "multiply", "word_count", "slugify", "reverse_words", "slow_echo", "fail",
              "describe_user"}
ADD_INPUT_SCHEMA = {
    "type": "object",
    "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
    "required": ["a", "b"],
}
APP_CONFIG = {"feature_flags": {"dark_mode": True, "beta_search": False}, "max_upload_mib": 16}
ADA = {"id": 1, "name": "Ada Lovelace", "email": "ada@example.com", "roles": ["admin"]}
# "Resource not found": legacy revisions use -32002, 2026-07-28 folds it into Invalid params.
RESOURCE_NOT_FOUND = {"legacy": -32002, "modern": -32602}


@dataclass(frozen=True)
class Connected:
    client: Client
    era: str  # "legacy" or "modern"


def stdio_params(stdio_command) -> StdioServerParameters:
    return StdioServerParameters(command=stdio_command.command, args=stdio_command.args,
                                 cwd=stdio_command.cwd)


@pytest.fixture(params=[("http", "legacy"), ("http", "auto"), ("stdio", "legacy"), ("stdio", "auto")],
                ids=["http-legacy", "http-modern", "stdio-legacy", "stdio-modern"])
async def sdk(request, server, stdio_command) -> AsyncIterator[Connected]:
    transport, mode = request.param
    target = server.url if transport == "http" else stdio_params(stdio_command)
    async with Client(target, mode=mode) as client:
        yield Connected(client, "legacy" if mode == "legacy" else "modern")


def only_text(content: list) -> str:
    assert len(content) == 1, content
    assert isinstance(content[0], TextContent), content
    return content[0].text


async def test_connection_negotiates_the_expected_era(sdk: Connected) -> None:
    expected = NEWEST_LEGACY if sdk.era == "legacy" else MODERN
    assert sdk.client.protocol_version == expected
    assert sdk.client.server_info is not None
    assert (sdk.client.server_info.name, sdk.client.server_info.version) == (SERVER_NAME, "1.0.0")
    assert sdk.client.server_capabilities.tools is not None


async def test_list_tools_names_and_add_schema(sdk: Connected) -> None:
    listed = await sdk.client.list_tools()
    tools = {tool.name: tool for tool in listed.tools}
    assert set(tools) == TOOL_NAMES
    add = tools["add"]
    assert add.input_schema == ADD_INPUT_SCHEMA
    assert add.description == "Add two integers."
    assert add.output_schema is not None
    assert add.output_schema["properties"] == {"result": {"type": "integer"}}
    assert add.annotations is not None and add.annotations.read_only_hint is True


async def test_call_add_returns_text_and_structured_result(sdk: Connected) -> None:
    result = await sdk.client.call_tool("add", {"a": 2, "b": 3})
    assert result.is_error is False
    assert only_text(result.content) == "5"
    assert result.structured_content == {"result": 5}


async def test_call_word_count_returns_structured_content(sdk: Connected) -> None:
    result = await sdk.client.call_tool("word_count", {"text": "one two\nthree"})
    assert result.is_error is False
    assert result.structured_content == {"words": 3, "characters": 13, "lines": 2}
    assert json.loads(only_text(result.content)) == result.structured_content


async def test_call_fail_is_an_error_result_naming_the_exception(sdk: Connected) -> None:
    result = await sdk.client.call_tool("fail", {"message": "disk on fire"})
    assert result.is_error is True
    text = only_text(result.content)
    assert "ValueError" in text
    assert "disk on fire" in text
    assert result.structured_content is None


async def test_call_add_with_bad_arguments_is_an_error_result(sdk: Connected) -> None:
    result = await sdk.client.call_tool("add", {"a": "two"})
    assert result.is_error is True
    text = only_text(result.content)
    assert "Invalid arguments for tool 'add'" in text
    assert "a: Input should be a valid integer" in text
    assert "b: Field required" in text


async def test_call_unknown_tool_is_a_protocol_error(sdk: Connected) -> None:
    with pytest.raises(MCPError) as raised:
        await sdk.client.call_tool("no_such_tool", {})
    assert raised.value.code == -32602
    assert "no_such_tool" in raised.value.message


async def test_async_slow_echo_calls_run_concurrently(sdk: Connected) -> None:
    delay_s, calls = 0.5, 4
    texts: dict[int, str] = {}

    async def echo(index: int) -> None:
        result = await sdk.client.call_tool("slow_echo", {"text": f"echo-{index}", "delay_s": delay_s})
        assert result.is_error is False
        texts[index] = only_text(result.content)

    started = time.monotonic()
    async with anyio.create_task_group() as group:
        for index in range(calls):
            group.start_soon(echo, index)
    elapsed = time.monotonic() - started
    assert texts == {index: f"echo-{index}" for index in range(calls)}
    # Run one after another they would take calls * delay_s = 2 s.
    assert elapsed < (calls - 1) * delay_s, f"{calls} calls took {elapsed:.2f}s"


async def test_read_static_resource(sdk: Connected) -> None:
    result = await sdk.client.read_resource("config://app")
    assert len(result.contents) == 1
    contents = result.contents[0]
    assert isinstance(contents, TextResourceContents)
    assert (str(contents.uri), contents.mime_type) == ("config://app", "application/json")
    assert json.loads(contents.text) == APP_CONFIG


async def test_read_templated_resource(sdk: Connected) -> None:
    result = await sdk.client.read_resource("users://1/profile")
    contents = result.contents[0]
    assert isinstance(contents, TextResourceContents)
    assert str(contents.uri) == "users://1/profile"
    assert json.loads(contents.text) == ADA


async def test_read_templated_resource_that_does_not_exist(sdk: Connected) -> None:
    with pytest.raises(MCPError) as raised:
        await sdk.client.read_resource("users://42/profile")
    assert raised.value.code == RESOURCE_NOT_FOUND[sdk.era]
    assert raised.value.data == {"uri": "users://42/profile"}


async def test_list_resources_and_templates(sdk: Connected) -> None:
    resources = await sdk.client.list_resources()
    assert [(str(r.uri), r.mime_type) for r in resources.resources] == [("config://app", "application/json")]
    templates = await sdk.client.list_resource_templates()
    assert [(t.name, t.uri_template, t.mime_type) for t in templates.resource_templates] == [
        ("user_profile", "users://{user_id}/profile", "application/json")
    ]


async def test_list_and_get_prompt(sdk: Connected) -> None:
    prompts = await sdk.client.list_prompts()
    assert [p.name for p in prompts.prompts] == ["summarize"]
    arguments = {a.name: a.required for a in prompts.prompts[0].arguments or []}
    assert arguments == {"text": True, "style": False}

    result = await sdk.client.get_prompt("summarize", {"text": "MCP gateways.", "style": "detailed"})
    assert len(result.messages) == 1
    message = result.messages[0]
    assert message.role == "user"
    assert isinstance(message.content, TextContent)
    assert message.content.text == (
        "Summarize the following text in a few paragraphs, keeping key details:\n\nMCP gateways."
    )


async def test_get_prompt_with_an_invalid_argument_is_invalid_params(sdk: Connected) -> None:
    with pytest.raises(MCPError) as raised:
        await sdk.client.get_prompt("summarize", {"text": "x", "style": "epic"})
    assert raised.value.code == -32602


# --- The two eras spelled out on the low-level ClientSession ---------------------------------

async def test_streamable_http_client_session_initialize(server) -> None:
    async with streamable_http_client(server.url) as streams, ClientSession(*streams) as session:
        init = await session.initialize()
        assert init.protocol_version == NEWEST_LEGACY
        assert init.server_info.name == SERVER_NAME
        assert init.instructions is not None and "Arithmetic" in init.instructions
        assert init.capabilities.tools is not None and init.capabilities.prompts is not None
        await session.send_ping()
        result = await session.call_tool("add", {"a": 40, "b": 2})
        assert result.structured_content == {"result": 42}


async def test_streamable_http_client_session_discover_and_adopt(server) -> None:
    async with streamable_http_client(server.url) as streams, ClientSession(*streams) as session:
        discovered = await session.discover()
        assert MODERN in discovered.supported_versions
        assert NEWEST_LEGACY in discovered.supported_versions
        session.adopt(discovered)
        assert session.protocol_version == MODERN
        result = await session.call_tool("add", {"a": 2, "b": 3})
        assert result.structured_content == {"result": 5}
        assert result.meta is not None
        assert result.meta["io.modelcontextprotocol/serverInfo"]["name"] == SERVER_NAME


async def test_client_pinned_to_the_modern_version_skips_the_probe(server) -> None:
    async with Client(server.url, mode=MODERN) as client:
        assert client.protocol_version == MODERN
        result = await client.call_tool("multiply", {"a": 1.5, "b": 4})
        assert result.structured_content == {"result": 6.0}


async def test_stdio_client_session_initialize(stdio_command) -> None:
    async with stdio_client(stdio_params(stdio_command)) as streams, ClientSession(*streams) as session:
        init = await session.initialize()
        assert init.protocol_version == NEWEST_LEGACY
        assert init.server_info.name == SERVER_NAME
        await session.send_ping()
        result = await session.call_tool("slugify", {"text": "Héllo, Wörld!"})
        assert only_text(result.content) == "hello-world"
