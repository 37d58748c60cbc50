"""Resource subscriptions and list changes: `sandgate serve servers/subscriptions.py` and real clients.

Handshake-era sessions subscribe with resources/subscribe and hear notifications/resources/updated on their own
stream (the HTTP GET stream, the stdio connection); a 2026-07-28 client opens subscriptions/listen and hears
what its filter names, each notification tagged with the listen request's id. Calls announce from wherever
they run (in process, sandboxed per call, on a per_session worker, hosted); another session's call reaches a
subscriber; a call is held to its bound, and a hostile child's own frames are checked again.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from fastmcp import Client as FastMCPClient
from mcp import Client, StdioServerParameters
from mcp.types import TextContent

from .server_process import REPO, TRUSTED, ServerProcess, running_server, server_python
from .servers.subscriptions import MAX_ANNOUNCEMENTS, READ_PROBE
from .test_metrics import METRICS_LINE
from .test_schema_conformance import mcp_schema
from .wire import MODERN, LegacySession, ModernWire, sse_messages_of

SERVERS = Path(__file__).resolve().parent / "servers"
SUBSCRIPTIONS = SERVERS / "subscriptions.py"
HOSTILE = SERVERS / "hostile_asking.py"
TOUCH_TOOLS = ("touch_in_process", "touch_sandboxed", "touch_per_session", "touch_fastmcp_style")
SUBSCRIPTION_ID = "io.modelcontextprotocol/subscriptionId"

pytestmark = pytest.mark.filterwarnings("ignore:resources/(un)?subscribe is removed")  # legacy-only methods


@contextlib.contextmanager
def probed() -> Iterator[None]:
    os.environ[READ_PROBE] = "the gateway's environment"  # inherited by the server, never by its sandbox
    try:
        yield
    finally:
        os.environ.pop(READ_PROBE, None)  # the other fixture may have taken it already


@pytest.fixture(scope="module")
def trusted_server() -> Iterator[ServerProcess]:
    with probed(), running_server(SUBSCRIPTIONS, TRUSTED) as process:
        yield process


@pytest.fixture(scope="module")
def hosted_server() -> Iterator[ServerProcess]:
    # Not trusted: every handler runs in the sandbox, and the module's own settings do not apply.
    with probed(), running_server(SUBSCRIPTIONS, ("--set", f"max_announcements_per_call={MAX_ANNOUNCEMENTS}")) as process:
        yield process


@pytest.fixture(scope="module")
def hostile_server() -> Iterator[ServerProcess]:
    with running_server(HOSTILE, ("--set", "max_announcements_per_call=3")) as process:
        yield process


def stdio_params() -> StdioServerParameters:
    return StdioServerParameters(command=server_python(), cwd=str(REPO),
                                 args=["-m", "sandgate", "serve", str(SUBSCRIPTIONS), "--transport", "stdio", *TRUSTED])


def text_of(result: Any) -> str:
    assert len(result.content) == 1 and isinstance(result.content[0], TextContent), result.content
    return result.content[0].text


class Heard:
    """What a client's message handler received besides responses: (method, uri or None)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str | None]] = []

    async def __call__(self, message: Any) -> None:
        method = getattr(message, "method", None)
        if method in ("notifications/resources/updated", "notifications/tools/list_changed",
                      "notifications/prompts/list_changed", "notifications/resources/list_changed"):
            self.messages.append((method, getattr(getattr(message, "params", None), "uri", None)))

    async def settled(self, count: int) -> list[tuple[str, str | None]]:
        with anyio.move_on_after(3):
            while len(self.messages) < count:
                await anyio.sleep(0.01)
        await anyio.sleep(0.2)  # and none more arrives
        return self.messages


def updated(uri: str) -> tuple[str, str]:
    return "notifications/resources/updated", uri


# --- Handshake era: resources/subscribe ---------------------------------------------------------------

@pytest.mark.anyio
@pytest.mark.parametrize("tool", TOUCH_TOOLS)
async def test_a_subscribed_session_hears_of_its_resource_only(trusted_server, tool: str) -> None:
    heard = Heard()
    async with Client(trusted_server.url, mode="legacy", message_handler=heard) as client:
        assert client.server_capabilities.resources.subscribe is True
        await client.subscribe_resource("note://a")
        assert text_of(await client.call_tool(tool, {"uri": "note://a"})) == "touched note://a"
        await client.call_tool(tool, {"uri": "note://b"})  # not subscribed: not heard
        assert await heard.settled(1) == [updated("note://a")]
        await client.unsubscribe_resource("note://a")
        await client.call_tool(tool, {"uri": "note://a"})
        assert await heard.settled(2) == [updated("note://a")]


@pytest.mark.anyio
@pytest.mark.parametrize("server", ["trusted_server", "hosted_server"])
async def test_a_fastmcp_client_hears_and_reads(request, server: str) -> None:
    heard = Heard()
    async with FastMCPClient(request.getfixturevalue(server).url, mode="legacy", message_handler=heard) as client:
        await client.session.subscribe_resource("note://a")
        result = await client.call_tool("touch_sandboxed", {"uri": "note://a"})
        assert result.content[0].text == "touched note://a"
        read = await client.call_tool("read_sandboxed", {"uri": "note://shelf/maps"})
        assert read.content[0].text == "text/plain: 'shelved maps'"
        assert await heard.settled(1) == [updated("note://a")]


@pytest.mark.anyio
async def test_another_sessions_call_reaches_the_subscriber(hosted_server) -> None:
    subscriber, bystander = Heard(), Heard()
    async with Client(hosted_server.url, mode="legacy", message_handler=subscriber) as watching, \
            Client(hosted_server.url, mode="legacy", message_handler=bystander) as other:
        await watching.subscribe_resource("note://b")
        await other.call_tool("touch_sandboxed", {"uri": "note://b"})
        await other.call_tool("relist", {"kind": "prompts"})
        expected = [updated("note://b"), ("notifications/prompts/list_changed", None)]
        assert await subscriber.settled(2) == expected
        assert await bystander.settled(1) == [("notifications/prompts/list_changed", None)]


@pytest.mark.anyio
async def test_a_stdio_session_hears_on_its_connection() -> None:
    heard = Heard()
    async with Client(stdio_params(), mode="legacy", message_handler=heard) as client:
        await client.subscribe_resource("note://a")
        await client.call_tool("touch_sandboxed", {"uri": "note://a"})
        await client.call_tool("relist", {"kind": "tools"})
        assert await heard.settled(2) == [updated("note://a"), ("notifications/tools/list_changed", None)]


@pytest.mark.anyio
async def test_a_modern_stdio_client_hears_nothing_it_did_not_ask_for() -> None:
    heard = Heard()
    async with Client(stdio_params(), mode="auto", message_handler=heard) as client:
        await client.call_tool("relist", {"kind": "tools"})
        async with client.listen(resource_subscriptions=["note://a"]) as subscription:
            await client.call_tool("relist", {"kind": "tools"})
            await client.call_tool("touch_sandboxed", {"uri": "note://a"})
            with anyio.fail_after(5):
                event = await subscription.__anext__()
        assert event.uri == "note://a"
    # The listen stream's own update passes the handler too; no list change that nobody asked for does.
    assert heard.messages == [updated("note://a")]


def test_the_get_stream_carries_updates_as_events(trusted_server) -> None:
    session = LegacySession(trusted_server.url, "2025-11-25").open()
    events: list[dict[str, Any]] = []
    opened = threading.Event()

    def listen() -> None:
        headers = {"Accept": "text/event-stream", "Mcp-Session-Id": session.session_id,
                   "MCP-Protocol-Version": "2025-11-25"}
        with httpx.Client(timeout=10) as http, http.stream("GET", trusted_server.url, headers=headers) as reply:
            assert reply.status_code == 200
            opened.set()
            text = ""
            for chunk in reply.iter_text():
                text += chunk
                events[:] = sse_messages_of(text)
                if events:
                    return

    try:
        assert session.result("resources/subscribe", {"uri": "note://a"}) == {}
        reader = threading.Thread(target=listen, daemon=True)
        reader.start()
        assert opened.wait(5)
        for _ in range(50):  # the stream attaches once its headers are out: touch until it hears
            session.result("tools/call", {"name": "touch_in_process", "arguments": {"uri": "note://a"}})
            reader.join(0.1)
            if not reader.is_alive():
                break
        assert events, "no event arrived on the GET stream"
        schema = mcp_schema("2025-11-25")
        for definition in ("ResourceUpdatedNotification", "JSONRPCNotification"):
            schema.check(definition, events[0])
        assert events[0]["params"] == {"uri": "note://a"}
    finally:
        session.delete()
        session.close()


def test_a_get_stream_whose_client_stops_reading_holds_a_bounded_backlog() -> None:
    args = (*TRUSTED, "--set", "max_stream_backlog=8", "--set", "max_announcements_per_call=100000")
    with running_server(SUBSCRIPTIONS, args) as server:
        metrics_url = server.wait_for_line(METRICS_LINE, 5)["url"]
        session = LegacySession(server.url, "2025-11-25").open()
        stalled = socket.socket()
        try:
            assert session.result("resources/subscribe", {"uri": "note://a"}) == {}
            stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # and never read: the stream backs up
            stalled.connect(("127.0.0.1", server.port))
            stalled.sendall(f"GET /mcp HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n"
                            f"Mcp-Session-Id: {session.session_id}\r\nMCP-Protocol-Version: 2025-11-25\r\n\r\n"
                            .encode())
            assert stalled.recv(12, socket.MSG_PEEK) == b"HTTP/1.1 200"  # the stream's head is out: it is attached
            for _ in range(10):  # 200,000 updates of ~80 bytes: far past what socket buffers hold (4 MiB by default)
                session.result("tools/call", {"name": "flood_in_process", "arguments": {"uri": "note://a",
                                                                                        "count": 20_000}})
            counts = {line.split()[0]: float(line.split()[1]) for line in httpx.get(metrics_url).text.splitlines()
                      if line.startswith("sandgate_announcements_")}
            assert counts["sandgate_announcements_undeliverable_total"] > 0, counts
            assert counts["sandgate_announcements_sent_total"] > 8, counts  # the stream took what fit, then refused
            assert counts["sandgate_announcements_sent_total"] + counts["sandgate_announcements_undeliverable_total"] \
                == 200_000
            reply = session.request("ping", {})  # and the gateway serves on
            assert reply.status_code == 200
        finally:
            stalled.close()
            session.close()


@pytest.mark.parametrize(("params", "needle"), [
    ({}, "'uri' must be a string"),
    ({"uri": 7}, "'uri' must be a string"),
    ({"uri": "x" * 2049}, "longer than 2048 bytes"),
])
def test_a_malformed_subscription_is_refused(trusted_server, params: dict[str, Any], needle: str) -> None:
    session = LegacySession(trusted_server.url, "2025-11-25").open()
    try:
        reply = session.request("resources/subscribe", params).json()
        assert reply["error"]["code"] == -32602 and needle in reply["error"]["message"], reply
    finally:
        session.close()


def test_a_session_holds_a_bounded_number_of_subscriptions(trusted_server) -> None:
    session = LegacySession(trusted_server.url, "2025-06-18").open()
    try:
        for index in range(100):
            assert session.result("resources/subscribe", {"uri": f"note://{index}"}) == {}
        reply = session.request("resources/subscribe", {"uri": "note://one-more"}).json()
        assert reply["error"]["code"] == -32602 and "100 resources" in reply["error"]["message"], reply
        assert session.result("resources/unsubscribe", {"uri": "note://0"}) == {}
        assert session.result("resources/subscribe", {"uri": "note://one-more"}) == {}
    finally:
        session.close()


# --- 2026-07-28: subscriptions/listen -----------------------------------------------------------------

@pytest.mark.anyio
@pytest.mark.parametrize("server", ["trusted_server", "hosted_server"])
async def test_a_listen_stream_hears_what_its_filter_names(request, server: str) -> None:
    url = request.getfixturevalue(server).url
    async with Client(url, mode="auto") as client, \
            client.listen(prompts_list_changed=True, resource_subscriptions=["note://a"]) as subscription:
        assert subscription.honored.prompts_list_changed is True
        await client.call_tool("relist", {"kind": "tools"})  # not in the filter
        await client.call_tool("touch_sandboxed", {"uri": "note://b"})  # not in the filter
        await client.call_tool("touch_sandboxed", {"uri": "note://a"})
        await client.call_tool("relist", {"kind": "prompts"})
        events = []
        with anyio.fail_after(5):
            async for event in subscription:
                events.append(type(event).__name__)
                if len(events) == 2:
                    break
    assert events == ["ResourceUpdated", "PromptsListChanged"]


def listen_raw(url: str, notifications: dict[str, Any], request_id: Any, trigger: Any,
               count: int) -> list[dict[str, Any]]:
    """The first `count` messages of a raw subscriptions/listen stream; `trigger` runs once it is acknowledged."""
    wire = ModernWire(url)
    params = {"notifications": notifications}
    body = wire.message("subscriptions/listen", params, request_id=request_id)
    messages: list[dict[str, Any]] = []
    try:
        with wire.http.stream("POST", url, headers=wire.headers("subscriptions/listen", params), json=body) as reply:
            assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/event-stream")
            text = ""
            for chunk in reply.iter_text():
                text += chunk
                before = len(messages)
                messages[:] = sse_messages_of(text)
                if before == 0 and messages:
                    trigger()
                if len(messages) >= count:
                    return messages[:count]
    finally:
        wire.close()
    return messages


def test_the_listen_stream_is_acknowledged_first_and_tags_every_notification(trusted_server) -> None:
    def trigger() -> None:
        with ModernCalls(trusted_server.url) as call:
            call("touch_in_process", {"uri": "note://a"})
            call("relist", {"kind": "resources"})

    messages = listen_raw(trusted_server.url, {"resourcesListChanged": True, "resourceSubscriptions": ["note://a"],
                                               "madeUp": True}, "listen-7", trigger, 3)
    ack, update, relisted = messages
    assert ack["method"] == "notifications/subscriptions/acknowledged"
    # What is honoured, as sent; a member it does not know is not promised.
    assert ack["params"]["notifications"] == {"resourcesListChanged": True, "resourceSubscriptions": ["note://a"]}
    assert update == {"jsonrpc": "2.0", "method": "notifications/resources/updated",
                      "params": {"uri": "note://a", "_meta": {SUBSCRIPTION_ID: "listen-7"}}}
    assert relisted["method"] == "notifications/resources/list_changed"
    schema = mcp_schema(MODERN)
    for message, definition in zip(messages, ("SubscriptionsAcknowledgedNotification", "ResourceUpdatedNotification",
                                              "ResourceListChangedNotification")):
        assert message["params"]["_meta"][SUBSCRIPTION_ID] == "listen-7"
        schema.check(definition, message)


class ModernCalls:
    """Stateless modern tools/call over plain HTTP, for triggers run from a reader thread."""

    def __init__(self, url: str) -> None:
        self.wire = ModernWire(url)

    def __enter__(self) -> Any:
        def call(tool: str, arguments: dict[str, Any]) -> None:
            reply = self.wire.request("tools/call", {"name": tool, "arguments": arguments})
            assert reply.status_code == 200 and "result" in reply.json(), reply.text
        return call

    def __exit__(self, *exc: Any) -> None:
        self.wire.close()


def test_a_quiet_listen_stream_carries_keepalive_comments() -> None:
    with running_server(SUBSCRIPTIONS, (*TRUSTED, "--set", "stream_keepalive_s=0.1")) as server:
        wire = ModernWire(server.url)
        params = {"notifications": {"toolsListChanged": True}}
        body = wire.message("subscriptions/listen", params, request_id=1)
        text = ""
        try:
            with wire.http.stream("POST", server.url, headers=wire.headers("subscriptions/listen", params),
                                  json=body) as reply:
                for chunk in reply.iter_text():
                    text += chunk
                    if text.count(":\n\n") >= 3:
                        break
        finally:
            wire.close()
    assert sse_messages_of(text)[0]["method"] == "notifications/subscriptions/acknowledged"
    assert text.count(":\n\n") >= 3  # comments only: no message but the acknowledgement


@pytest.mark.parametrize(("notifications", "needle"), [
    ({"toolsListChanged": "yes"}, "must be a boolean"),
    ({"resourceSubscriptions": "note://a"}, "array of strings"),
    ([], "must be an object"),
])
def test_a_malformed_filter_is_refused(trusted_server, notifications: Any, needle: str) -> None:
    wire = ModernWire(trusted_server.url)
    try:
        reply = wire.request("subscriptions/listen", {"notifications": notifications})
        body = reply.json()
        assert body["error"]["code"] == -32602 and needle in body["error"]["message"], body
    finally:
        wire.close()


def test_listen_needs_an_event_stream(trusted_server) -> None:
    wire = ModernWire(trusted_server.url)
    try:
        params = {"notifications": {"toolsListChanged": True}}
        headers = wire.headers("subscriptions/listen", params)
        headers["Accept"] = "application/json"
        reply = wire.request("subscriptions/listen", params, headers=headers)
        body = reply.json()
        assert body["error"]["code"] == -32600 and "text/event-stream" in body["error"]["message"], body
    finally:
        wire.close()


# --- Bounds and hostile children ------------------------------------------------------------------------

@pytest.mark.parametrize("server", ["trusted_server", "hosted_server"])
def test_a_call_announces_at_most_its_bound(request, server: str) -> None:
    url = request.getfixturevalue(server).url

    def trigger() -> None:
        with ModernCalls(url) as call:
            call("flood", {"uri": "note://a", "count": 10})
            call("touch_sandboxed", {"uri": "note://b"})  # a mark: the flood is over

    messages = listen_raw(url, {"resourceSubscriptions": ["note://a", "note://b"]}, 1, trigger,
                          MAX_ANNOUNCEMENTS + 2)
    assert [m["params"].get("uri") for m in messages[1:]] == ["note://a"] * MAX_ANNOUNCEMENTS + ["note://b"]


@pytest.mark.anyio
async def test_a_bad_uri_is_the_handlers_error(trusted_server) -> None:
    async with Client(trusted_server.url, mode="auto") as client:
        result = await client.call_tool("bad_uri", {})
    assert result.is_error and "URI" in text_of(result)


def test_a_hostile_childs_own_frames_are_checked_and_bounded(hostile_server) -> None:
    forged = [
        {"kind": "resource_updated", "uri": "note://a"},                       # well-formed: sent
        {"kind": "resource_updated", "uri": ""},                               # no URI: dropped
        {"kind": "resource_updated", "uri": ["note://a"]},                     # not a string: dropped
        {"kind": "tools/call", "uri": "note://a"},                             # not a change: dropped
        "resource_updated",                                                    # not an object: dropped
        {"kind": "resource_updated", "uri": "note://a" + "x" * 5000},         # too long: dropped
        {"kind": "elicitation_complete", "uri": ""},                           # no id: dropped
        {"kind": "resources_list_changed"},                                    # sent
        {"kind": "tools_list_changed"},                                        # sent (not in the filter)
        {"kind": "resource_updated", "uri": "note://a"},                       # over the bound of 3
    ]

    def trigger() -> None:
        with ModernCalls(hostile_server.url) as call:
            call("forge_announcements", {"announcements": forged})
            call("forge_announcements", {"announcements": [{"kind": "resource_updated", "uri": "note://b"}]})  # a new bound

    messages = listen_raw(hostile_server.url, {"resourcesListChanged": True,
                                               "resourceSubscriptions": ["note://a", "note://b"]}, 1, trigger, 4)
    assert [(m["method"], m["params"].get("uri")) for m in messages[1:]] == [
        updated("note://a"), ("notifications/resources/list_changed", None), updated("note://b")]


# --- ctx.read_resource ------------------------------------------------------------------------------------

@pytest.mark.anyio
@pytest.mark.parametrize(("server", "tool"), [("trusted_server", "read_in_process"), ("trusted_server", "read_sandboxed"),
                                              ("hosted_server", "read_sandboxed"), ("hosted_server", "read_in_process")])
@pytest.mark.parametrize(("uri", "expected"), [
    ("note://a", "text/plain: 'note a'"),
    ("note://shelf/poems", "text/plain: 'shelved poems'"),
    ("blob://one", "application/octet-stream: b'\\x00\\x01'"),
    ("where://here", "text/plain: 'sandbox'"),  # a sandboxed resource runs sandboxed, whoever reads it
])
async def test_a_handler_reads_its_servers_resources_where_they_run(request, server: str, tool: str, uri: str,
                                                                     expected: str) -> None:
    async with Client(request.getfixturevalue(server).url, mode="auto") as client:
        assert text_of(await client.call_tool(tool, {"uri": uri})) == expected


@pytest.mark.anyio
@pytest.mark.parametrize("tool", ["read_in_process", "read_sandboxed"])
async def test_reading_what_no_resource_answers_is_the_handlers_error(trusted_server, tool: str) -> None:
    async with Client(trusted_server.url, mode="auto") as client:
        result = await client.call_tool(tool, {"uri": "nothing://here"})
    assert result.is_error and text_of(result) == "ResourceNotFound: Resource not found"


# --- ctx.session_id -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("tool", ["session_in_process", "session_sandboxed"])
def test_a_session_id_is_stable_for_a_session_and_never_the_session_itself(trusted_server, tool: str) -> None:
    first, second = (LegacySession(trusted_server.url, "2025-11-25").open() for _ in range(2))
    try:
        def session_id_of(session: LegacySession) -> str:
            result = session.result("tools/call", {"name": tool, "arguments": {}})
            return result["content"][0]["text"]

        key = session_id_of(first)
        assert session_id_of(first) == key and len(key) == 32
        assert session_id_of(second) != key
        assert first.session_id not in key and key not in first.session_id
        wire = ModernWire(trusted_server.url)  # stateless: a fresh one per request
        try:
            keys = {wire.result("tools/call", {"name": tool, "arguments": {}})["content"][0]["text"] for _ in range(2)}
        finally:
            wire.close()
        assert len(keys) == 2 and key not in keys
    finally:
        first.close()
        second.close()
