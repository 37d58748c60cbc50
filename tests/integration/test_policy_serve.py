"""`sandgate serve MODULE --policy FILE`: the example tools, hosted in the sandbox, behind a policy file that is
reloaded on SIGHUP and on change, never to a bad version."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.integration.server_process import REPO, running_server

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


def wait_for(condition: Any, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


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
        assert wait_for(lambda: "duplicate_key" in server.log_text())
        assert tools(server.url) == ["add"]  # the last good policy still serves

        policy.write_text(HEAD + ADD_FOR_OPS)  # no signal: the file watch finds it
        assert wait_for(lambda: tools(server.url) == [])
        assert tools(server.url, ops) == ["add", "reverse_words"]


def test_a_bad_policy_stops_serve_before_it_starts(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(HEAD + ADD_FOR_ANYONE.replace("tools: [add]", "tools: [add]\n      rateLimit: nope"))
    result = subprocess.run([sys.executable, "-m", "sandgate", "serve", str(TOOLS), "--port", "0", "--policy",
                             str(policy)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "the policy file cannot be served" in result.stderr
    assert f"{policy}:" in result.stderr and "[unknown_rate_limit]" in result.stderr
    both = subprocess.run([sys.executable, "-m", "sandgate", "serve", str(TOOLS), "--policy", str(policy),
                           "--max-memory", "1Gi"], capture_output=True, text=True, timeout=60, check=False)
    assert both.returncode == 2 and "--max-* and --policy" in both.stderr
