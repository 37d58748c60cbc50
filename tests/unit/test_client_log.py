"""Log messages to the client: a Context's checks, the params it sends, and a sandboxed child's frames
checked again by the gateway (the child is untrusted)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from sandgate import Context, InvalidLogMessage
from sandgate.client_log import LEVELS, forward_untrusted, params_json
from sandgate.outbound import Outbound, relay


class Recorded:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, level: str, params: str) -> bool:
        self.sent.append((level, json.loads(params)))
        return True


def test_context_logs_as_fastmcp_does_in_sync_and_async_handlers():
    sink = Recorded()
    ctx = Context(log_sink=sink)
    ctx.debug("d")
    ctx.info("i", logger_name="app", extra={"k": [1, 2]})
    asyncio.run(_awaited(ctx))
    ctx.log("plain")
    assert sink.sent == [
        ("debug", {"level": "debug", "data": {"msg": "d"}}),
        ("info", {"level": "info", "logger": "app", "data": {"msg": "i", "extra": {"k": [1, 2]}}}),
        ("warning", {"level": "warning", "data": {"msg": "w"}}),
        ("error", {"level": "error", "data": {"msg": "e"}}),
        ("notice", {"level": "notice", "data": {"msg": "n"}}),
        ("info", {"level": "info", "data": {"msg": "plain"}}),
    ]


async def _awaited(ctx: Context) -> None:
    await ctx.warning("w")
    await ctx.error("e")
    await ctx.log("n", level="notice")


def test_without_a_sink_a_context_checks_and_sends_nothing():
    ctx = Context()
    ctx.info("nobody asked")
    with pytest.raises(InvalidLogMessage):
        ctx.log("x", level="loud")  # type: ignore[arg-type]


@pytest.mark.parametrize(("call", "needle"), [
    (lambda ctx: ctx.log("x", level="WARNING"), "log level"),
    (lambda ctx: ctx.info(42), "must be a string"),
    (lambda ctx: ctx.info("x", logger_name=7), "logger name"),
])
def test_what_cannot_be_sent_is_refused_by_name(call, needle: str):
    sink = Recorded()
    with pytest.raises(InvalidLogMessage, match=needle):
        call(Context(log_sink=sink))
    assert sink.sent == []


def test_data_json_cannot_hold_is_sent_as_text_or_null():
    params = json.loads(params_json("info", {"nan": float("nan"), "set": {1}}))
    assert params["data"]["nan"] is None
    assert params["data"]["set"] == [1]


@pytest.mark.parametrize("frame", [
    None, [], "info", {"level": "info"},  # not a message, or no data
    {"level": "shout", "data": 1}, {"level": 3, "data": 1}, {"level": None, "data": 1},
    {"level": "info", "data": 1, "logger": 5},
    {"level": "info", "data": 1, "id": 9},  # a key no log message has
    {"level": "info", "data": 1, "method": "sampling/createMessage"},
])
def test_a_childs_malformed_log_frame_is_dropped(frame: Any):
    sink = Recorded()
    assert forward_untrusted(sink, frame) is False
    assert sink.sent == []


def test_a_childs_well_formed_log_frame_is_sent_as_checked_params():
    sink = Recorded()
    assert forward_untrusted(sink, {"level": "alert", "data": {"msg": "m"}, "logger": "l"}) is True
    assert sink.sent == [("alert", {"level": "alert", "logger": "l", "data": {"msg": "m"}})]


def test_the_relay_forwards_only_what_the_client_asked_for():
    log = Recorded()
    only_log = relay({}, Outbound(progress=None, log=log))
    assert only_log.wants == {"log": True}
    assert only_log({"progress": {"progress": 1}}) is False  # no progress token: not the client's wish
    assert only_log({"log_message": {"level": "info", "data": "x"}}) is True
    assert log.sent == [("info", {"level": "info", "data": "x"})]
    progress: list[str] = []
    only_progress = relay({"progressToken": "t"}, Outbound(progress=progress.append, log=None))
    assert only_progress.wants == {"progress": True}
    assert only_progress({"log_message": {"level": "info", "data": "x"}}) is False
    assert only_progress({"progress": {"progress": 1}}) is True
    assert json.loads(progress[0]) == {"progressToken": "t", "progress": 1}
    assert relay({}, Outbound(progress=progress.append, log=None)) is None  # a notifier but no token


def test_the_eight_levels_are_the_specifications():
    assert LEVELS == ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
