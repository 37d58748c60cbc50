"""Progress from tools to clients: `sandgate serve servers/progress.py` and real clients.

The official `mcp` SDK's progress callback and fastmcp's progress handler, over Streamable
HTTP in both eras and over stdio, for tools in the gateway and in the sandbox; raw HTTP for
what those clients hide: every message checked against its revision's schema, the token
echoed with its type, plain JSON when no token was sent or the client takes no event stream,
the per-call bound, and a client that leaves mid-progress.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from fastmcp import Client as FastMCPClient
from fastmcp.client.transports import StdioTransport
from mcp import Client, StdioServerParameters
from mcp.types import TextContent

from .server_process import REPO, TRUSTED, ServerProcess, running_server, server_python
from .servers.progress import MAX_PROGRESS
from .test_schema_conformance import mcp_schema
from .wire import (
    ACCEPT_BOTH, HTTP_TIMEOUT_S, LEGACY_REVISIONS, MODERN, LegacySession, ModernWire, modern_meta,
    result_of, sse_messages, sse_messages_of,
)

PROGRESS_SERVER = Path(__file__).resolve().parent / "servers" / "progress.py"
STEP_TOOLS = ("steps_async", "steps_sync", "steps_sandboxed", "steps_per_session")
Update = tuple[float, float | None, str | None]


@pytest.fixture(scope="module")
def progress_server() -> Iterator[ServerProcess]:
    with running_server(PROGRESS_SERVER, TRUSTED) as process:
        yield process


def stdio_params() -> StdioServerParameters:
    return StdioServerParameters(command=server_python(), cwd=str(REPO),
                                 args=["-m", "sandgate", "serve", str(PROGRESS_SERVER), "--transport", "stdio",
                                       *TRUSTED])


def expected_steps(count: int, *, with_message: bool = True) -> list[Update]:
    return [(float(step), float(count), f"step {step}" if with_message else None) for step in range(1, count + 1)]


async def settled(updates: list[Update], count: int) -> list[Update]:
    """The callbacks run as their own tasks; give the last ones a moment after the result."""
    with anyio.move_on_after(2):
        while len(updates) < count:
            await anyio.sleep(0.01)
    return updates


def only_text(result: Any) -> str:
    assert len(result.content) == 1 and isinstance(result.content[0], TextContent), result.content
    return result.content[0].text


# --- The official SDK ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Connected:
    client: Client
    label: str


@pytest.fixture(params=[("http", "legacy"), ("http", "auto"), ("stdio", "legacy"), ("stdio", "auto")],
                ids=["http-legacy", "http-modern", "stdio-legacy", "stdio-modern"])
async def sdk(request, progress_server) -> AsyncIterator[Connected]:
    transport, mode = request.param
    target = progress_server.url if transport == "http" else stdio_params()
    async with Client(target, mode=mode) as client:
        yield Connected(client, f"{transport}-{mode}")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
@pytest.mark.parametrize("tool", STEP_TOOLS)
async def test_sdk_progress_callback_receives_every_step(sdk: Connected, tool: str) -> None:
    updates: list[Update] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        updates.append((progress, total, message))

    result = await sdk.client.call_tool(tool, {"count": 3}, progress_callback=on_progress)
    assert result.is_error is False, result
    assert only_text(result) == "3 steps"
    assert await settled(updates, 3) == expected_steps(3)


@pytest.mark.anyio
async def test_sdk_call_beyond_the_bound_still_gets_its_result(sdk: Connected) -> None:
    updates: list[Update] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        updates.append((progress, total, message))

    result = await sdk.client.call_tool("steps_sandboxed", {"count": MAX_PROGRESS + 4}, progress_callback=on_progress)
    assert only_text(result) == f"{MAX_PROGRESS + 4} steps"
    await settled(updates, MAX_PROGRESS + 4)
    assert updates == expected_steps(MAX_PROGRESS + 4)[:MAX_PROGRESS]


# --- fastmcp -----------------------------------------------------------------------------------------

@pytest.mark.anyio
@pytest.mark.parametrize("transport", ["http-legacy", "http-modern", "stdio"])
@pytest.mark.parametrize("tool", ["steps_async", "steps_sandboxed"])
async def test_fastmcp_progress_handler_receives_every_step(progress_server, tmp_path: Path,
                                                            transport: str, tool: str) -> None:
    updates: list[Update] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        updates.append((progress, total, message))

    if transport == "stdio":
        params = stdio_params()
        target: Any = StdioTransport(params.command, params.args, cwd=params.cwd, keep_alive=False,
                                     log_file=tmp_path / "stdio.log")
        mode = "auto"
    else:
        target, mode = progress_server.url, "legacy" if transport == "http-legacy" else "auto"
    async with FastMCPClient(target, mode=mode, progress_handler=on_progress) as client:
        result = await client.call_tool(tool, {"count": 2})
    assert only_text(result) == "2 steps"
    assert await settled(updates, 2) == expected_steps(2)


# --- Raw HTTP: what goes on the wire, checked against each revision's schema ----------------------

def modern_call(url: str, tool: str, arguments: dict[str, Any], token: Any = None, *,
                accept: str = ACCEPT_BOTH, request_id: Any = 1) -> httpx.Response:
    wire = ModernWire(url)
    try:
        params = {"name": tool, "arguments": arguments, "_meta": modern_meta()}
        if token is not None:
            params["_meta"]["progressToken"] = token
        headers = wire.headers("tools/call", params)
        headers["Accept"] = accept
        return wire.http.post(url, headers=headers,
                              json={"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params})
    finally:
        wire.close()


def legacy_call(session: LegacySession, tool: str, arguments: dict[str, Any], token: Any = None, *,
                accept: str = ACCEPT_BOTH, request_id: Any = 1) -> httpx.Response:
    params: dict[str, Any] = {"name": tool, "arguments": arguments}
    if token is not None:
        params["_meta"] = {"progressToken": token}
    return session.post({"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params},
                        headers={"Accept": accept})


def check_stream(revision: str, messages: list[dict[str, Any]], token: Any, count: int, request_id: Any) -> None:
    """`count` progress notifications for `token`, then the call's result: each valid in `revision`."""
    schema = mcp_schema(revision)
    *notifications, last = messages
    assert len(notifications) == count, messages
    for step, message in enumerate(notifications, start=1):
        for definition in ("ProgressNotification", "JSONRPCNotification", "JSONRPCMessage"):
            schema.check(definition, message)
        params = message["params"]
        assert params["progressToken"] == token and type(params["progressToken"]) is type(token)
        assert (params["progress"], params["total"]) == (step, count)
        # 2024-11-05 defines no message in progress params.
        assert params.get("message") == (None if revision == "2024-11-05" else f"step {step}")
    assert last["id"] == request_id
    schema.check("CallToolResult", last["result"])
    schema.check_result_envelope(last, "CallToolResult")
    assert last["result"]["content"] == [{"type": "text", "text": f"{count} steps"}]


@pytest.mark.parametrize("tool", ["steps_async", "steps_sandboxed"])
@pytest.mark.parametrize("token", ["progress-7", 7], ids=["string-token", "integer-token"])
def test_modern_post_streams_progress_then_the_result(progress_server, tool: str, token: Any) -> None:
    reply = modern_call(progress_server.url, tool, {"count": 3}, token, request_id="call-1")
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "text/event-stream"
    assert reply.headers["cache-control"] == "no-cache, no-transform"
    assert reply.headers["transfer-encoding"] == "chunked"
    check_stream(MODERN, sse_messages(reply), token, 3, "call-1")


@pytest.mark.parametrize("tool", ["steps_sync", "steps_sandboxed", "steps_per_session"])
def test_legacy_post_streams_progress_then_the_result(progress_server, legacy, legacy_revision: str,
                                                      tool: str) -> None:
    session = legacy(progress_server.url, legacy_revision)
    reply = legacy_call(session, tool, {"count": 2}, "p", request_id=11)
    assert reply.status_code == 200
    check_stream(legacy_revision, sse_messages(reply), "p", 2, 11)
    # The session's connection is kept alive across the streamed response.
    assert result_of(legacy_call(session, "add", {"a": 1, "b": 2}))["structuredContent"] == {"result": 3}


@pytest.mark.parametrize("tool", ["steps_async", "steps_sandboxed"])
def test_without_a_token_the_reply_is_plain_json(progress_server, legacy, tool: str) -> None:
    modern_reply = modern_call(progress_server.url, tool, {"count": 3})
    assert modern_reply.headers["content-type"] == "application/json"
    assert result_of(modern_reply)["content"] == [{"type": "text", "text": "3 steps"}]
    legacy_reply = legacy_call(legacy(progress_server.url), tool, {"count": 3})
    assert legacy_reply.headers["content-type"] == "application/json"
    assert result_of(legacy_reply)["content"] == [{"type": "text", "text": "3 steps"}]


@pytest.mark.parametrize("tool", ["steps_async", "steps_sandboxed"])
def test_a_client_that_accepts_only_json_gets_json_and_no_progress(progress_server, legacy, tool: str) -> None:
    reply = modern_call(progress_server.url, tool, {"count": 3}, "t", accept="application/json")
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/json"
    assert "content-length" in reply.headers
    assert result_of(reply)["content"] == [{"type": "text", "text": "3 steps"}]
    legacy_reply = legacy_call(legacy(progress_server.url), tool, {"count": 3}, "t", accept="application/json")
    assert legacy_reply.headers["content-type"] == "application/json"
    assert result_of(legacy_reply)["content"] == [{"type": "text", "text": "3 steps"}]


@pytest.mark.parametrize("tool", ["steps_async", "steps_sandboxed"])
def test_notifications_beyond_the_bound_are_dropped_and_the_result_arrives(progress_server, tool: str) -> None:
    count = MAX_PROGRESS * 3
    messages = sse_messages(modern_call(progress_server.url, tool, {"count": count}, "many", request_id=3))
    *notifications, last = messages
    assert [n["params"]["progress"] for n in notifications] == list(range(1, MAX_PROGRESS + 1))
    assert last["id"] == 3
    assert last["result"]["content"] == [{"type": "text", "text": f"{count} steps"}]


def test_progress_is_sent_as_it_happens_not_with_the_result(progress_server) -> None:
    """Each notification leaves when reported: the first arrives well before the slow result."""
    wire = ModernWire(progress_server.url)
    params = {"name": "steps_sandboxed", "arguments": {"count": 2, "delay_s": 1.0},
              "_meta": {**modern_meta(), "progressToken": "live"}}
    started = time.monotonic()
    with wire.http.stream("POST", progress_server.url, headers=wire.headers("tools/call", params),
                          json={"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}) as reply:
        lines = reply.iter_lines()
        first = next(line for line in lines if line.startswith("data:"))
        first_after = time.monotonic() - started
        rest = "\n".join(lines)
    wire.close()
    assert sse_messages_of(first + "\n\n")[0]["params"]["progress"] == 1
    assert first_after < 1.0, f"the first notification took {first_after:.2f}s"
    assert time.monotonic() - started >= 2.0
    assert sse_messages_of(rest)[-1]["result"]["content"][0]["text"] == "2 steps"


# --- A client that leaves mid-progress ---------------------------------------------------------------

def open_progress_stream(port: int, tool: str, arguments: dict[str, Any]) -> socket.socket:
    """A raw POST for `tool` with a progress token, read until its first event arrived."""
    params = {"name": tool, "arguments": arguments, "_meta": {**modern_meta(), "progressToken": "gone"}}
    body = httpx.Request("POST", "http://x/", json={"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                                    "params": params}).read()
    headers = ModernWire("").headers("tools/call", params)
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    sock = socket.create_connection(("127.0.0.1", port), timeout=HTTP_TIMEOUT_S)
    sock.sendall(f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n{head}\r\n".encode() + body)
    received = b""
    while b"notifications/progress" not in received:
        chunk = sock.recv(65536)
        assert chunk, f"closed before any progress: {received!r}"
        received += chunk
    assert received.startswith(b"HTTP/1.1 200 OK\r\n") and b"text/event-stream" in received
    return sock


def still_serves(url: str) -> None:
    reply = modern_call(url, "steps_sandboxed", {"count": 1}, "after")
    assert sse_messages(reply)[-1]["result"]["content"] == [{"type": "text", "text": "1 steps"}]


def test_client_leaving_mid_progress_cancels_an_in_process_call(fresh_progress_server) -> None:
    server = fresh_progress_server()
    sock = open_progress_stream(server.port, "endless", {"label": "left"})
    server.wait_for_line("endless started: left$", 5)
    sock.close()
    server.wait_for_line("endless cancelled: left$", 5)
    still_serves(server.url)


def test_client_leaving_mid_progress_of_a_sandboxed_call_leaves_the_gateway_serving(fresh_progress_server) -> None:
    server = fresh_progress_server()
    for _ in range(3):
        sock = open_progress_stream(server.port, "endless_sandboxed", {})
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
    still_serves(server.url)
    assert server.proc.poll() is None


@pytest.fixture
def fresh_progress_server() -> Iterator[Callable[[], ServerProcess]]:
    """A progress server owned by one test; it must still exit 0 on SIGTERM afterwards."""
    started: list[ServerProcess] = []

    def start() -> ServerProcess:
        started.append(ServerProcess(PROGRESS_SERVER, args=TRUSTED).start())
        return started[-1]

    yield start
    for process in started:
        status = process.stop()
        assert status == 0, f"server exited with {status}; stderr:\n{process.log_text()}"

