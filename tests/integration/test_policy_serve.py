"""`sandgate serve MODULE --policy FILE`: the example tools, hosted in the sandbox, behind a policy file that is
reloaded on SIGHUP and on change, never to a bad version."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.integration.server_process import REPO, running_server
from tests.sandbox.host import wait_until

TOOLS = REPO / "examples" / "tools.py"
KEY = "ops-secret"
HEAD = f"""apiVersion: sandgate.dev/v1
kind: ToolPolicy
metadata: {{name: serve-test}}
spec:
  defaults: {{rateLimit: per-client, maxSandbox: {{wallSeconds: 20}}}}
  auth:
    anonymous: loopback-only
    apiKeys:
      - {{name: ops, sha256: {hashlib.sha256(KEY.encode()).hexdigest()}, principal: ops, groups: [ops]}}
  principals:
    ops: {{anyGroup: [ops]}}
  rateLimits:
    per-client: {{key: [client], rate: 1000/s, burst: 1000}}
"""
ADD_FOR_ANYONE = """  rules:
    - id: anyone-adds
      effect: allow
      principals: ["*"]
      tools: [add]
    - id: ops-reverse
      effect: allow
      principals: [ops]
      tools: [reverse_words]
"""
ADD_FOR_OPS = ADD_FOR_ANYONE.replace('principals: ["*"]', "principals: [ops]")
MODERN = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
          "MCP-Protocol-Version": "2026-07-28"}
META = {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}


def rpc(url: str, method: str, params: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": {**params, "_meta": META}}
    routing = {"Mcp-Method": method} | ({"Mcp-Name": params["name"]} if "name" in params else {})
    return httpx.post(url, json=body, headers={**MODERN, **routing, **(headers or {})}, timeout=30)


def tools(url: str, headers: dict[str, str] | None = None) -> list[str]:
    return sorted(tool["name"] for tool in rpc(url, "tools/list", {}, headers).json()["result"]["tools"])


def test_serve_enforces_reloads_and_keeps_the_last_good_policy(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(HEAD + ADD_FOR_ANYONE)
    with running_server(TOOLS, ["--policy", str(policy)]) as server:
        ops = {"Authorization": f"Bearer {KEY}"}
        assert tools(server.url) == ["add"]
        assert tools(server.url, ops) == ["add", "reverse_words"]
        added = rpc(server.url, "tools/call", {"name": "add", "arguments": {"a": 2, "b": 3}})
        assert added.json()["result"]["structuredContent"] == {"result": 5}
        hidden = rpc(server.url, "tools/call", {"name": "reverse_words", "arguments": {"text": "a b"}})
        assert hidden.json()["error"]["message"] == "Unknown tool: reverse_words"
        assert rpc(server.url, "tools/list", {}, {"X-API-Key": "nope"}).status_code == 401

        policy.write_text(HEAD + ADD_FOR_ANYONE + "      effect: deny\n")  # a key written twice: refused
        server.proc.send_signal(signal.SIGHUP)
        assert wait_until(lambda: "duplicate_key" in server.log_text(), 15)
        assert tools(server.url) == ["add"]  # the last good policy still serves

        policy.write_text(HEAD + ADD_FOR_OPS)  # no signal: the file watch finds it
        assert wait_until(lambda: tools(server.url) == [], 15)
        assert tools(server.url, ops) == ["add", "reverse_words"]


def test_a_bad_policy_stops_serve_before_it_starts(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(HEAD + ADD_FOR_ANYONE.replace("tools: [add]", "tools: [add]\n      rateLimit: nope"))
    result = subprocess.run([sys.executable, "-m", "sandgate", "serve", str(TOOLS), "--port", "0", "--policy",
                             str(policy)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "the policy file cannot be served" in result.stderr
    assert f"{policy}:" in result.stderr and "[unknown_rate_limit]" in result.stderr


NAPPER = """
import os
import time

from sandgate import MCPServer, Sandbox

server = MCPServer("napper")


@server.tool(sandbox=Sandbox(wall_time=60))  # asks for more than the policy's ceiling
def nap(seconds: float) -> str:
    time.sleep(seconds)
    return "rested"


@server.tool
def credential() -> str:
    return os.environ.get("SANDGATE_API_KEY", "absent")
"""
LIMITS = """apiVersion: sandgate.dev/v1
kind: ToolPolicy
metadata: {{name: limits}}
spec:
  defaults: {{rateLimit: open, maxSandbox: {{wallSeconds: {ceiling}}}}}
  auth:
    anonymous: {anonymous}
    apiKeys:
      - {{name: ops, sha256: {digest}, principal: ops}}
  principals:
    ops: {{names: [ops]}}
  rateLimits:
    open: {{key: [client], rate: 1000/s}}
  rules:
    - {{id: anyone-naps, effect: allow, principals: ["*"], tools: [nap, credential]}}
    - id: ops-nap-longer
      effect: allow
      principals: [ops]
      tools: [nap]
      sandbox: {{wallSeconds: 10}}
""".replace("{digest}", hashlib.sha256(KEY.encode()).hexdigest())


def sandbox_reason(response: httpx.Response) -> str | None:
    result = response.json()["result"]
    return result.get("_meta", {}).get("io.sandgate/sandbox", {}).get("reason") if result.get("isError") else None


def text_of(response: httpx.Response) -> str:
    result = response.json()["result"]
    assert not result.get("isError"), result
    return str(result["content"][0]["text"])


def test_calls_run_under_the_policys_ceiling_and_the_admitting_rules_limits(tmp_path: Path) -> None:
    module = tmp_path / "napper.py"
    module.write_text(NAPPER)
    policy = tmp_path / "policy.yaml"
    policy.write_text(LIMITS.format(ceiling=1, anonymous="loopback-only"))
    nap = {"name": "nap", "arguments": {"seconds": 2.5}}
    with running_server(module, ["--policy", str(policy)]) as server:
        # The module asked for 60 s; the policy's ceiling gives it 1 s.
        assert sandbox_reason(rpc(server.url, "tools/call", nap)) == "timeout"
        # The rule that admits ops gives 10 s, the operator's word over the module's request.
        ops = rpc(server.url, "tools/call", nap, {"Authorization": f"Bearer {KEY}"})
        assert text_of(ops) == "rested"
        # A reload raises the ceiling: calls admitted after it run under the new limits.
        policy.write_text(LIMITS.format(ceiling=5, anonymous="loopback-only"))
        server.proc.send_signal(signal.SIGHUP)
        assert wait_until(lambda: "reloaded" in server.log_text(), 15)
        assert text_of(rpc(server.url, "tools/call", nap)) == "rested"


def stdio_session(module: Path, policy: Path, environment: dict[str, str]) -> list[dict[str, Any]]:
    """initialize, then call `credential`, over `sandgate serve --transport stdio`; every answer, in order."""
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                  "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                             "clientInfo": {"name": "t", "version": "1"}}}
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "credential", "arguments": {}}}
    text = "".join(json.dumps(message) + "\n" for message in (initialize, call))
    result = subprocess.run([sys.executable, "-m", "sandgate", "serve", str(module), "--transport", "stdio",
                             "--policy", str(policy)], input=text, capture_output=True, text=True, timeout=60,
                            check=False, env={**os.environ, **environment})
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_a_stdio_client_authenticates_with_the_key_it_started_the_server_with(tmp_path: Path) -> None:
    module = tmp_path / "napper.py"
    module.write_text(NAPPER)
    policy = tmp_path / "policy.yaml"
    policy.write_text(LIMITS.format(ceiling=1, anonymous="deny"))
    keyed = stdio_session(module, policy, {"SANDGATE_API_KEY": KEY})
    assert keyed[0]["result"]["serverInfo"]["name"] == "napper"
    # The key authenticated the connection and never reached the sandbox's environment.
    assert keyed[1]["result"]["content"] == [{"type": "text", "text": "absent"}]
    for environment in ({}, {"SANDGATE_API_KEY": "wrong"}):
        refused = stdio_session(module, policy, environment)
        assert len(refused) == 2 and all("error" in answer for answer in refused), refused


def test_a_reload_tells_listening_clients_the_tool_list_changed(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(HEAD + ADD_FOR_ANYONE)
    with running_server(TOOLS, ["--policy", str(policy)]) as server:
        params = {"notifications": {"toolsListChanged": True}, "_meta": META}
        body = {"jsonrpc": "2.0", "id": "watch", "method": "subscriptions/listen", "params": params}
        headers = {**MODERN, "Mcp-Method": "subscriptions/listen"}
        seen: list[dict[str, Any]] = []
        with httpx.stream("POST", server.url, json=body, headers=headers, timeout=30) as reply:
            assert reply.status_code == 200
            text = ""
            for chunk in reply.iter_text():
                text += chunk
                seen = [json.loads(line[6:]) for line in text.split("\n") if line.startswith("data: ")]
                if len(seen) == 1 and seen[0]["method"] == "notifications/subscriptions/acknowledged":
                    policy.write_text(HEAD + ADD_FOR_OPS)
                    server.proc.send_signal(signal.SIGHUP)
                if len(seen) == 2:
                    break
        assert seen[1] == {"jsonrpc": "2.0", "method": "notifications/tools/list_changed",
                           "params": {"_meta": {"io.modelcontextprotocol/subscriptionId": "watch"}}}
        assert tools(server.url) == []
