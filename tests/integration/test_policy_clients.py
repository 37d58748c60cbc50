"""The official SDK client and fastmcp.Client through `sandgate serve examples/tools.py --policy FILE`.

Over Streamable HTTP (legacy handshake and 2026-07-28) each connection carries its own API key, `Authorization:
Bearer` from the SDK and `X-API-Key` from fastmcp, under a policy that refuses anonymous callers; over stdio the
caller is the local anonymous principal. Either way a client must see the same things: allowed calls run, hidden
tools are indistinguishable from absent ones, a refusal names no rule, a violated argument constraint is refused,
and a rate limit is a JSON-RPC error a client can back off from, never a tool result.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastmcp import Client as FastMCPClient
from fastmcp.client.transports import StdioTransport, StreamableHttpTransport
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import McpHttpClientFactory

from tests.integration.server_process import REPO, ServerProcess, running_server, server_python
from tests.integration.wire import LEGACY_REVISIONS, MODERN

pytestmark = pytest.mark.anyio

TOOLS = REPO / "examples" / "tools.py"
CONNECTIONS = [f"{client}-{transport}-{era}" for client in ("sdk", "fastmcp") for transport in ("http", "stdio")
               for era in ("legacy", "modern")]
# One key per HTTP connection: rate-limit buckets are per principal, so no connection spends another's.
KEYS = {name: f"{name}-secret" for name in CONNECTIONS if "-http-" in name} | {"ops": "ops-secret"}
GROUPS = {name: "ops" if name == "ops" else "eng" for name in KEYS}
# `caller` is who the rules serve: the `eng` group over HTTP, the anonymous local principal over stdio.
POLICY = """apiVersion: sandgate.dev/v1
kind: ToolPolicy
metadata: {{name: clients}}
spec:
  defaults: {{rateLimit: open, sandbox: {{wallSeconds: 1}}}}
  auth:
    anonymous: {anonymous}
    apiKeys:
{keys}
  principals:
    eng: {{anyGroup: [eng]}}
    ops: {{anyGroup: [ops]}}
    local: {{anonymous: true}}
  rateLimits:
    open: {{key: [principal], rate: 1000/s}}
    scarce: {{key: [principal, tool], rate: 2/min, burst: 2}}
  rules:
    - {{id: callers-add-and-count, effect: allow, principals: [{caller}], tools: [add, word_count]}}
    - {{id: no-secret-counts, effect: deny, principals: ["*"], tools: [word_count],
       args: {{text: {{pattern: ".*secret.*"}}}}}}
    - {{id: callers-short-slugs, effect: allow, principals: [{caller}], tools: [slugify],
       args: {{text: {{maxLength: 10}}}}}}
    - {{id: callers-scarce-multiply, effect: allow, principals: [{caller}], tools: [multiply], rateLimit: scarce}}
    - {{id: callers-slow-echo, effect: allow, principals: [{caller}], tools: [slow_echo]}}
    - {{id: ops-reverse, effect: allow, principals: [ops], tools: [reverse_words]}}
    - {{id: callers-describe, effect: allow, principals: [{caller}], tools: [describe_user]}}
    - {{id: nobody-describes, effect: deny, principals: ["*"], tools: [describe_user]}}
"""
RULE_IDS = re.findall(r"\{\{id: ([\w-]+),", POLICY)
# What a caller of the rules may call: reverse_words is ops's only, describe_user is denied outright, fail has
# no rule.
CALLABLE = {"add", "word_count", "slugify", "multiply", "slow_echo"}


def policy_text(anonymous: str, caller: str) -> str:
    keys = "\n".join(f"      - {{name: {name}, sha256: {hashlib.sha256(key.encode()).hexdigest()}, "
                     f"principal: {name}, groups: [{GROUPS[name]}]}}" for name, key in KEYS.items())
    return POLICY.format(anonymous=anonymous, keys=keys, caller=caller)


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """Module scope, so one connection per kind serves every test of this module."""
    return "asyncio"


@pytest.fixture(scope="module")
def policies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("policy-clients")
    files = {"http": directory / "http.yaml", "stdio": directory / "stdio.yaml"}
    files["http"].write_text(policy_text("deny", "eng"))
    files["stdio"].write_text(policy_text("loopback-only", "local"))
    return files


@pytest.fixture(scope="module")
def server(policies: dict[str, Path]) -> Iterator[ServerProcess]:
    with running_server(TOOLS, ("--policy", str(policies["http"]))) as process:
        yield process


@dataclass
class Connection:
    """One client, whichever library: calls made the same way and answers read the same way."""

    client: Any
    name: str
    replies: list[httpx2.Response] = field(default_factory=list)  # every HTTP response, in order; none on stdio

    @property
    def fastmcp(self) -> bool:
        return isinstance(self.client, FastMCPClient)

    @property
    def http(self) -> bool:
        return "-http-" in self.name

    def calls_since(self, seen: int) -> list[httpx2.Response]:
        """The responses to tools/call among those since `seen` (a client may list tools around a call)."""
        return [reply for reply in self.replies[seen:]
                if reply.request.method == "POST" and json.loads(reply.request.content)["method"] == "tools/call"]

    async def tool_names(self) -> set[str]:
        listed = await self.client.list_tools()
        return {tool.name for tool in (listed if self.fastmcp else listed.tools)}

    async def call_tool(self, tool: str, arguments: dict[str, Any]) -> Any:
        """The tool result, error results included (fastmcp would raise them as ToolError)."""
        if self.fastmcp:
            return await self.client.call_tool(tool, arguments, raise_on_error=False)
        return await self.client.call_tool(tool, arguments)

    async def result(self, tool: str, arguments: dict[str, Any]) -> Any:
        """What a call that must succeed returned: its structured content, else its one text."""
        result = await self.call_tool(tool, arguments)
        assert result.is_error is False, (self.name, tool, result)
        if result.structured_content is not None:
            return result.structured_content
        [content] = result.content
        return content.text

    async def refusal(self, tool: str, arguments: dict[str, Any]) -> MCPError:
        """The JSON-RPC error a call must be refused with; a tool result of any kind fails the test."""
        try:
            result = await self.call_tool(tool, arguments)
        except MCPError as error:
            return error
        pytest.fail(f"{self.name}: {tool}({arguments}) answered {result!r}, expected a JSON-RPC error")


def recorder(replies: list[httpx2.Response]) -> dict[str, list[Any]]:
    async def keep(response: httpx2.Response) -> None:
        replies.append(response)

    return {"response": [keep]}


def recording_factory(replies: list[httpx2.Response]) -> McpHttpClientFactory:
    """fastmcp's client factory, as it calls it (with follow_redirects besides), keeping every response."""

    def factory(headers: dict[str, str] | None = None, timeout: httpx2.Timeout | None = None,
                auth: httpx2.Auth | None = None, **options: Any) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(headers=headers, timeout=timeout or 30, auth=auth, event_hooks=recorder(replies),
                                  **options)

    return factory


def http_client(kind: str, url: str, mode: str, headers: dict[str, str],
                replies: list[httpx2.Response]) -> tuple[Any, httpx2.AsyncClient | None]:
    """A client whose every request carries `headers`: the SDK through the httpx2 client it is given, fastmcp
    through its transport's headers (and a factory only to see the responses)."""
    if kind == "sdk":
        http = httpx2.AsyncClient(headers=headers, event_hooks=recorder(replies), timeout=30)
        return Client(streamable_http_client(url, http_client=http), mode=mode), http
    transport = StreamableHttpTransport(url, headers=headers, httpx_client_factory=recording_factory(replies))
    return FastMCPClient(transport, mode=mode), None


def key_header(kind: str, key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if kind == "sdk" else {"X-API-Key": key}


@pytest.fixture(scope="module", params=CONNECTIONS)
async def connection(request: pytest.FixtureRequest, server: ServerProcess,
                     policies: dict[str, Path]) -> AsyncIterator[Connection]:
    kind, transport, era = request.param.split("-")
    mode = "legacy" if era == "legacy" else "auto"
    replies: list[httpx2.Response] = []
    http: httpx2.AsyncClient | None = None
    if transport == "http":
        client, http = http_client(kind, server.url, mode, key_header(kind, KEYS[request.param]), replies)
    else:
        # Both libraries start the server with a sanitized environment: no SANDGATE_API_KEY, an anonymous caller.
        args = ["-m", "sandgate", "serve", str(TOOLS), "--transport", "stdio", "--policy", str(policies["stdio"])]
        if kind == "sdk":
            client = Client(StdioServerParameters(command=server_python(), args=args, cwd=str(REPO)), mode=mode)
        else:
            client = FastMCPClient(StdioTransport(server_python(), args, cwd=str(REPO), keep_alive=False), mode=mode)
    try:
        async with client:
            assert client.protocol_version == (LEGACY_REVISIONS[0] if era == "legacy" else MODERN)
            yield Connection(client, request.param, replies)
    finally:
        if http is not None:
            await http.aclose()


def without_name(error: MCPError, tool: str) -> tuple[int, str, str]:
    return error.code, error.message.replace(tool, "<tool>"), json.dumps(error.data).replace(tool, "<tool>")


def status_and_headers(reply: httpx2.Response) -> tuple[int, dict[str, str]]:
    """What an HTTP reply says besides its body (whose length follows the tool's name)."""
    return reply.status_code, {name: value for name, value in reply.headers.items() if name != "content-length"}


def names_no_rule(error: MCPError) -> bool:
    said = error.message + json.dumps(error.data)
    return not any(rule in said for rule in RULE_IDS)


async def test_the_listing_holds_only_what_the_caller_may_call(connection: Connection) -> None:
    assert await connection.tool_names() == CALLABLE


async def test_an_allowed_call_runs(connection: Connection) -> None:
    assert await connection.result("add", {"a": 2, "b": 3}) == {"result": 5}


@pytest.mark.parametrize("tool", ["reverse_words", "describe_user"], ids=["no-rule-allows", "a-rule-denies"])
async def test_a_hidden_tool_is_answered_as_one_that_does_not_exist(connection: Connection, tool: str) -> None:
    arguments = {"text": "a b"} if tool == "reverse_words" else {"user_id": 1}
    seen = len(connection.replies)
    hidden = await connection.refusal(tool, arguments)
    absent = await connection.refusal("no_such_tool", arguments)
    assert without_name(hidden, tool) == without_name(absent, "no_such_tool")
    assert (hidden.code, hidden.message) == (-32602, f"Unknown tool: {tool}")
    assert names_no_rule(hidden)
    if connection.http:
        hidden_reply, absent_reply = connection.calls_since(seen)
        assert status_and_headers(hidden_reply) == status_and_headers(absent_reply)


async def test_a_rule_that_denies_these_arguments_refuses_without_naming_itself(connection: Connection) -> None:
    assert (await connection.result("word_count", {"text": "plain words"}))["words"] == 2
    seen = len(connection.replies)
    denied = await connection.refusal("word_count", {"text": "top secret words"})
    assert (denied.code, denied.message, denied.data) == (-32003, "Forbidden: denied_by_rule", None)
    assert names_no_rule(denied)
    if connection.http:
        [reply] = connection.calls_since(seen)
        assert reply.status_code == 403
        assert not any(rule in str(reply.headers) for rule in RULE_IDS), reply.headers


async def test_an_argument_outside_the_rules_constraint_is_refused(connection: Connection) -> None:
    assert await connection.result("slugify", {"text": "Ten Chars!"}) == "ten-chars"
    refused = await connection.refusal("slugify", {"text": "Ten Chars!!"})  # one code point past maxLength
    assert (refused.code, refused.message, refused.data) == (-32003, "Forbidden: argument_not_allowed", None)
    assert names_no_rule(refused)


async def test_the_call_past_the_burst_is_a_rate_limit_error_never_a_tool_result(connection: Connection) -> None:
    for _ in range(2):
        assert await connection.result("multiply", {"a": 2, "b": 3}) == {"result": 6.0}
    seen = len(connection.replies)
    limited = await connection.refusal("multiply", {"a": 2, "b": 3})
    assert (limited.code, limited.message) == (-32029, "Too Many Requests: retry after 30 s")
    # 2/min: the next token is 30 s after the first call, a moment ago.
    assert set(limited.data) == {"retryAfterMs", "limit", "policy"}
    assert (limited.data["limit"], limited.data["policy"]) == (2, "scarce")
    assert 20_000 < limited.data["retryAfterMs"] <= 30_000, limited.data
    if connection.http:
        [reply] = connection.calls_since(seen)
        assert reply.status_code == 429
        assert (reply.headers["Retry-After"], reply.headers["RateLimit-Policy"]) == ("30", '"scarce";q=2;w=60')


async def test_a_call_runs_under_the_policys_wall_time(connection: Connection) -> None:
    """examples/tools.py asks for no limits of its own: the policy's 1 s is all slow_echo gets."""
    assert await connection.result("slow_echo", {"text": "hi", "delay_s": 0.1}) == "hi"
    stopped = await connection.call_tool("slow_echo", {"text": "hi", "delay_s": 1.5})
    assert stopped.is_error and stopped.meta["io.sandgate/sandbox"]["reason"] == "timeout", stopped


async def connect_error(client: Any) -> Exception:
    try:
        async with client:
            pass
    except Exception as error:  # whatever each library raises; judged by the caller
        return error
    pytest.fail("connected without a valid key")


def only_error(raised: BaseException) -> BaseException:
    """The one error inside however many exception groups wrap it."""
    while isinstance(raised, BaseExceptionGroup):
        assert len(raised.exceptions) == 1, raised
        raised = raised.exceptions[0]
    return raised


@pytest.mark.parametrize("key", [None, "wrong-secret"], ids=["no-key", "wrong-key"])
@pytest.mark.parametrize("era", ["legacy", "modern"])
@pytest.mark.parametrize("kind", ["sdk", "fastmcp"])
async def test_a_caller_without_a_valid_key_is_refused_before_anything_runs(
        server: ServerProcess, kind: str, era: str, key: str | None) -> None:
    """The SDK's Client raises the 401's JSON-RPC error from inside its task groups; fastmcp raises it bare."""
    replies: list[httpx2.Response] = []
    client, http = http_client(kind, server.url, "legacy" if era == "legacy" else "auto",
                               key_header(kind, key) if key else {}, replies)
    try:
        raised = await connect_error(client)
    finally:
        if http is not None:
            await http.aclose()
    error = only_error(raised)
    assert isinstance(error, MCPError), repr(raised)
    expected = "Unauthorized: credentials required" if key is None else "Unauthorized: invalid credentials"
    assert (error.code, error.message) == (-32001, expected)
    assert replies and all(reply.status_code == 401 for reply in replies), replies
    assert all(reply.headers["WWW-Authenticate"].startswith("Bearer") for reply in replies)


@pytest.mark.parametrize("era", ["legacy", "modern"])
@pytest.mark.parametrize("kind", ["sdk", "fastmcp"])
async def test_what_is_hidden_follows_the_keys_groups(server: ServerProcess, kind: str, era: str) -> None:
    """The ops key's group may reverse words and nothing else: the tool hidden from eng is this key's only one."""
    client, http = http_client(kind, server.url, "legacy" if era == "legacy" else "auto",
                               key_header(kind, KEYS["ops"]), [])
    try:
        async with client:
            ops = Connection(client, f"{kind}-ops-{era}")
            assert await ops.tool_names() == {"reverse_words"}
            assert await ops.result("reverse_words", {"text": "a b"}) == "b a"
            assert (await ops.refusal("add", {"a": 2, "b": 3})).message == "Unknown tool: add"
    finally:
        if http is not None:
            await http.aclose()
