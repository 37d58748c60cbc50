"""A compiled policy on the real HTTP request path: API keys, decisions, hidden tools, lists, rate limits, swaps."""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from sandgate import MCPServer, _core
from sandgate.policy.check import check_policy_text
from sandgate.policy.decisions import CompiledPolicy
from sandgate.serve import core_settings
from sandgate.settings import ServerSettings

KEY = "alice-secret"
POLICY = f"""apiVersion: sandgate.dev/v1
kind: ToolPolicy
metadata: {{name: gateway-test, revision: "7"}}
spec:
  defaults: {{rateLimit: generous}}
  auth:
    anonymous: loopback-only
    apiKeys:
      - {{name: alice-key, sha256: {hashlib.sha256(KEY.encode()).hexdigest()}, principal: alice, groups: [eng]}}
  principals:
    eng: {{anyGroup: [eng]}}
  rateLimits:
    generous: {{key: [client], rate: 1000/s, burst: 1000}}
    two-adds: {{key: [principal], rate: 2/min, burst: 2}}
  rules:
    - id: anyone-adds
      effect: allow
      principals: ["*"]
      tools: [add]
      rateLimit: two-adds
    - id: eng-reads-srv
      effect: allow
      principals: [eng]
      tools: [read]
      args:
        path: {{glob: ["/srv/**"]}}
"""
HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


def compiled(text: str) -> Any:
    return CompiledPolicy(check_policy_text(text, "gateway-test.yaml"))._native


@pytest.fixture
def gateway() -> Iterator[tuple[Any, str]]:
    server = MCPServer("policy-gateway")

    @server.tool(isolation="none")
    def add(a: int, b: int) -> int:
        return a + b

    @server.tool(isolation="none")
    def read(path: str) -> str:
        return f"read {path}"

    gate = _core.PolicyGate(compiled(POLICY))
    http = _core.HttpServer(core_settings(_core, server, ServerSettings(port=0)), server.dispatcher(),
                            server.sandbox_grant(), None, gate)
    port = http.start()
    try:
        yield gate, f"http://127.0.0.1:{port}/mcp"
    finally:
        http.shutdown()


class Client:
    def __init__(self, url: str, credentials: dict[str, str]) -> None:
        self.url = url
        self.credentials = credentials
        self.ids = 0
        status, headers, _ = self.post("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                                      "clientInfo": {"name": "t", "version": "1"}})
        self.session = headers.get("Mcp-Session-Id", "")
        self.opened = status

    def post(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, str], dict[str, Any]]:
        self.ids += 1
        body = json.dumps({"jsonrpc": "2.0", "id": self.ids, "method": method, "params": params}).encode()
        headers = {**HEADERS, **self.credentials}
        if getattr(self, "session", ""):
            headers |= {"Mcp-Session-Id": self.session, "MCP-Protocol-Version": "2025-11-25"}
        request = urllib.request.Request(self.url, body, headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                return reply.status, dict(reply.headers), json.loads(reply.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), json.loads(error.read() or b"{}")

    def call(self, tool: str, arguments: dict[str, Any]) -> tuple[int, dict[str, str], dict[str, Any]]:
        return self.post("tools/call", {"name": tool, "arguments": arguments})

    def tools(self) -> list[str]:
        return [tool["name"] for tool in self.post("tools/list", {})[2]["result"]["tools"]]


def text_of(reply: dict[str, Any]) -> str:
    return str(reply["result"]["content"][0]["text"])


def test_keys_rules_and_hidden_tools_on_the_request_path(gateway: tuple[Any, str]) -> None:
    _, url = gateway
    alice = Client(url, {"Authorization": f"Bearer {KEY}"})
    anonymous = Client(url, {})
    assert alice.opened == 200 and anonymous.opened == 200

    assert text_of(alice.call("read", {"path": "/srv/notes"})[2]) == "read /srv/notes"
    status, _, refused = alice.call("read", {"path": "/srv/../etc/shadow"})
    assert (status, refused["error"]["code"]) == (403, -32003)
    assert "argument_not_allowed" in refused["error"]["message"] and "shadow" not in json.dumps(refused)

    # A tool the caller may not see answers exactly as a tool that does not exist.
    hidden = anonymous.call("read", {"path": "/srv/notes"})
    missing = anonymous.call("nope", {"path": "/srv/notes"})
    assert hidden[0] == missing[0] == 200
    assert hidden[2]["error"] == {**missing[2]["error"], "message": "Unknown tool: read", "data": {"name": "read"}}
    assert missing[2]["error"]["message"] == "Unknown tool: nope"

    assert alice.tools() == ["add", "read"]
    assert anonymous.tools() == ["add"]

    status, headers, _ = Client(url, {"X-API-Key": "wrong"}).post("tools/list", {})
    assert status == 401 and headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_rate_limits_answer_429_with_their_fields(gateway: tuple[Any, str]) -> None:
    _, url = gateway
    alice = Client(url, {"X-API-Key": KEY})
    assert [alice.call("add", {"a": 1, "b": i})[0] for i in range(2)] == [200, 200]
    status, headers, limited = alice.call("add", {"a": 1, "b": 2})
    assert status == 429
    assert 1 <= int(headers["Retry-After"]) <= 30
    assert headers["RateLimit-Policy"] == '"two-adds";q=2;w=60'
    assert headers["RateLimit"].startswith('"two-adds";r=0;t=')
    assert limited["error"]["code"] == -32029
    assert limited["error"]["data"]["policy"] == "two-adds" and limited["error"]["data"]["limit"] == 2
    assert Client(url, {}).call("add", {"a": 1, "b": 2})[0] == 200  # another principal, another bucket


def test_a_swapped_policy_serves_the_next_request(gateway: tuple[Any, str]) -> None:
    gate, url = gateway
    anonymous = Client(url, {})
    assert anonymous.call("add", {"a": 1, "b": 2})[0] == 200
    gate.swap(compiled(POLICY.replace('principals: ["*"]\n      tools: [add]', 'principals: [eng]\n      tools: [add]')))
    assert anonymous.call("add", {"a": 1, "b": 2})[2]["error"]["message"] == "Unknown tool: add"
    assert gate.revision == "7"
