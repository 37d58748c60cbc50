"""The Dispatcher contract the native core relies on."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import threading

import pytest

from conftest import check_mcp
from sandgate import Context, Dispatcher, MCPServer


def make_server() -> MCPServer:
    server = MCPServer("dispatch-test")

    @server.tool
    def add(a: int, b: int) -> int:
        return a + b

    @server.tool
    async def shout(text: str, delay_s: float = 0.0) -> str:
        await asyncio.sleep(delay_s)
        return text.upper()

    @server.tool
    async def async_fail() -> str:
        raise ValueError("async boom")

    @server.resource("memo://{key}")
    async def memo(key: str) -> str:
        return f"memo {key}"

    @server.prompt
    async def greet(name: str) -> str:
        return f"Hello {name}"

    @server.prompt
    def exits() -> str:
        raise SystemExit(3)

    return server


class Completions:
    """Records completion calls and lets a test wait for them."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, str, str]] = []
        self.done = threading.Event()

    def __call__(self, status: int, text: str) -> None:
        self.calls.append((status, text, threading.current_thread().name))
        self.done.set()

    def wait(self) -> tuple[int, dict]:
        assert self.done.wait(5), "completion was not called"
        assert len(self.calls) == 1
        return self.calls[0][0], json.loads(self.calls[0][1])


def test_sync_tool_returns_result_tuple():
    assert make_server().dispatcher().call("tools/call", "add", '{"a":1,"b":2}', "{}", None) == (
        0, '{"content":[{"type":"text","text":"3"}],"structuredContent":{"result":3}}'
    )


@pytest.mark.parametrize(
    ("kind", "name", "arguments", "status", "message"),
    [
        ("tools/call", "missing", "{}", 1, "Unknown tool: missing"),
        ("prompts/get", "missing", "{}", 1, "Unknown prompt: missing"),
        ("prompts/get", "greet", "{}", 1, "Invalid arguments for prompt 'greet': name: Field required"),
        ("resources/read", "other://x", "{}", 2, "Resource not found"),
        ("completion/complete", "x", "{}", 1,
         "Invalid params: a completion needs a ref/prompt or ref/resource and an argument with string name and value"),
        ("subscriptions/listen", "x", "{}", 3, "Unsupported request kind: subscriptions/listen"),
        ("prompts/get", "exits", "{}", 3, "Error rendering prompt 'exits': SystemExit: 3"),
    ],
)
def test_failures_become_statuses(kind, name, arguments, status, message):
    outcome = make_server().dispatcher().call(kind, name, arguments, "{}", None)
    assert outcome is not None
    assert outcome[0] == status
    assert json.loads(outcome[1])["message"] == message


def test_resource_not_found_carries_the_uri():
    outcome = make_server().dispatcher().call("resources/read", "other://x", "{}", "{}", None)
    assert json.loads(outcome[1]) == {"message": "Resource not found", "data": {"uri": "other://x"}}


def test_async_handlers_without_loop_run_in_the_calling_thread():
    dispatcher = make_server().dispatcher()
    status, text = dispatcher.call("tools/call", "shout", '{"text":"hi"}', "{}", None)
    assert (status, json.loads(text)) == (0, {"content": [{"type": "text", "text": "HI"}]})
    status, text = dispatcher.call("resources/read", "memo://a%20b", "{}", "{}", None)
    assert json.loads(text)["contents"] == [{"uri": "memo://a%20b", "mimeType": "text/plain", "text": "memo a b"}]


def test_async_handler_on_loop_completes_once_from_the_loop_thread(loop):
    completions = Completions()
    dispatcher = make_server().dispatcher(loop=loop)
    pending = dispatcher.call("tools/call", "shout", '{"text":"hey","delay_s":0.01}', "{}", completions)
    assert isinstance(pending, concurrent.futures.Future)
    status, result = completions.wait()
    assert (status, result) == (0, {"content": [{"type": "text", "text": "HEY"}]})
    assert completions.calls[0][2] == "test-loop"


def test_async_prompt_on_loop(loop):
    completions = Completions()
    make_server().dispatcher(loop=loop).call("prompts/get", "greet", '{"name":"Ada"}', "{}", completions)
    status, result = completions.wait()
    assert status == 0
    check_mcp("GetPromptResult", result)
    assert result["messages"] == [{"role": "user", "content": {"type": "text", "text": "Hello Ada"}}]


def test_async_tool_error_is_a_tool_result(loop):
    completions = Completions()
    make_server().dispatcher(loop=loop).call("tools/call", "async_fail", "{}", "{}", completions)
    assert completions.wait() == (0, {"content": [{"type": "text", "text": "ValueError: async boom"}],
                                      "isError": True,
                                      "_meta": {"io.sandgate/error": {"type": "ValueError"}}})


def test_async_tool_with_invalid_arguments_answers_synchronously(loop):
    completions = Completions()
    outcome = make_server().dispatcher(loop=loop).call("tools/call", "shout", "{}", "{}", completions)
    assert outcome is not None and outcome[0] == 0
    assert json.loads(outcome[1])["isError"] is True
    assert completions.calls == []


def test_cancelled_async_call_still_completes(loop):
    completions = Completions()
    dispatcher = make_server().dispatcher(loop=loop)
    dispatcher.call("tools/call", "shout", '{"text":"x","delay_s":30}', "{}", completions)

    async def cancel_others() -> None:
        for task in asyncio.all_tasks():
            if task is not asyncio.current_task():
                task.cancel()

    asyncio.run_coroutine_threadsafe(cancel_others(), loop).result(5)
    assert completions.wait() == (5, {"message": "Request cancelled"})


def test_closed_loop_answers_synchronously():
    closed = asyncio.new_event_loop()
    closed.close()
    outcome = make_server().dispatcher(loop=closed).call("tools/call", "shout", '{"text":"x"}', "{}", None)
    assert outcome is not None and outcome[0] == 3


def test_async_handler_without_loop_inside_a_running_loop_is_status_3():
    async def from_inside_a_loop():
        return make_server().dispatcher().call("tools/call", "shout", '{"text":"x"}', "{}", None)

    status, text = asyncio.run(from_inside_a_loop())
    assert status == 3
    assert json.loads(text)["message"] == (
        "Error calling tool 'shout': RuntimeError: asyncio.run() cannot be called from a "
        "running event loop"
    )


def test_completion_that_raises_does_not_escape(loop, caplog):
    done = threading.Event()

    def failing_completion(status: int, text: str) -> None:
        done.set()
        raise RuntimeError("core went away")

    with caplog.at_level(logging.ERROR, logger="sandgate.dispatch"):
        make_server().dispatcher(loop=loop).call("tools/call", "shout", '{"text":"x"}', "{}",
                                                 failing_completion)
        assert done.wait(5)
        asyncio.run_coroutine_threadsafe(asyncio.sleep(0), loop).result(5)  # let the callback finish
    assert [r.getMessage() for r in caplog.records] == ["completion of tools/call 'shout' raised"]


def test_catalog_lists_in_registration_order(mcp):
    catalog = json.loads(make_server().dispatcher().catalog_json())
    assert [tool["name"] for tool in catalog["tools"]] == ["add", "shout", "async_fail"]
    assert catalog["resources"] == []
    assert [t["uriTemplate"] for t in catalog["resourceTemplates"]] == ["memo://{key}"]
    assert [p["name"] for p in catalog["prompts"]] == ["greet", "exits"]
    for tool in catalog["tools"]:
        mcp("Tool", tool)
    for template in catalog["resourceTemplates"]:
        mcp("ResourceTemplate", template)
    for prompt in catalog["prompts"]:
        mcp("Prompt", prompt)


def test_catalog_is_deterministic_and_follows_new_registrations():
    server = make_server()
    dispatcher = server.dispatcher()
    first = dispatcher.catalog_json()
    assert first == make_server().dispatcher().catalog_json()
    assert dispatcher.catalog_json() is first  # cached until the registry changes
    server.add_tool(lambda: "", name="late")
    assert json.loads(dispatcher.catalog_json())["tools"][-1]["name"] == "late"


def test_dispatcher_is_built_from_a_registry():
    server = make_server()
    direct = Dispatcher(server.registry)
    assert direct.call("tools/call", "add", '{"a":2,"b":2}', "{}", None)[0] == 0


def test_a_sandboxed_plan_with_no_sandbox_fails_closed():
    server = make_server()  # its tools ask for nothing: the core's plan is per_call
    plan = server.sandbox_grant().tool("add")
    assert plan[0] == "per_call"
    status, text = server.dispatcher().call("tools/call", "add", '{"a":2,"b":2}', "{}", None, "", plan)
    assert status == 3 and "needs a sandbox" in json.loads(text)["message"]


def test_status_constants_are_the_cores() -> None:
    from sandgate import _core, dispatch

    ours = {"ok": dispatch.OK, "invalid_params": dispatch.INVALID_PARAMS,
            "resource_not_found": dispatch.RESOURCE_NOT_FOUND, "internal_error": dispatch.INTERNAL_ERROR,
            "cancelled": dispatch.CANCELLED, "url_elicitation_required": dispatch.URL_ELICITATION_REQUIRED}
    assert ours.items() <= _core.OUTCOME_STATUS.items()


def test_a_context_knows_the_request_id_and_the_tokens_client():
    server = MCPServer("ids")

    @server.tool
    def whoami(ctx: Context) -> str:
        return f"{ctx.request_id!r} {ctx.client_id!r}"

    dispatcher = server.dispatcher()
    assert "'7' 'app-1'" in dispatcher.call("tools/call", "whoami", "{}", "{}", None, "", None, 7,
                                            client_id="app-1")[1]
    assert "'0' None" in dispatcher.call("tools/call", "whoami", "{}", "{}", None, "", None, 0)[1]
    assert "'req-9' None" in dispatcher.call("tools/call", "whoami", "{}", "{}", None, "", None, "req-9")[1]
    assert "'' None" in dispatcher.call("tools/call", "whoami", "{}", "{}", None)[1]
