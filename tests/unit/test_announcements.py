"""Resource updates and list changes a handler announces: the Context's checks, the per-call bound, and a
sandboxed child's frames checked again by the gateway (the child is untrusted)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from mcp.types import (
    ElicitCompleteNotification, ElicitCompleteNotificationParams, LoggingMessageNotification,
    LoggingMessageNotificationParams, PromptListChangedNotification, ResourceUpdatedNotification,
    ResourceUpdatedNotificationParams, ToolListChangedNotification,
)

from sandgate import Context, InvalidAnnouncement, MCPServer
from sandgate.announcements import Announcer, check, forward_untrusted, of_notification
from sandgate.outbound import Outbound, relay
from sandgate.sandbox.replies import parse_frame


class Hub:
    """Stands in for the core's: keeps what was announced, refuses what the core would."""

    def __init__(self) -> None:
        self.announced: list[tuple[str, str]] = []
        self.sessions: list[str] = []
        self.dropped = 0

    def announce(self, kind: str, uri: str = "", session: str = "") -> int:
        self.announced.append((kind, uri))
        self.sessions.append(session)
        return 1

    def drop_over_limit(self) -> None:
        self.dropped += 1


class Recorded:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def __call__(self, kind: str, uri: str) -> bool:
        self.sent.append((kind, uri))
        return True


def test_context_announces_as_a_function_or_a_coroutine():
    sent = Recorded()
    ctx = Context(announce=sent)
    ctx.notify_resource_updated("note://a")
    ctx.notify_list_changed("prompts")

    async def handler() -> None:
        await ctx.notify_list_changed("tools")
        await ctx.send_notification(ResourceUpdatedNotification(params=ResourceUpdatedNotificationParams(uri="x://y")))
        await ctx.send_notification(ToolListChangedNotification())
        await ctx.send_notification(PromptListChangedNotification())

    asyncio.run(handler())
    assert sent.sent == [("resource_updated", "note://a"), ("prompts_list_changed", ""),
                         ("tools_list_changed", ""), ("resource_updated", "x://y"), ("tools_list_changed", ""),
                         ("prompts_list_changed", "")]


def test_without_a_channel_announcing_checks_and_sends_nothing():
    ctx = Context()
    ctx.notify_resource_updated("note://a")
    with pytest.raises(InvalidAnnouncement):
        ctx.notify_resource_updated("")


@pytest.mark.parametrize("bad", ["", None, 7, "u" * 2049])
def test_a_resource_update_needs_a_uri(bad: Any):
    sent = Recorded()
    with pytest.raises(InvalidAnnouncement, match="URI"):
        Context(announce=sent).notify_resource_updated(bad)
    assert sent.sent == []


def test_only_the_four_changes_may_be_announced():
    ctx = Context(announce=Recorded())
    with pytest.raises(InvalidAnnouncement, match="no list named"):
        ctx.notify_list_changed("roots")
    with pytest.raises(InvalidAnnouncement, match="cannot send 'notifications/message'"):
        ctx.send_notification(LoggingMessageNotification(params=LoggingMessageNotificationParams(level="info",
                                                                                                   data="x")))
    with pytest.raises(InvalidAnnouncement):
        check("tools/list_changed", "")
    assert check("resources_list_changed", "ignored") == ("resources_list_changed", "")
    assert of_notification(ToolListChangedNotification()) == ("tools_list_changed", "")


def test_a_call_announces_at_most_its_bound_and_the_rest_is_counted():
    hub = Hub()
    announcer = Announcer(hub, 2)
    assert [announcer("tools_list_changed"), announcer("resource_updated", "a://b"), announcer("tools_list_changed")] \
        == [True, True, False]
    assert hub.announced == [("tools_list_changed", ""), ("resource_updated", "a://b")]
    assert hub.dropped == 1


@pytest.mark.parametrize("frame", [
    "resource_updated", ["resource_updated"], {"kind": "resource_updated"}, {"kind": "resource_updated", "uri": 1},
    {"kind": "resource_updated", "uri": ""}, {"kind": "tools/call"}, {"uri": "a://b"},
])
def test_a_childs_malformed_frame_is_dropped(frame: Any):
    sent = Recorded()
    assert forward_untrusted(sent, frame) is False
    assert sent.sent == []


def test_the_relay_hands_announce_frames_to_the_calls_announcer():
    sent = Recorded()
    forward = relay({}, Outbound(announce=sent))
    assert forward is not None and forward.wants == {"announce": True}
    frame = parse_frame(b'{"announce":{"kind":"resource_updated","uri":"note://a"}}')
    assert forward(frame) is True
    assert forward(parse_frame(b'{"announce":{"kind":"resource_updated","uri":""}}')) is False
    assert sent.sent == [("resource_updated", "note://a")]
    assert relay({}, Outbound()) is None  # nothing to relay


def test_only_handlers_that_take_a_context_get_an_announcer():
    server = MCPServer("announcing", max_announcements_per_call=1)

    @server.tool
    def touch(uri: str, ctx: Context) -> str:
        ctx.notify_resource_updated(uri)
        ctx.notify_resource_updated(uri)  # over the bound of 1
        return "touched"

    @server.tool
    def plain() -> str:
        return "plain"

    hub = Hub()
    dispatcher = server.dispatcher()
    dispatcher.attach_announcements(hub)
    assert dispatcher.call("tools/call", "touch", '{"uri":"note://a"}', "{}", lambda *a: None)[0] == 0
    assert dispatcher.call("tools/call", "touch", '{"uri":"note://b"}', "{}", lambda *a: None)[0] == 0
    assert dispatcher.call("tools/call", "plain", "{}", "{}", lambda *a: None)[0] == 0
    assert hub.announced == [("resource_updated", "note://a"), ("resource_updated", "note://b")]  # one per call
    assert hub.dropped == 2
    dispatcher.announce_list_changed("tools")  # the server's own: no per-call bound
    assert hub.announced[-1] == ("tools_list_changed", "")


def test_a_completed_url_elicitation_is_told_to_the_calls_own_session():
    hub = Hub()
    ctx = Context(announce=Announcer(hub, 5, "session-1"))
    ctx.notify_elicitation_complete("auth-1")
    assert (hub.announced, hub.sessions) == ([("elicitation_complete", "auth-1")], ["session-1"])
    with pytest.raises(InvalidAnnouncement, match="elicitation needs its id"):
        ctx.notify_elicitation_complete("")
    assert of_notification(ElicitCompleteNotification(params=ElicitCompleteNotificationParams(elicitation_id="e"))) \
        == ("elicitation_complete", "e")
