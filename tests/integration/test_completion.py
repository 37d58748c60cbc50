"""completion/complete through the gateway: `sandgate serve servers/completion.py`, hosted (untrusted, the
handler in the sandbox) and as the operator's own script, driven by the official SDK client and by
fastmcp's, in both eras; raw HTTP for what they hide (refused params, the result envelope)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client as FastMCPClient
from mcp import Client
from mcp.types import PromptReference, ResourceTemplateReference

from .server_process import TRUSTED, ServerProcess, running_server
from .test_schema_conformance import mcp_schema
from .wire import MODERN, modern_meta

COMPLETION_SERVER = Path(__file__).resolve().parent / "servers" / "completion.py"
POEM = PromptReference(type="ref/prompt", name="poem")
PROBE = "SANDGATE_COMPLETION_PROBE"
FORECAST = ResourceTemplateReference(type="ref/resource", uri="weather://{city}/today")


@pytest.fixture(scope="module", params=["hosted", "trusted"])
def completion_server(request) -> Iterator[ServerProcess]:
    os.environ[PROBE] = "the gateway's environment"  # inherited by the server, never by its sandbox
    try:
        with running_server(COMPLETION_SERVER, TRUSTED if request.param == "trusted" else ()) as process:
            yield process
    finally:
        del os.environ[PROBE]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["legacy", "auto"])
@pytest.mark.parametrize(("ref", "argument", "context", "values"), [
    (POEM, {"name": "theme", "value": "n"}, None, ["nature", "night"]),  # the handler
    (POEM, {"name": "theme", "value": "n"}, {"mood": "grim"}, ["nightfall"]),  # ... reading the context
    (POEM, {"name": "mood", "value": "c"}, None, ["calm", "cheerful"]),  # a Literal
    (POEM, {"name": "style", "value": ""}, None, ["haiku", "sonnet", "limerick"]),  # an Enum
    (FORECAST, {"name": "city", "value": "par"}, None, ["paris", "park city"]),
])
async def test_sdk_client_completes(completion_server, mode: str, ref: Any, argument: dict[str, str],
                                    context: dict[str, str] | None, values: list[str]) -> None:
    async with Client(completion_server.url, mode=mode) as client:
        assert client.server_capabilities.completions is not None
        result = await client.complete(ref, argument, context)
    assert result.completion.values == values


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_fastmcp_client_completes(completion_server, mode: str) -> None:
    async with FastMCPClient(completion_server.url, mode=mode) as client:
        result = await client.complete(POEM, {"name": "theme", "value": "l"})
    assert result.values == ["love"]


@pytest.mark.anyio
async def test_the_handler_runs_in_the_sandbox_not_in_the_gateway(completion_server) -> None:
    async with Client(completion_server.url) as client:
        result = await client.complete(POEM, {"name": "probe", "value": ""})
    assert result.completion.values == ["absent"]


def modern_complete(url: str, params: dict[str, Any]) -> dict[str, Any]:
    import httpx

    params = {**params, "_meta": modern_meta()}
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
               "MCP-Protocol-Version": MODERN, "Mcp-Method": "completion/complete"}
    reply = httpx.post(url, headers=headers, timeout=30,
                       json={"jsonrpc": "2.0", "id": 4, "method": "completion/complete", "params": params})
    return reply.json()


def test_the_modern_result_is_a_complete_result_of_its_revision(completion_server) -> None:
    message = modern_complete(completion_server.url, {"ref": POEM.model_dump(),
                                                      "argument": {"name": "mood", "value": "g"}})
    assert message["result"]["completion"] == {"values": ["grim"]}
    assert message["result"]["resultType"] == "complete"
    mcp_schema(MODERN).check_result_envelope(message, "CompleteResult")


@pytest.mark.parametrize(("params", "code"), [
    ({"ref": {"type": "ref/prompt", "name": "nope"}, "argument": {"name": "a", "value": ""}}, -32602),
    ({"ref": {"type": "ref/tool", "name": "poem"}, "argument": {"name": "a", "value": ""}}, -32602),
    ({"ref": {"type": "ref/prompt", "name": "poem"}, "argument": {"name": "theme", "value": 5}}, -32602),
    # 2026-07-28 names an unknown resource with -32602 (the handshake eras with -32002).
    ({"ref": {"type": "ref/resource", "uri": "weather://{x}"}, "argument": {"name": "x", "value": ""}}, -32602),
], ids=["unknown-prompt", "unknown-ref-type", "value-not-a-string", "unknown-template"])
def test_what_names_nothing_is_refused_by_name(completion_server, params: dict[str, Any], code: int) -> None:
    message = modern_complete(completion_server.url, params)
    assert message["error"]["code"] == code, message
