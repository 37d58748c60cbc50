"""Progress from a handler's Context to the core's notifier: checks, params, and the Dispatcher's wiring."""

from __future__ import annotations

import asyncio
import gc
import json
import threading
import warnings
from typing import Any

import pytest

from conftest import check_mcp
from sandgate import Context, Dispatcher, InvalidProgress, MCPServer, Sandbox
from sandgate.progress import check, forward_untrusted, params_json, sink, token_of
from sandgate.sandbox.limits import PLAN_LIMITS


class Notifier:
    """Stands in for the core's notifier: records each params object it is given."""

    def __init__(self, delivered: bool = True) -> None:
        self.params: list[dict[str, Any]] = []
        self.threads: list[str] = []
        self.delivered = delivered

    def __call__(self, params: str) -> bool:
        self.params.append(json.loads(params))
        self.threads.append(threading.current_thread().name)
        return self.delivered


def make_server() -> MCPServer:
    server = MCPServer("progress-test")

    @server.tool(isolation="none")
    def count_sync(steps: int, ctx: Context) -> str:
        for step in range(1, steps + 1):
            ctx.report_progress(step, steps, f"step {step}")  # a synchronous tool need not await
        return "counted"

    @server.tool(isolation="none")
    async def count_async(steps: int, ctx: Context) -> str:
        for step in range(1, steps + 1):
            await ctx.report_progress(step, steps)
        return "counted"

    @server.tool(isolation="none")
    def bad_progress(ctx: Context) -> str:
        ctx.report_progress(float("nan"))
        return "unreachable"

    @server.tool(isolation="none")
    def no_context(steps: int) -> str:
        return "plain"

    return server


# --- Values and params -----------------------------------------------------------------------


@pytest.mark.parametrize(("progress", "total", "message"), [
    (0, None, None), (2.5, 10, "half"), (-1, 0.0, ""), (10**30, None, "big"),
])
def test_check_passes_finite_numbers_and_strings(progress, total, message):
    assert check(progress, total, message) == (progress, total, message)


@pytest.mark.parametrize(("progress", "total", "message", "field"), [
    (True, None, None, "progress"),
    (float("nan"), None, None, "progress"),
    (float("inf"), None, None, "progress"),
    ("1", None, None, "progress"),
    (None, None, None, "progress"),
    (1, False, None, "total"),
    (1, float("-inf"), None, "total"),
    (1, "10", None, "total"),
    (1, 10, 3, "message"),
    (1, 10, b"bytes", "message"),
])
def test_check_rejects_what_json_or_the_schema_cannot_carry(progress, total, message, field):
    with pytest.raises(InvalidProgress) as raised:
        check(progress, total, message)
    assert raised.value.code == "progress.invalid"
    assert isinstance(raised.value, ValueError)
    assert str(raised.value).startswith(field)


@pytest.mark.parametrize("token", ["progress-1", 7, -3, 2**70])
def test_params_echo_the_token_and_omit_what_is_absent(token):
    full = json.loads(params_json(token, 1, 4, "a quarter"))
    assert full == {"progressToken": token, "progress": 1, "total": 4, "message": "a quarter"}
    check_mcp("ProgressNotificationParams", full)
    bare = json.loads(params_json(token, 0.5, None, None))
    assert bare == {"progressToken": token, "progress": 0.5}
    check_mcp("ProgressNotificationParams", bare)
    check_mcp("ProgressNotification", {"jsonrpc": "2.0", "method": "notifications/progress", "params": bare})


@pytest.mark.parametrize(("meta", "token"), [
    ({"progressToken": "t"}, "t"), ({"progressToken": 0}, 0), ({}, None),
    ({"progressToken": True}, None), ({"progressToken": 1.5}, None), ({"progressToken": None}, None),
    ({"progressToken": ["t"]}, None),
])
def test_only_strings_and_integers_are_tokens(meta, token):
    assert token_of(meta) == token


def test_untrusted_frames_are_checked_before_they_are_forwarded():
    notifier = Notifier()
    report = sink("gateway-token", notifier)
    assert forward_untrusted(report, {"progress": 1, "total": 2, "message": "m", "progressToken": "forged"})
    for junk in (None, [], "progress", {"total": 2}, {"progress": "1"}, {"progress": float("nan")},
                 {"progress": 1, "message": {"x": 1}}):
        assert not forward_untrusted(report, junk), junk
    # The child's own token is ignored: the gateway's is the one the client sent.
    assert notifier.params == [{"progressToken": "gateway-token", "progress": 1, "total": 2, "message": "m"}]


# --- Context --------------------------------------------------------------------------------


def test_report_progress_is_sent_at_the_call_and_is_a_finished_coroutine():
    seen: list[tuple] = []
    context = Context(progress_sink=lambda *update: seen.append(update))
    gc.collect()  # what earlier tests left behind must not warn inside the block below
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an un-awaited native coroutine would warn here
        context.report_progress(1)
        gc.collect()
    assert seen == [(1, None, None)]
    assert asyncio.run(context.report_progress(2, 4, "half")) is None

    async def in_a_task() -> None:
        await asyncio.create_task(context.report_progress(3))
        await asyncio.gather(context.report_progress(4))

    asyncio.run(in_a_task())
    assert seen == [(1, None, None), (2, 4, "half"), (3, None, None), (4, None, None)]


def test_report_progress_checks_values_even_without_a_sink():
    with pytest.raises(InvalidProgress):
        Context().report_progress(1, message=5)  # type: ignore[arg-type]


# --- The Dispatcher, in-process ---------------------------------------------------------------


def test_sync_tool_reports_to_the_notifier_with_the_requests_token():
    notifier = Notifier()
    status, text = make_server().dispatcher().call(
        "tools/call", "count_sync", '{"steps": 3}', '{"progressToken": "abc"}', None, "", progress=notifier)
    assert (status, json.loads(text)["content"][0]["text"]) == (0, "counted")
    assert notifier.params == [
        {"progressToken": "abc", "progress": step, "total": 3, "message": f"step {step}"} for step in (1, 2, 3)
    ]


def test_async_tool_on_the_loop_reports_from_the_loop_thread(loop):
    notifier = Notifier()
    done = threading.Event()
    outcome: list[tuple[int, str]] = []

    def completion(status: int, text: str) -> None:
        outcome.append((status, text))
        done.set()

    make_server().dispatcher(loop=loop).call(
        "tools/call", "count_async", '{"steps": 2}', '{"progressToken": 5}', completion, "", progress=notifier)
    assert done.wait(5)
    assert outcome[0][0] == 0
    assert notifier.params == [{"progressToken": 5, "progress": 1, "total": 2},
                               {"progressToken": 5, "progress": 2, "total": 2}]
    assert set(notifier.threads) == {"test-loop"}


def test_without_a_notifier_nothing_is_reported():
    status, text = make_server().dispatcher().call(
        "tools/call", "count_sync", '{"steps": 2}', '{"progressToken": "abc"}', None)
    assert (status, json.loads(text)["content"][0]["text"]) == (0, "counted")


def test_a_notifier_without_a_token_in_meta_is_not_used():
    notifier = Notifier()
    make_server().dispatcher().call("tools/call", "count_sync", '{"steps": 2}', "{}", None, "", progress=notifier)
    assert notifier.params == []


def test_an_undelivered_report_does_not_disturb_the_tool():
    notifier = Notifier(delivered=False)
    status, text = make_server().dispatcher().call(
        "tools/call", "count_sync", '{"steps": 2}', '{"progressToken": 1}', None, "", progress=notifier)
    assert json.loads(text)["content"][0]["text"] == "counted"
    assert len(notifier.params) == 2


def test_invalid_progress_is_the_tools_error():
    _, text = make_server().dispatcher().call(
        "tools/call", "bad_progress", "{}", '{"progressToken": 1}', None, "", progress=Notifier())
    result = json.loads(text)
    assert result["isError"] is True
    assert result["_meta"]["io.sandgate/error"]["type"] == "InvalidProgress"


# --- The Dispatcher, sandboxed (the runner faked) ---------------------------------------------


class FakeRunner:
    """Plays a sandboxed child: its progress frames go to the `relay` callback the Dispatcher passed."""

    def __init__(self, frames: list[Any]) -> None:
        self.frames = frames
        self.requests: list[dict[str, Any]] = []
        self.callbacks: list[Any] = []

    async def run(self, request: dict[str, Any], limits: Sandbox, *, relay: Any = None) -> tuple[int, str]:
        self.requests.append(request)
        self.callbacks.append(relay)
        if relay is not None:
            for frame in self.frames:
                relay({"progress": frame})
        return 0, '{"content":[]}'


# The tools are trusted ("none"); this plan sends them to the (fake) sandbox as the core would a per_call one.
PER_CALL = ("per_call", *(getattr(Sandbox(), field) for field in PLAN_LIMITS))


def sandboxed_call(loop: asyncio.AbstractEventLoop, tool: str, meta: str,
                   notifier: Notifier | None, frames: list[Any]) -> FakeRunner:
    server = make_server()
    runner = FakeRunner(frames)
    dispatcher = Dispatcher(server.registry, loop=loop, runner=runner)  # type: ignore[arg-type]
    done = threading.Event()
    dispatcher.call("tools/call", tool, '{"steps": 1}', meta, lambda *_: done.set(), "",
                    PER_CALL, progress=notifier)
    assert done.wait(5)
    return runner


def test_sandboxed_tool_asks_the_child_for_progress_and_forwards_checked_frames(loop):
    notifier = Notifier()
    frames = [{"progress": 1, "total": 2}, {"progress": "x"}, {"progress": 2, "total": 2, "message": "done"}]
    runner = sandboxed_call(loop, "count_sync", '{"progressToken": "sb"}', notifier, frames)
    assert runner.requests[0]["progress"] is True
    assert notifier.params == [{"progressToken": "sb", "progress": 1, "total": 2},
                               {"progressToken": "sb", "progress": 2, "total": 2, "message": "done"}]


@pytest.mark.parametrize(("tool", "meta", "with_notifier"), [
    ("count_sync", '{"progressToken": "sb"}', False),  # the client sent no token: the core gave no notifier
    ("count_sync", "{}", True),
    ("no_context", '{"progressToken": "sb"}', True),  # nothing in the tool could report
])
def test_sandboxed_calls_that_cannot_report_do_not_ask_for_it(loop, tool, meta, with_notifier):
    notifier = Notifier()
    runner = sandboxed_call(loop, tool, meta, notifier if with_notifier else None, [{"progress": 1}])
    assert "progress" not in runner.requests[0]
    assert runner.callbacks == [None]
    assert notifier.params == []
