"""2026-07-28 multi-round-trip requests through the gateway: a tool answers input_required, the client retries
with its answers and the echoed requestState. The state is sealed by the gateway: forged, changed, expired or
another principal's state is refused; only requests the client declared a capability for go out."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from .server_process import ServerProcess, running_server
from .test_schema_conformance import mcp_schema

SERVER = Path(__file__).resolve().parent / "servers" / "round_trips.py"
KEYS = {"alice": "alice-secret", "bob": "bob-secret"}
POLICY = """apiVersion: sandgate.dev/v1
kind: ToolPolicy
metadata: {name: round-trips}
spec:
  auth:
    anonymous: loopback-only
    apiKeys:
""" + "".join(f"      - {{name: {name}, sha256: {hashlib.sha256(key.encode()).hexdigest()}, principal: {name}}}\n"
              for name, key in KEYS.items()) + """  rules:
    - id: anyone
      effect: allow
      principals: ["*"]
      tools: ["*"]
"""
TTL_S = 2
ALL = {"elicitation": {}, "sampling": {}, "roots": {}}


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[ServerProcess]:
    policy = tmp_path_factory.mktemp("policy") / "policy.yaml"
    policy.write_text(POLICY)
    with running_server(SERVER, ["--trust", "--policy", str(policy), "--set", f"request_state_ttl_s={TTL_S}"]) as s:
        yield s


def call(server: ServerProcess, tool: str, *, who: str | None = None, responses: Any = None, state: Any = None,
         capabilities: dict[str, Any] | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    meta = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": ALL if capabilities is None else capabilities}
    params: dict[str, Any] = {"name": tool, "arguments": {}, "_meta": meta}
    if responses is not None:
        params["inputResponses"] = responses
    if state is not None:
        params["requestState"] = state
    params.update(extra or {})
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
               "MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call", "Mcp-Name": tool}
    if who is not None:
        headers["Authorization"] = f"Bearer {KEYS[who]}"
    reply = httpx.post(server.url, headers=headers, timeout=30,
                       json={"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": params})
    return {"status": reply.status_code, **reply.json()}


def accept(**content: Any) -> dict[str, Any]:
    return {"action": "accept", "content": content}


@pytest.mark.parametrize("tool", ["book", "book_here"])
def test_a_tool_asks_and_resumes_over_three_rounds(server: ServerProcess, tool: str) -> None:
    schema = mcp_schema("2026-07-28")
    first = call(server, tool, who="alice")
    schema.check("InputRequiredResult", first["result"])
    assert first["result"]["resultType"] == "input_required"
    assert list(first["result"]["inputRequests"]) == ["date"]
    assert "requestState" not in first["result"]  # the tool kept none
    second = call(server, tool, who="alice", responses={"date": accept(date="2027-01-02")})
    state = second["result"]["requestState"]
    assert "2027" not in state and "date=" not in state  # sealed: the client cannot read it
    third = call(server, tool, who="alice", responses={"confirm": accept(ok=True)}, state=state)
    assert third["result"]["resultType"] == "complete"
    assert third["result"]["content"] == [{"type": "text", "text": "booked 2027-01-02"}]


@pytest.mark.parametrize("change", [
    lambda state: state + "-TAMPERED",
    lambda state: state[:-2] + ("AA" if state[-2:] != "AA" else "BB"),
    lambda state: "made-up",
    lambda state: "",
])
def test_a_changed_or_made_up_state_is_refused(server: ServerProcess, change: Any) -> None:
    state = call(server, "book", who="alice", responses={"date": accept(date="d")})["result"]["requestState"]
    refused = call(server, "book", who="alice", responses={"confirm": accept(ok=True)}, state=change(state))
    assert refused["error"]["code"] == -32602
    assert "requestState integrity check failed" in refused["error"]["message"]


def test_another_principals_state_or_another_tools_is_refused(server: ServerProcess) -> None:
    state = call(server, "book", who="alice", responses={"date": accept(date="d")})["result"]["requestState"]
    for who, tool in (("bob", "book"), (None, "book"), ("alice", "book_here")):
        refused = call(server, tool, who=who, responses={"confirm": accept(ok=True)}, state=state)
        assert refused["error"]["code"] == -32602, (who, tool)
    assert call(server, "book", who="alice", responses={"confirm": accept(ok=True)},
                state=state)["result"]["content"][0]["text"] == "booked d"  # still Alice's


def test_an_expired_state_is_refused(server: ServerProcess) -> None:
    state = call(server, "book", who="alice", responses={"date": accept(date="d")})["result"]["requestState"]
    time.sleep(TTL_S + 1.2)
    refused = call(server, "book", who="alice", responses={"confirm": accept(ok=True)}, state=state)
    assert "requestState expired" in refused["error"]["message"]


def test_only_what_the_client_declared_is_asked_else_missing_capability(server: ServerProcess) -> None:
    refused = call(server, "sample_only", capabilities={"elicitation": {}})
    assert refused["status"] == 400
    assert refused["error"]["code"] == -32021
    assert refused["error"]["data"] == {"requiredCapabilities": {"sampling": {}}}
    assert call(server, "sample_only", capabilities={"sampling": {}})["result"]["resultType"] == "input_required"


@pytest.mark.parametrize(("params", "needle"), [
    ({"inputResponses": None}, "'inputResponses' must be an object"),
    ({"inputResponses": [1]}, "'inputResponses' must be an object"),
    ({"requestState": 5}, "'requestState' must be a string"),
])
def test_malformed_round_trip_params_are_invalid(server: ServerProcess, params: dict[str, Any], needle: str) -> None:
    refused = call(server, "book", extra=params)
    assert refused["error"]["code"] == -32602
    assert needle in refused["error"]["message"]


def test_an_input_required_result_without_requests_is_the_tools_error(server: ServerProcess) -> None:
    result = call(server, "no_requests")["result"]
    assert result["isError"] is True
    assert "at least one input request" in result["content"][0]["text"]


def test_a_handshake_era_call_cannot_answer_input_required(server: ServerProcess, legacy) -> None:
    session = legacy(server.url)
    reply = session.request("tools/call", {"name": "sample_only", "arguments": {}})
    assert reply.json()["error"]["code"] == -32603
