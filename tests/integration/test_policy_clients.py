"""The official SDK client and fastmcp.Client carrying API keys through a policy: allowed, hidden,
argument-constrained and rate-limited calls over Streamable HTTP in both eras and over stdio (where the key is
the one the client starts the server with, SANDGATE_API_KEY)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastmcp import Client as FastMCPClient
from fastmcp.client.transports import StdioTransport, StreamableHttpTransport
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from tests.integration.server_process import REPO, ServerProcess, running_server, server_python

pytestmark = pytest.mark.anyio

TOOLS = REPO / "examples" / "tools.py"
KEYS = {"dev": "dev-secret-key", "ops": "ops-secret-key"}
POLICY = f"""apiVersion: sandgate.dev/v1
kind: ToolPolicy
metadata: {{name: clients}}
spec:
  defaults: {{rateLimit: open}}
  auth:
    anonymous: deny
    apiKeys:
      - {{name: dev, sha256: {hashlib.sha256(KEYS["dev"].encode()).hexdigest()}, principal: dev}}
      - {{name: ops, sha256: {hashlib.sha256(KEYS["ops"].encode()).hexdigest()}, principal: ops}}
  principals:
    ops: {{names: [ops]}}
  rateLimits:
    open: {{key: [principal], rate: 1000/s}}
    scarce: {{key: [principal, tool], rate: 2/h, burst: 2}}
  rules:
    - {{id: anyone-adds, effect: allow, principals: ["*"], tools: [add]}}
    - {{id: short-slugs, effect: allow, principals: ["*"], tools: [slugify], args: {{text: {{maxLength: 10}}}}}}
    - {{id: scarce-multiply, effect: allow, principals: ["*"], tools: [multiply], rateLimit: scarce}}
    - {{id: ops-reverse, effect: allow, principals: [ops], tools: [reverse_words]}}
"""


@pytest.fixture(scope="module")
def policy_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clients") / "policy.yaml"
    path.write_text(POLICY)
    return path


@pytest.fixture(scope="module")
def server(policy_file: Path) -> Iterator[ServerProcess]:
    with running_server(TOOLS, ["--policy", str(policy_file)]) as process:
        yield process


def stdio_args(policy_file: Path) -> list[str]:
    return ["-m", "sandgate", "serve", str(TOOLS), "--transport", "stdio", "--policy", str(policy_file)]


@pytest.fixture(params=["sdk-http-legacy", "sdk-http-modern", "sdk-stdio", "fastmcp-http-legacy",
                        "fastmcp-http-modern", "fastmcp-stdio"])
async def dev(request: pytest.FixtureRequest, server: ServerProcess, policy_file: Path) -> AsyncIterator[Any]:
    """A client holding the dev key: `Authorization: Bearer` for the SDK, `X-API-Key` for fastmcp."""
    kind = request.param
    mode = "legacy" if kind.endswith("legacy") else "auto"
    key = KEYS["dev"]
    environment = {**os.environ, "SANDGATE_API_KEY": key}
    if kind.startswith("sdk"):
        if kind == "sdk-stdio":
            target: Any = StdioServerParameters(command=server_python(), args=stdio_args(policy_file), cwd=str(REPO),
                                                env=environment)
        else:
            http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=30)
            target = streamable_http_client(server.url, http_client=http)
        async with Client(target, mode=mode) as client:
            yield client
    else:
        if kind == "fastmcp-stdio":
            transport: Any = StdioTransport(server_python(), stdio_args(policy_file), cwd=str(REPO), env=environment,
                                            keep_alive=False)
        else:
            transport = StreamableHttpTransport(server.url, headers={"X-API-Key": key})
        async with FastMCPClient(transport, mode=mode) as client:
            yield client


async def call(client: Any, tool: str, arguments: dict[str, Any]) -> tuple[str, Any]:
    """("result", structured or text) or ("error", the exception's text): how each client surfaces a refusal."""
    try:
        result = await client.call_tool(tool, arguments)
    except Exception as exc:  # each client raises its own error type for a JSON-RPC error
        return "error", f"{type(exc).__name__}: {exc}"
    assert not result.is_error, result
    return "result", result


async def tool_names(client: Any) -> set[str]:
    listed = await client.list_tools()
    tools = listed.tools if hasattr(listed, "tools") else listed
    return {tool.name for tool in tools}


async def test_a_dev_key_gets_what_the_rules_allow_and_nothing_else(dev: Any) -> None:
    assert await tool_names(dev) == {"add", "slugify", "multiply"}
    kind, _ = await call(dev, "add", {"a": 2, "b": 3})
    assert kind == "result"
    kind, hidden = await call(dev, "reverse_words", {"text": "a b"})
    assert kind == "error" and "Unknown tool: reverse_words" in hidden
    kind, _ = await call(dev, "slugify", {"text": "short"})
    assert kind == "result"
    kind, refused = await call(dev, "slugify", {"text": "far too long for the rule"})
    assert kind == "error" and "argument_not_allowed" in refused, refused


async def test_the_third_scarce_call_is_rate_limited_never_a_tool_error(server: ServerProcess,
                                                                        policy_file: Path) -> None:
    async for kind, client in clients_with_ops_key(server, policy_file):
        outcomes = [await call(client, "multiply", {"a": 2, "b": 3}) for _ in range(3)]
        assert [outcome[0] for outcome in outcomes] == ["result", "result", "error"], (kind, outcomes)
        assert "Too Many Requests: retry after 1800 s" in outcomes[2][1], (kind, outcomes[2])


async def clients_with_ops_key(server: ServerProcess, policy_file: Path) -> AsyncIterator[tuple[str, Any]]:
    """One client per transport with its own (ops) buckets: the scarce limit is per principal and tool, and each
    stdio server has its own table."""
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {KEYS['ops']}"}, timeout=30)
    async with Client(streamable_http_client(server.url, http_client=http), mode="auto") as client:
        yield "sdk-http", client
    environment = {**os.environ, "SANDGATE_API_KEY": KEYS["ops"]}
    async with FastMCPClient(StdioTransport(server_python(), stdio_args(policy_file), cwd=str(REPO), env=environment,
                                            keep_alive=False)) as client:
        yield "fastmcp-stdio", client
