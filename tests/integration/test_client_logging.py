"""Log messages from handlers to clients: `sandgate serve servers/client_logging.py` and real clients.

The official `mcp` SDK's logging callback and fastmcp's log handler, over Streamable HTTP in both
eras and over stdio, for handlers in the gateway, sandboxed per call and on a per_session worker;
raw HTTP for what those clients hide: each message checked against its revision's schema, a legacy
session's logging/setLevel honoured and refused when it names no level, a modern request logged to
only when its `_meta` asks and only at or above the level it names, the per-call bound.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from fastmcp import Client as FastMCPClient
from mcp import Client, StdioServerParameters
from mcp.types import LoggingMessageNotificationParams, TextContent

from .server_process import REPO, TRUSTED, ServerProcess, running_server, server_python
from .servers.client_logging import MAX_LOG
from .test_schema_conformance import mcp_schema
from .wire import ACCEPT_BOTH, LegacySession, MODERN, ModernWire, modern_meta, result_of, sse_messages

LOGGING_SERVER = Path(__file__).resolve().parent / "servers" / "client_logging.py"
CHATTER_TOOLS = ("chatter_async", "chatter_sync", "chatter_sandboxed", "chatter_per_session")
LOG_META_KEY = "io.modelcontextprotocol/logLevel"
# What `chatter` sends, as (level, logger, data).
CHATTER = [
    ("debug", None, {"msg": "debug x"}),
    ("info", "app", {"msg": "info x", "extra": {"step": 1}}),
    ("warning", None, {"msg": "warning x"}),
    ("error", None, {"msg": "error x", "extra": {"code": 7}}),
]


@pytest.fixture(scope="module")
def logging_server() -> Iterator[ServerProcess]:
    with running_server(LOGGING_SERVER, TRUSTED) as process:
        yield process


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def stdio_params() -> StdioServerParameters:
    return StdioServerParameters(command=server_python(), cwd=str(REPO),
                                 args=["-m", "sandgate", "serve", str(LOGGING_SERVER), "--transport", "stdio",
                                       *TRUSTED])


def seen(messages: list[LoggingMessageNotificationParams]) -> list[tuple[str, str | None, Any]]:
    return [(m.level, m.logger, m.data) for m in messages]


async def settled(messages: list[Any], count: int) -> list[Any]:
    """Callbacks run as their own tasks; give the last ones a moment after the result."""
    with anyio.move_on_after(2):
        while len(messages) < count:
            await anyio.sleep(0.01)
    await anyio.sleep(0.05)  # and none more arrives
    return messages


def only_text(result: Any) -> str:
    assert len(result.content) == 1 and isinstance(result.content[0], TextContent), result.content
    return result.content[0].text


# --- The official SDK ------------------------------------------------------------------------------

@pytest.fixture(params=[("http", "legacy"), ("http", "auto"), ("stdio", "legacy"), ("stdio", "auto")],
                ids=["http-legacy", "http-modern", "stdio-legacy", "stdio-modern"])
def sdk_target(request, logging_server) -> tuple[Any, str]:
    transport, mode = request.param
    return (logging_server.url if transport == "http" else stdio_params()), mode


@pytest.mark.anyio
@pytest.mark.parametrize("tool", CHATTER_TOOLS)
async def test_sdk_logging_callback_receives_every_message(sdk_target: tuple[Any, str], tool: str) -> None:
    target, mode = sdk_target
    messages: list[LoggingMessageNotificationParams] = []

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        messages.append(params)

    async with Client(target, mode=mode, logging_callback=on_log, log_level="debug") as client:
        result = await client.call_tool(tool, {})
    assert only_text(result) == "logged x"
    assert seen(await settled(messages, len(CHATTER))) == CHATTER


@pytest.mark.anyio
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # logging/setLevel is deprecated in 2026-07-28
@pytest.mark.parametrize("transport", ["http", "stdio"])
async def test_sdk_legacy_set_level_keeps_what_is_below_it_away(logging_server, transport: str) -> None:
    target = logging_server.url if transport == "http" else stdio_params()
    messages: list[LoggingMessageNotificationParams] = []

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        messages.append(params)

    async with Client(target, mode="legacy", logging_callback=on_log) as client:
        await client.set_logging_level("warning")
        await client.call_tool("chatter_sandboxed", {})
    assert seen(await settled(messages, 2)) == CHATTER[2:]


@pytest.mark.anyio
async def test_sdk_modern_client_without_a_level_gets_no_messages(logging_server) -> None:
    messages: list[LoggingMessageNotificationParams] = []

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        messages.append(params)

    async with Client(logging_server.url, mode="auto", logging_callback=on_log) as client:
        result = await client.call_tool("chatter_sandboxed", {})
    assert only_text(result) == "logged x"
    assert await settled(messages, 1) == []


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_resources_and_prompts_log_from_the_sandbox(logging_server, mode: str) -> None:
    messages: list[LoggingMessageNotificationParams] = []

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        messages.append(params)

    async with Client(logging_server.url, mode=mode, logging_callback=on_log, log_level="debug") as client:
        read = await client.read_resource("log://note")
        prompt = await client.get_prompt("greet", {"name": "Ada"})
    assert read.contents[0].text == "the note"
    assert prompt.messages[0].content.text == "Hello, Ada"
    assert seen(await settled(messages, 2)) == [("info", None, {"msg": "reading the note"}),
                                                 ("warning", None, {"msg": "greeting Ada"})]


# --- fastmcp -----------------------------------------------------------------------------------------

@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["legacy", "auto"])
@pytest.mark.parametrize("tool", ["chatter_async", "chatter_sandboxed"])
async def test_fastmcp_log_handler_receives_every_message(logging_server, mode: str, tool: str) -> None:
    messages: list[LoggingMessageNotificationParams] = []

    async def on_log(message: LoggingMessageNotificationParams) -> None:
        messages.append(message)

    async with FastMCPClient(logging_server.url, mode=mode, log_handler=on_log) as client:
        result = await client.call_tool(tool, {"label": "f"})
    assert only_text(result) == "logged f"
    assert [(m.level, m.data["msg"]) for m in await settled(messages, 4)] == [
        ("debug", "debug f"), ("info", "info f"), ("warning", "warning f"), ("error", "error f")]


# --- Raw HTTP: what goes on the wire ------------------------------------------------------------------

def modern_call(url: str, tool: str, meta: dict[str, Any], *, request_id: Any = 1,
                arguments: dict[str, Any] | None = None) -> httpx.Response:
    wire = ModernWire(url)
    try:
        params = {"name": tool, "arguments": arguments or {}, "_meta": {**modern_meta(), **meta}}
        headers = wire.headers("tools/call", params)
        headers["Accept"] = ACCEPT_BOTH
        return wire.http.post(url, headers=headers,
                              json={"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params})
    finally:
        wire.close()


def legacy_call(session: LegacySession, tool: str, request_id: Any = 1,
                arguments: dict[str, Any] | None = None) -> httpx.Response:
    return session.post({"jsonrpc": "2.0", "id": request_id, "method": "tools/call",
                         "params": {"name": tool, "arguments": arguments or {}}}, headers={"Accept": ACCEPT_BOTH})


def check_stream(revision: str, messages: list[dict[str, Any]], expected: list[tuple[str, str | None, Any]],
                 request_id: Any) -> None:
    schema = mcp_schema(revision)
    *notifications, last = messages
    for message in notifications:
        for definition in ("LoggingMessageNotification", "JSONRPCNotification", "JSONRPCMessage"):
            schema.check(definition, message)
    assert [(n["params"]["level"], n["params"].get("logger"), n["params"]["data"]) for n in notifications] == expected
    assert last["id"] == request_id
    schema.check_result_envelope(last, "CallToolResult")


@pytest.mark.parametrize("tool", ["chatter_async", "chatter_sandboxed"])
@pytest.mark.parametrize(("level", "first"), [("debug", 0), ("warning", 2), ("error", 3)])
def test_modern_request_gets_what_is_at_or_above_its_level(logging_server, tool: str, level: str,
                                                            first: int) -> None:
    reply = modern_call(logging_server.url, tool, {LOG_META_KEY: level}, request_id="log-1")
    assert reply.headers["content-type"] == "text/event-stream"
    check_stream(MODERN, sse_messages(reply), CHATTER[first:], "log-1")


@pytest.mark.parametrize("meta", [{}, {LOG_META_KEY: "loud"}, {LOG_META_KEY: 3}], ids=["none", "unknown", "number"])
def test_modern_request_that_names_no_level_gets_plain_json(logging_server, meta: dict[str, Any]) -> None:
    reply = modern_call(logging_server.url, "chatter_sandboxed", meta)
    assert reply.headers["content-type"] == "application/json"
    assert result_of(reply)["content"] == [{"type": "text", "text": "logged x"}]


@pytest.mark.parametrize("tool", ["chatter_sync", "chatter_sandboxed", "chatter_per_session"])
def test_legacy_session_gets_every_level_until_it_sets_one(logging_server, legacy, legacy_revision: str,
                                                           tool: str) -> None:
    session = legacy(logging_server.url, legacy_revision)
    check_stream(legacy_revision, sse_messages(legacy_call(session, tool, 5)), CHATTER, 5)
    assert session.result("logging/setLevel", {"level": "error"}) == {}
    check_stream(legacy_revision, sse_messages(legacy_call(session, tool, 6)), CHATTER[3:], 6)


def test_legacy_set_level_naming_no_level_is_invalid_params_and_keeps_the_old_one(logging_server, legacy) -> None:
    session = legacy(logging_server.url)
    assert session.result("logging/setLevel", {"level": "warning"}) == {}
    for level in ("loud", "WARNING", 3, None):
        reply = session.request("logging/setLevel", {"level": level})
        assert reply.json()["error"]["code"] == -32602, reply.text
    check_stream(session.version, sse_messages(legacy_call(session, "chatter_sandboxed", 2)), CHATTER[2:], 2)


def test_a_session_level_is_its_own(logging_server, legacy) -> None:
    quiet, chatty = legacy(logging_server.url), legacy(logging_server.url)
    assert quiet.result("logging/setLevel", {"level": "emergency"}) == {}
    assert legacy_call(quiet, "chatter_sandboxed").headers["content-type"] == "application/json"
    assert len(sse_messages(legacy_call(chatty, "chatter_sandboxed"))) == len(CHATTER) + 1


def test_messages_beyond_the_bound_are_dropped_and_the_result_arrives(logging_server) -> None:
    count = MAX_LOG * 3
    messages = sse_messages(modern_call(logging_server.url, "many", {LOG_META_KEY: "debug"}, request_id=3,
                                        arguments={"count": count}))
    *notifications, last = messages
    assert [n["params"]["data"]["msg"] for n in notifications] == [f"message {i}" for i in range(MAX_LOG)]
    assert last["result"]["content"] == [{"type": "text", "text": f"{count} messages"}]


def test_a_level_no_client_knows_is_the_tools_error_and_nothing_is_sent(logging_server) -> None:
    reply = modern_call(logging_server.url, "bad_level", {LOG_META_KEY: "debug"})
    assert reply.headers["content-type"] == "application/json"
    result = result_of(reply)
    assert result["isError"] is True
    assert "log level" in result["content"][0]["text"]
