"""One counter registry: the listener, sessions, progress and the request path's stages all
count into it, and `counters()` reads every counter at once, by name."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from sandgate import MCPServer, _core
from sandgate.serve import core_settings
from sandgate.settings import ServerSettings

HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


@pytest.fixture
def gateway() -> Iterator[tuple[_core.HttpServer, str]]:
    server = MCPServer("counters")

    @server.tool(isolation="none")
    def add(a: int, b: int) -> int:
        return a + b

    http = _core.HttpServer(core_settings(_core, server, ServerSettings(port=0)), server.dispatcher(), server.sandbox_grant())
    port = http.start()
    try:
        yield http, f"http://127.0.0.1:{port}/mcp"
    finally:
        http.shutdown()


def send(url: str, body: bytes, headers: dict[str, str], method: str = "POST") -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(url, body or None, {**HEADERS, **headers}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, dict(reply.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


def test_every_layer_counts_into_one_registry(gateway) -> None:
    http, url = gateway
    before = http.counters()
    assert set(before) >= {"http_requests", "http_connections_accepted", "sessions_opened", "progress_sent",
                           "deliveries", "jsonrpc_requests", "jsonrpc_requests_failed", "auth_failures",
                           "policy_denials", "rate_limited"}
    assert all(value == 0 for value in before.values()), before

    opened = json.dumps({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}}}).encode()
    status, headers = send(url, opened, {})
    assert status == 200
    session = {"Mcp-Session-Id": headers["Mcp-Session-Id"], "MCP-Protocol-Version": "2025-11-25"}
    for i, name in enumerate(["add", "add", "missing"]):
        call = json.dumps({"jsonrpc": "2.0", "id": i + 1, "method": "tools/call",
                           "params": {"name": name, "arguments": {"a": i, "b": 1}}}).encode()
        assert send(url, call, session)[0] == 200
    assert send(url, b"{not json", session)[0] == 400
    assert send(url, b"", session, method="DELETE")[0] == 200

    counted = http.counters()
    assert counted["http_requests"] == 6
    assert counted["http_connections_accepted"] >= 1
    assert counted["sessions_opened"] == 1
    assert counted["sessions_closed"] == 1
    assert counted["deliveries"] == 5  # initialize, three calls and the bad body; DELETE carries none
    assert counted["jsonrpc_requests"] == 3
    assert counted["jsonrpc_requests_failed"] == 1  # the unknown tool


def test_the_sandbox_runner_counts_into_the_registry_the_core_reads() -> None:
    counters = _core.Counters()
    counters.add("sandbox_protocol_errors")
    counters.add("sandbox_zygote_restarts", 2)
    assert counters.get("sandbox_protocol_errors") == 1
    assert counters.snapshot()["sandbox_zygote_restarts"] == 2
    with pytest.raises(KeyError, match="no counter named sandbox_typo"):
        counters.add("sandbox_typo")

    server = MCPServer("shared-registry")
    http = _core.HttpServer(core_settings(_core, server, ServerSettings(port=0)), server.dispatcher(), server.sandbox_grant(), counters)
    try:
        assert http.counters()["sandbox_protocol_errors"] == 1
        counters.add("sandbox_protocol_errors")
        assert http.counters()["sandbox_protocol_errors"] == 2
    finally:
        http.shutdown()


class FactsDispatcher:
    """Answers every call as the sandbox runner would, with the facts on how it ended named by the tool."""

    def catalog_json(self) -> str:
        return json.dumps({"tools": [{"name": name, "inputSchema": {"type": "object"}}
                                     for name in ("timeout", "tool_error", "ok", "sync_memory")]})

    def call(self, kind, name, args_json, meta_json, completion, session="", plan=None, request_id=None, progress=None,
             log=None,
             ask=None):
        body = '{"content":[]}'
        if name == "sync_memory":  # facts may also come back with a synchronous answer
            return 0, body, json.dumps({"reason": "memory", "cpu_time_s": 0.5, "peak_memory_bytes": 4096})
        facts = {"isolation": "per_call", "duration_s": 0.01}
        if name != "ok":
            facts["reason"] = name
        completion(0, body, json.dumps(facts))
        return None


def test_the_facts_of_how_a_call_ended_reach_the_record_stage() -> None:
    server = MCPServer("facts")
    http = _core.HttpServer(core_settings(_core, server, ServerSettings(port=0)), FactsDispatcher(),
                            server.sandbox_grant())
    url = f"http://127.0.0.1:{http.start()}/mcp"
    try:
        opened = json.dumps({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}}}).encode()
        status, headers = send(url, opened, {})
        session = {"Mcp-Session-Id": headers["Mcp-Session-Id"], "MCP-Protocol-Version": "2025-11-25"}
        for i, name in enumerate(["timeout", "tool_error", "ok", "sync_memory", "timeout"]):
            call = json.dumps({"jsonrpc": "2.0", "id": i + 1, "method": "tools/call",
                               "params": {"name": name, "arguments": {}}}).encode()
            assert send(url, call, session)[0] == 200
        # A tool that raised ran to its end; the timeouts and the memory stop are the sandbox's.
        assert http.counters()["sandbox_calls_stopped"] == 3
    finally:
        http.shutdown()
