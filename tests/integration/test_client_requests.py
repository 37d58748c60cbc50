"""Handlers asking their client during a call (handshake eras): sampling, elicitation, roots, through
`sandgate serve servers/asking.py` and the official SDK client's callbacks, in the gateway and in the
sandbox; refusals for what the client did not declare, and for the 2026-07-28 era, which asks through
results instead."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp import types as mt

from .server_process import REPO, TRUSTED, ServerProcess, running_server, server_python
from .test_schema_conformance import mcp_schema
from .wire import LegacySession, ModernWire, sse_messages

ASKING_SERVER = Path(__file__).resolve().parent / "servers" / "asking.py"
PLACES = ("here", "sandboxed")


@pytest.fixture(scope="module")
def asking_server() -> Iterator[ServerProcess]:
    with running_server(ASKING_SERVER, TRUSTED) as process:
        yield process


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Answers:
    """The client's side: what it was asked, and what it answers."""

    def __init__(self, elicit: dict[str, Any] | None = None) -> None:
        self.asked: list[tuple[str, Any]] = []
        self.elicit = elicit or {"action": "accept", "content": {"value": "green"}}

    async def sampling(self, context: Any, params: mt.CreateMessageRequestParams) -> mt.CreateMessageResult:
        self.asked.append(("sampling", params))
        text = params.messages[0].content.text
        return mt.CreateMessageResult(role="assistant", content=mt.TextContent(type="text", text=f"[{text}]"),
                                      model="test-model", stop_reason="endTurn")

    async def elicitation(self, context: Any, params: mt.ElicitRequestParams) -> mt.ElicitResult:
        self.asked.append(("elicitation", params))
        return mt.ElicitResult(**self.elicit)

    async def roots(self, context: Any) -> mt.ListRootsResult:
        self.asked.append(("roots", None))
        return mt.ListRootsResult(roots=[mt.Root(uri="file:///work", name="work")])

    def client(self, target: Any, **extra: Any) -> Client:
        options: dict[str, Any] = {"sampling_callback": self.sampling, "elicitation_callback": self.elicitation,
                                   "list_roots_callback": self.roots}
        options.update(extra)
        return Client(target, mode="legacy", **options)


def text_of(result: Any) -> str:
    assert result.is_error is False, result
    return result.content[0].text


@pytest.mark.anyio
@pytest.mark.parametrize("place", PLACES)
async def test_sampling_reaches_the_clients_model_and_its_answer_the_call(asking_server, place: str) -> None:
    answers = Answers()
    async with answers.client(asking_server.url) as client:
        result = await client.call_tool(f"summarize_{place}", {"topic": "tides"})
    assert text_of(result) == "assistant/test-model: [Summarize tides]"
    [(kind, params)] = answers.asked
    assert kind == "sampling"
    assert params.system_prompt == "Be brief" and params.max_tokens == 50


@pytest.mark.anyio
@pytest.mark.parametrize("place", PLACES)
async def test_elicitation_sends_the_form_and_reads_the_answer_as_its_type(asking_server, place: str) -> None:
    answers = Answers({"action": "accept", "content": {"name": "Ada", "age": 36}})
    async with answers.client(asking_server.url) as client:
        result = await client.call_tool(f"register_{place}", {})
    assert text_of(result) == "Ada is 36"
    schema = answers.asked[0][1].requested_schema
    assert schema["type"] == "object"
    assert schema["properties"]["name"]["type"] == "string"
    assert schema["properties"]["age"]["type"] == "integer"
    assert sorted(schema["required"]) == ["age", "name"]


@pytest.mark.anyio
@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize(("answer", "text"), [
    ({"action": "accept", "content": {"value": "green"}}, "green"),
    ({"action": "decline"}, "decline"),
    ({"action": "cancel"}, "cancel"),
])
async def test_a_choice_is_accepted_declined_or_cancelled(asking_server, place: str, answer: dict[str, Any],
                                                          text: str) -> None:
    answers = Answers(answer)
    async with answers.client(asking_server.url) as client:
        result = await client.call_tool(f"choose_{place}", {})
    assert text_of(result) == text
    assert answers.asked[0][1].requested_schema["properties"]["value"]["enum"] == ["red", "green"]


@pytest.mark.anyio
@pytest.mark.parametrize("place", PLACES)
async def test_an_accepted_answer_that_does_not_fit_the_form_is_the_tools_error(asking_server, place: str) -> None:
    answers = Answers({"action": "accept", "content": {"name": "Ada", "age": "old"}})
    async with answers.client(asking_server.url) as client:
        result = await client.call_tool(f"register_{place}", {})
    assert result.is_error is True
    assert "does not fit the form" in result.content[0].text


@pytest.mark.anyio
@pytest.mark.parametrize("tool", ["roots_here", "roots_sandboxed"])
async def test_roots_come_from_the_client(asking_server, tool: str) -> None:
    async with Answers().client(asking_server.url) as client:
        assert text_of(await client.call_tool(tool, {})) == "work=file:///work"


@pytest.mark.anyio
@pytest.mark.parametrize("tool", ["everything_here", "everything_sandboxed", "everything_per_session"])
async def test_several_round_trips_in_one_call_each_reach_the_same_call(asking_server, tool: str) -> None:
    answers = Answers()
    async with answers.client(asking_server.url) as client:
        assert text_of(await client.call_tool(tool, {})) == "[one]|green|1"
        assert text_of(await client.call_tool(tool, {})) == "[one]|green|1"  # a per_session worker, again
    assert [kind for kind, _ in answers.asked] == ["sampling", "elicitation", "roots"] * 2


@pytest.mark.anyio
async def test_over_stdio_too(tmp_path: Path) -> None:
    params = StdioServerParameters(command=server_python(), cwd=str(REPO),
                                   args=["-m", "sandgate", "serve", str(ASKING_SERVER), "--transport", "stdio",
                                         *TRUSTED])
    async with Answers().client(params) as client:
        assert text_of(await client.call_tool("everything_sandboxed", {})) == "[one]|green|1"


@pytest.mark.anyio
@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("action", ["accept", "decline", "cancel"])
async def test_a_url_elicitation_sends_the_user_out_of_band(asking_server, place: str, action: str) -> None:
    answers = Answers({"action": action})
    async with answers.client(asking_server.url) as client:
        result = await client.call_tool(f"sign_in_{place}", {"url": "https://login.example/start?x=1"})
    assert text_of(result) == f"{action} None"
    [(kind, params)] = answers.asked
    assert kind == "elicitation"
    assert (params.mode, params.url, params.elicitation_id, params.message) == (
        "url", "https://login.example/start?x=1", "sign-in-1", "Sign in to continue")


@pytest.mark.anyio
@pytest.mark.parametrize("place", PLACES)
async def test_a_completed_url_elicitation_is_told_to_the_session(asking_server, place: str) -> None:
    completed: list[str] = []

    async def on_message(message: Any) -> None:
        if getattr(message, "method", None) == "notifications/elicitation/complete":
            completed.append(message.params.elicitation_id)

    answers = Answers({"action": "accept"})
    async with answers.client(asking_server.url, message_handler=on_message) as client:
        result = await client.call_tool(f"sign_in_and_confirm_{place}", {"url": "https://login.example/"})
        assert text_of(result) == "accept"
        with anyio.move_on_after(3):
            while not completed:
                await anyio.sleep(0.01)
    assert completed == ["sign-in-2"]


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize(("capabilities", "url", "needle"), [
    ({"elicitation": {}}, "https://login.example/", "did not declare the elicitation.url capability"),
    ({"elicitation": {"form": {}}}, "https://login.example/", "did not declare the elicitation.url capability"),
    ({"elicitation": {"url": {}}}, "javascript:alert(1)", "needs an absolute http(s) URL"),
    ({"elicitation": {"url": {}}}, "/relative", "needs an absolute http(s) URL"),
])
def test_a_url_elicitation_only_to_a_client_that_takes_one(asking_server, place: str, capabilities: dict[str, Any],
                                                           url: str, needle: str) -> None:
    session = LegacySession(asking_server.url, "2025-11-25", capabilities=capabilities).open()
    try:
        reply = session.post({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                              "params": {"name": f"sign_in_{place}", "arguments": {"url": url}}})
        messages = sse_messages(reply) if reply.headers["content-type"].startswith("text/event-stream") else [reply.json()]
        assert [m for m in messages if "method" in m] == []  # nothing was asked
        result = messages[-1]["result"]
        assert result["isError"] is True and needle in result["content"][0]["text"], result
    finally:
        session.close()


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize(("capabilities", "code", "needle"), [
    ({"elicitation": {"url": {}}}, -32042, "This request needs the user at a URL first"),
    ({"elicitation": {}}, -32603, "did not declare the elicitation.url capability"),
])
def test_a_handler_that_needs_the_user_at_urls_answers_32042(asking_server, place: str, capabilities: dict[str, Any],
                                                             code: int, needle: str) -> None:
    session = LegacySession(asking_server.url, "2025-11-25", capabilities=capabilities).open()
    try:
        reply = session.post({"jsonrpc": "2.0", "id": 8, "method": "tools/call",
                              "params": {"name": f"needs_sign_in_{place}", "arguments": {}}})
        messages = sse_messages(reply) if reply.headers["content-type"].startswith("text/event-stream") else [reply.json()]
        error = messages[-1]["error"]
        assert (error["code"], messages[-1]["id"]) == (code, 8) and needle in error["message"], error
        if code == -32042:
            mcp_schema("2025-11-25").check("URLElicitationRequiredError", messages[-1])
            assert error["data"] == {"elicitations": [
                {"mode": "url", "message": "Sign in first", "url": "https://login.example/a", "elicitationId": "auth-1"},
                {"mode": "url", "message": "And here", "url": "https://login.example/b", "elicitationId": "auth-2"}]}
    finally:
        session.close()


@pytest.mark.parametrize("url", ["javascript:alert(1)", "https:///no-host", "https://login.example/a b", "/relative"])
def test_a_hostile_childs_32042_to_a_url_no_user_should_visit_is_refused(hostile_server, url: str) -> None:
    session = LegacySession(hostile_server.url, "2025-11-25", capabilities={"elicitation": {"url": {}}}).open()
    try:
        body = session.post({"jsonrpc": "2.0", "id": 9, "method": "tools/call",
                             "params": {"name": "forge_url_elicitation", "arguments": {"url": url}}}).json()
        assert body["error"]["code"] == -32603 and "data.elicitations" in body["error"]["message"], body
    finally:
        session.close()


@pytest.mark.parametrize("place", PLACES)
def test_a_modern_request_gets_no_32042(asking_server, place: str) -> None:
    wire = ModernWire(asking_server.url)
    try:
        body = wire.request("tools/call", {"name": f"needs_sign_in_{place}", "arguments": {}}).json()
        assert body["error"]["code"] == -32603 and "input_required" in body["error"]["message"], body
    finally:
        wire.close()


@pytest.mark.anyio
@pytest.mark.parametrize("place", PLACES)
async def test_what_the_client_did_not_declare_is_not_sent_and_the_tool_says_so(asking_server, place: str) -> None:
    async with Client(asking_server.url, mode="legacy") as client:  # no callbacks: no capabilities
        result = await client.call_tool(f"summarize_{place}", {"topic": "x"})
    assert result.is_error is True
    assert "did not declare the sampling capability" in result.content[0].text


@pytest.mark.anyio
@pytest.mark.parametrize("place", PLACES)
async def test_a_modern_request_cannot_ask_on_its_stream(asking_server, place: str) -> None:
    answers = Answers()
    async with Client(asking_server.url, mode="auto", sampling_callback=answers.sampling) as client:
        result = await client.call_tool(f"summarize_{place}", {"topic": "x"})
    assert result.is_error is True
    assert "cannot reach the client" in result.content[0].text
    assert answers.asked == []


# --- A hostile module: what its child writes is checked again, and bounded -----------------------------------

HOSTILE = Path(__file__).resolve().parent / "servers" / "hostile_asking.py"


@pytest.fixture(scope="module")
def hostile_server() -> Iterator[ServerProcess]:
    with running_server(HOSTILE, ("--set", "max_client_requests_per_call=5")) as process:  # hosted: sandboxed
        yield process


@pytest.mark.anyio
@pytest.mark.parametrize(("method", "params", "needle"), [
    ("tools/call", {"name": "forge"}, "may not send its client 'tools/call'"),
    ("ping", {}, "may not send its client 'ping'"),
    ("elicitation/create", {"message": "m", "requestedSchema": {"type": "object", "properties": {
        "x": {"type": "object", "properties": {}}}}}, "nested objects are not allowed"),
    ("sampling/createMessage", {"messages": "all of them", "maxTokens": 1}, "messages and an integer maxTokens"),
])
async def test_a_forged_request_never_reaches_the_client(hostile_server, method: str, params: dict[str, Any],
                                                          needle: str) -> None:
    answers = Answers()
    async with answers.client(hostile_server.url) as client:
        result = await client.call_tool("forge", {"method": method, "params": params})
    assert text_of(result).startswith("is_error=True: refused by the gateway")
    assert needle in text_of(result)
    assert answers.asked == []


@pytest.mark.anyio
async def test_a_call_may_ask_only_so_many_times(hostile_server) -> None:
    answers = Answers()
    async with answers.client(hostile_server.url) as client:
        result = await client.call_tool("flood", {"times": 8})
    assert text_of(result).startswith("5 answered, then: roots/list was not sent")
    assert "max_client_requests_per_call" in text_of(result)
    assert len(answers.asked) == 5


@pytest.mark.anyio
@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_a_handler_knows_its_request_id(asking_server, place: str, mode: str) -> None:
    async with Client(asking_server.url, mode=mode) as client:
        first = text_of(await client.call_tool(f"whoami_{place}", {}))
        second = text_of(await client.call_tool(f"whoami_{place}", {}))
    assert first.startswith("request '") and first.endswith("', client None")
    assert first != second  # each request its own id
