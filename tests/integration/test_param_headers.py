"""SEP-2243 argument headers: a tool whose inputSchema marks an argument with `x-mcp-header` has that argument
checked against its `Mcp-Param-*` header on every 2026-07-28 HTTP call, before anything runs; a module whose
annotation cannot be honoured is refused at start with a clear error, hosted or trusted."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .server_process import REPO, ServerProcess, running_server
from .wire import LegacySession, ModernWire

EXAMPLE = REPO / "examples" / "conformance.py"
BAD_MODULE = '''
from sandgate import MCPServer

server = MCPServer("bad-header")


@server.tool(input_schema={"type": "object", "properties": {"a": {"type": "string", "x-mcp-header": %r}}})
def annotated(a: str = "") -> str:
    return a
'''


@pytest.fixture(scope="module")
def example() -> Iterator[ServerProcess]:
    with running_server(EXAMPLE) as process:  # hosted: the tool runs in the sandbox
        yield process


def call(url: str, region: Any, headers: dict[str, str]) -> dict[str, Any]:
    wire = ModernWire(url)
    try:
        params = {"name": "test_param_header", "arguments": {"region": region}}
        sent = wire.headers("tools/call", params)
        sent.update(headers)
        reply = wire.request("tools/call", params, request_id=9, headers=sent)
        body = reply.json()
        body["status"] = reply.status_code
        return body
    finally:
        wire.close()


@pytest.mark.parametrize(("region", "header"), [
    ("eu-west-1", "eu-west-1"),
    ("Zürich", "=?base64?WsO8cmljaA==?="),  # not a header value as it is: base64, as a client must send it
    ("=?base64?eA", "=?base64?eA"),  # no closing ?=: a literal
])
def test_an_argument_and_its_header_that_agree_run(example, region: str, header: str) -> None:
    body = call(example.url, region, {"Mcp-Param-Region": header})
    assert body["status"] == 200 and body["result"]["content"][0]["text"] == f"deployed to {region}", body


@pytest.mark.parametrize("headers", [{}, {"Mcp-Param-Region": "us-east-1"}, {"Mcp-Param-Region": "=?base64?ZXU?="}])
def test_a_missing_or_different_header_is_a_mismatch(example, headers: dict[str, str]) -> None:
    body = call(example.url, "eu", headers)
    assert body["status"] == 400 and body["id"] == 9, body
    assert body["error"]["code"] == -32020 and "Mcp-Param header of argument 'region'" in body["error"]["message"]


def test_the_handshake_eras_have_no_argument_headers(example) -> None:
    session = LegacySession(example.url, "2025-11-25").open()
    try:
        result = session.result("tools/call", {"name": "test_param_header", "arguments": {"region": "eu"}})
        assert result["content"][0]["text"] == "deployed to eu"
    finally:
        session.close()


@pytest.mark.parametrize("trust", [(), ("--trust",)], ids=["hosted", "trusted"])
@pytest.mark.parametrize(("header", "needle"), [
    ("Bad Name", "must name an HTTP header"),
    ("", "must name an HTTP header"),
])
def test_an_annotation_that_cannot_be_honoured_stops_serve(tmp_path: Path, trust: tuple[str, ...], header: str,
                                                           needle: str) -> None:
    module = tmp_path / "bad_header.py"
    module.write_text(BAD_MODULE % header)
    result = subprocess.run([sys.executable, "-m", "sandgate", "serve", str(module), "--port", "0", "--set",
                             "metrics_port=0", *trust], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2, result.stderr
    assert "cannot serve this module: tool 'annotated', argument 'a': x-mcp-header" in result.stderr
    assert needle in result.stderr
    assert "Traceback" not in result.stderr
