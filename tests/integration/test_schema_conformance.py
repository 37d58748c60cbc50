"""Every reply the server sends, checked against the official MCP JSON Schema of its revision.

Sessions are driven with raw httpx so nothing between the server and the check can repair a
reply. A result is validated against its specific definition (`InitializeResult`,
`CallToolResult`, ...) and the whole envelope against the revision's response and message
definitions. Schemas live in ../shared/mcp-schema/<revision>/schema.json; 2024-11-05 through
2025-06-18 are Draft 7 with `definitions`, later ones Draft 2020-12 with `$defs`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pytest
from jsonschema.validators import validator_for

from .server_process import REPO
from .wire import LEGACY_REVISIONS, MODERN

SCHEMA_ROOT = REPO.parent / "shared" / "mcp-schema"
SERVER_INFO = {"name": "sandgate-examples", "version": "1.0.0"}


@dataclass(frozen=True)
class McpSchema:
    revision: str
    document: dict[str, Any]

    @property
    def defs_key(self) -> str:
        return "$defs" if "$defs" in self.document else "definitions"

    def has(self, definition: str) -> bool:
        return definition in self.document[self.defs_key]

    def errors(self, definition: str, instance: Any) -> list[str]:
        assert self.has(definition), f"{self.revision} schema has no {definition}"
        root = {"$schema": self.document["$schema"], "$ref": f"#/{self.defs_key}/{definition}",
                self.defs_key: self.document[self.defs_key]}
        validator = validator_for(root)(root)
        found = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        return [f"{definition} at {list(e.absolute_path)}: {e.message}" for e in found]

    def check(self, definition: str, instance: Any) -> None:
        problems = self.errors(definition, instance)
        assert not problems, f"{self.revision}: " + "\n".join(problems) + f"\n{json.dumps(instance)}"

    def check_result_envelope(self, envelope: dict[str, Any], specific: str | None = None) -> None:
        """A success envelope: its revision's (result-)response def, the message union, and, from
        2026-07-28, the method's own `<Result>Response` def."""
        self.check("JSONRPCResultResponse" if self.has("JSONRPCResultResponse") else "JSONRPCResponse", envelope)
        self.check("JSONRPCMessage", envelope)
        if specific is not None and self.has(f"{specific}Response"):
            self.check(f"{specific}Response", envelope)

    def check_error_envelope(self, envelope: dict[str, Any]) -> None:
        self.check("JSONRPCErrorResponse" if self.has("JSONRPCErrorResponse") else "JSONRPCError", envelope)
        self.check("JSONRPCMessage", envelope)
        if self.has("JSONRPCResponse") and self.has("JSONRPCErrorResponse"):
            self.check("JSONRPCResponse", envelope)  # a union of both kinds from 2025-11-25 on


@cache
def mcp_schema(revision: str) -> McpSchema:
    return McpSchema(revision, json.loads((SCHEMA_ROOT / revision / "schema.json").read_text()))


def test_every_revision_schema_is_present() -> None:
    expected = {MODERN, *LEGACY_REVISIONS}
    present = {path.parent.name for path in SCHEMA_ROOT.glob("*/schema.json")}
    assert expected <= present, f"missing under {SCHEMA_ROOT}: {sorted(expected - present)}"


# --- What is sent, and what must come back ---------------------------------------------------

@dataclass(frozen=True)
class Exchange:
    name: str
    method: str
    params: dict[str, Any] = field(default_factory=dict)
    result: str | None = None  # the result definition, for a success
    error_code: int | None = None  # the JSON-RPC code, for an error
    check: Any = None  # extra assertions on the result or error object

    def __str__(self) -> str:
        return self.name


def is_error_result(result: dict[str, Any]) -> None:
    assert result["isError"] is True, result


def is_success_with(structured: dict[str, Any]) -> Any:
    def check(result: dict[str, Any]) -> None:
        assert result.get("isError", False) is False, result
        assert result["structuredContent"] == structured

    return check


COMMON = (
    Exchange("tools-list", "tools/list", result="ListToolsResult",
             check=lambda r: {t["name"] for t in r["tools"]} >= {"add", "fail", "word_count"}),
    Exchange("tools-call-add", "tools/call", {"name": "add", "arguments": {"a": 2, "b": 3}},
             result="CallToolResult", check=is_success_with({"result": 5})),
    Exchange("tools-call-structured", "tools/call", {"name": "word_count", "arguments": {"text": "a b"}},
             result="CallToolResult", check=is_success_with({"words": 2, "characters": 3, "lines": 1})),
    Exchange("tools-call-error-result", "tools/call", {"name": "fail", "arguments": {"message": "no"}},
             result="CallToolResult", check=is_error_result),
    Exchange("tools-call-invalid-arguments", "tools/call", {"name": "add", "arguments": {"a": "x"}},
             result="CallToolResult", check=is_error_result),
    Exchange("resources-list", "resources/list", result="ListResourcesResult",
             check=lambda r: [x["uri"] for x in r["resources"]] == ["config://app"]),
    Exchange("resources-templates-list", "resources/templates/list", result="ListResourceTemplatesResult",
             check=lambda r: [x["uriTemplate"] for x in r["resourceTemplates"]] == ["users://{user_id}/profile"]),
    Exchange("resources-read", "resources/read", {"uri": "config://app"}, result="ReadResourceResult",
             check=lambda r: r["contents"][0]["uri"] == "config://app"),
    Exchange("resources-read-template", "resources/read", {"uri": "users://2/profile"},
             result="ReadResourceResult", check=lambda r: r["contents"][0]["uri"] == "users://2/profile"),
    Exchange("prompts-list", "prompts/list", result="ListPromptsResult",
             check=lambda r: [p["name"] for p in r["prompts"]] == ["summarize"]),
    Exchange("prompts-get", "prompts/get", {"name": "summarize", "arguments": {"text": "t"}},
             result="GetPromptResult", check=lambda r: r["messages"][0]["role"] == "user"),
    Exchange("unknown-method", "tools/frobnicate", error_code=-32601),
    Exchange("unknown-tool", "tools/call", {"name": "no_such_tool", "arguments": {}}, error_code=-32602),
    Exchange("unknown-prompt", "prompts/get", {"name": "no_such_prompt"}, error_code=-32602),
)
LEGACY_ONLY = (
    Exchange("ping", "ping", result="EmptyResult", check=lambda r: r == {}),
    Exchange("logging-set-level", "logging/setLevel", {"level": "info"}, result="EmptyResult"),
    Exchange("resource-not-found", "resources/read", {"uri": "users://42/profile"}, error_code=-32002),
)
MODERN_ONLY = (
    Exchange("server-discover", "server/discover", result="DiscoverResult",
             check=lambda r: r["supportedVersions"][0] == MODERN),
    # 2026-07-28 has no ping, and reports a missing resource as Invalid params.
    Exchange("ping-is-gone", "ping", error_code=-32601),
    Exchange("resource-not-found", "resources/read", {"uri": "users://42/profile"}, error_code=-32602),
)
# The HTTP status each 2026-07-28 error carries; legacy errors ride in a 200.
MODERN_STATUS = {-32601: 404, -32602: 400, -32020: 400, -32022: 400}
ERROR_DEFS = {-32601: "MethodNotFoundError", -32602: "InvalidParamsError"}


def check_reply(schema: McpSchema, exchange: Exchange, body: dict[str, Any], request_id: Any) -> None:
    assert body["jsonrpc"] == "2.0"
    assert body["id"] == request_id
    if exchange.result is not None:
        assert "result" in body, body
        schema.check(exchange.result, body["result"])
        schema.check_result_envelope(body, exchange.result)
        if exchange.check is not None:
            exchange.check(body["result"])
    else:
        code = exchange.error_code
        assert "error" in body, body
        assert code is not None and body["error"]["code"] == code, body
        schema.check_error_envelope(body)
        if code in ERROR_DEFS and schema.has(ERROR_DEFS[code]):
            schema.check(ERROR_DEFS[code], body["error"])


# --- Handshake-era revisions -------------------------------------------------------------------

def test_initialize_reply_matches_schema(server, legacy, legacy_revision: str) -> None:
    schema = mcp_schema(legacy_revision)
    session = legacy(server.url, legacy_revision)
    reply = session.initialize_reply
    assert reply is not None and reply.headers["Content-Type"].startswith("application/json")
    body = reply.json()
    schema.check("InitializeResult", body["result"])
    schema.check_result_envelope(body, "InitializeResult")
    assert body["result"]["protocolVersion"] == legacy_revision
    assert body["result"]["serverInfo"] == SERVER_INFO


@pytest.mark.parametrize("exchange", COMMON + LEGACY_ONLY, ids=str)
def test_legacy_reply_matches_schema(server, legacy, legacy_revision: str, exchange: Exchange) -> None:
    schema = mcp_schema(legacy_revision)
    session = legacy(server.url, legacy_revision)
    request_id = f"{exchange.name}-1"  # string ids are as valid as integers
    reply = session.post({"jsonrpc": "2.0", "id": request_id, "method": exchange.method,
                          "params": exchange.params})
    assert reply.status_code == 200, reply.text
    check_reply(schema, exchange, reply.json(), request_id)


# --- 2026-07-28 ----------------------------------------------------------------------------------

@pytest.mark.parametrize("exchange", COMMON + MODERN_ONLY, ids=str)
def test_modern_reply_matches_schema(server, modern, exchange: Exchange) -> None:
    schema = mcp_schema(MODERN)
    reply = modern(server.url).request(exchange.method, exchange.params, request_id=7)
    expected_status = 200 if exchange.error_code is None else MODERN_STATUS[exchange.error_code]
    assert reply.status_code == expected_status, reply.text
    body = reply.json()
    check_reply(schema, exchange, body, 7)
    if exchange.result is not None:
        # Required by the revision: every result says what it is and who produced it.
        assert body["result"]["resultType"] == "complete"
        assert body["result"]["_meta"]["io.modelcontextprotocol/serverInfo"] == SERVER_INFO


def test_modern_unsupported_version_matches_schema(server, modern) -> None:
    schema = mcp_schema(MODERN)
    reply = modern(server.url).request("tools/list", request_id=8, version="2099-01-01")
    assert reply.status_code == 400, reply.text
    body = reply.json()
    schema.check("UnsupportedProtocolVersionError", body)
    schema.check_error_envelope(body)
    assert body["id"] == 8
    assert MODERN in body["error"]["data"]["supported"]


def test_modern_header_mismatch_matches_schema(server, modern) -> None:
    schema = mcp_schema(MODERN)
    wire = modern(server.url)
    reply = wire.request("tools/call", {"name": "add", "arguments": {"a": 1, "b": 1}}, request_id=9,
                         headers={"Mcp-Name": "multiply"})
    assert reply.status_code == 400, reply.text
    body = reply.json()
    schema.check("HeaderMismatchError", body)
    schema.check_error_envelope(body)
    assert body["id"] == 9


def test_errors_without_a_request_id_follow_json_rpc(server, modern) -> None:
    """A reply to unparseable JSON cannot name a request: JSON-RPC 2.0 gives it `"id": null`.

    From 2025-11-25 the MCP schema types the member as an optional RequestId (no null), so only
    the error object is checked against the schema here.
    """
    reply = modern(server.url).post_raw(b'{"jsonrpc": "2.0", "id": 1, "method": ')
    assert reply.status_code == 400
    body = reply.json()
    assert body["jsonrpc"] == "2.0"
    assert "id" in body and body["id"] is None
    mcp_schema(MODERN).check("ParseError", body["error"])
    for revision in ("2025-11-25", MODERN):
        mcp_schema(revision).check("Error", body["error"])
