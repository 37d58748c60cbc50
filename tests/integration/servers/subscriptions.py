"""A module whose tools change and read resources and lists, for test_subscriptions.py: `sandgate serve
servers/subscriptions.py`.

`touch` tells subscribers a resource changed, in each way a handler can run (in process, sandboxed per call,
on a per_session worker); `relist` announces a list change, and `flood` goes past the per-call bound
(MAX_ANNOUNCEMENTS). `read` reads a resource through ctx.read_resource; `where://here` says whether it runs in
the gateway (whose environment has READ_PROBE, as the test sets it) or in the sandbox (whose environment never
has it). Served hosted (not trusted) too: then every handler runs in the sandbox.
"""

from __future__ import annotations

import os

from mcp.types import ResourceUpdatedNotification, ResourceUpdatedNotificationParams, ToolListChangedNotification

from sandgate import Context, MCPServer

MAX_ANNOUNCEMENTS = 3

server = MCPServer("sandgate-subscriptions", version="1.0.0", max_announcements_per_call=MAX_ANNOUNCEMENTS)
NOTES = {"a": "note a", "b": "note b"}
READ_PROBE = "SANDGATE_READ_PROBE"


@server.resource("note://a", mime_type="text/plain")
def note_a() -> str:
    return NOTES["a"]


@server.resource("note://b", mime_type="text/plain")
def note_b() -> str:
    return NOTES["b"]


async def touch(uri: str, ctx: Context) -> str:
    """Announce that `uri` changed."""
    await ctx.notify_resource_updated(uri)
    return f"touched {uri}"


server.tool(touch, name="touch_in_process", isolation="none")
server.tool(touch, name="touch_sandboxed")
server.tool(touch, name="touch_per_session", isolation="per_session")


@server.tool
async def touch_fastmcp_style(uri: str, ctx: Context) -> str:
    """fastmcp's way: send the mcp.types notification."""
    await ctx.send_notification(ResourceUpdatedNotification(params=ResourceUpdatedNotificationParams(uri=uri)))
    return f"touched {uri}"


@server.tool
async def relist(kind: str, ctx: Context) -> str:
    """Announce that the `kind` list ("tools", "prompts", "resources") changed."""
    if kind == "tools":
        await ctx.send_notification(ToolListChangedNotification())
    else:
        await ctx.notify_list_changed(kind)
    return f"relisted {kind}"


def flood(uri: str, count: int, ctx: Context) -> str:
    """`count` updates of `uri`: only MAX_ANNOUNCEMENTS go out."""
    for _ in range(count):
        ctx.notify_resource_updated(uri)
    return f"flooded {count}"


server.tool(flood, name="flood")
server.tool(flood, name="flood_in_process", isolation="none")


@server.tool
def bad_uri(ctx: Context) -> str:
    """An empty URI is the handler's own error; nothing is sent."""
    ctx.notify_resource_updated("")
    return "unreachable"


@server.resource("where://here", mime_type="text/plain")
def where() -> str:
    return "gateway" if READ_PROBE in os.environ else "sandbox"


@server.resource("note://shelf/{name}", mime_type="text/plain")
def shelf(name: str) -> str:
    return f"shelved {name}"


@server.resource("blob://one", mime_type="application/octet-stream")
def blob() -> bytes:
    return b"\x00\x01"


async def read(uri: str, ctx: Context) -> str:
    """Read `uri` through ctx.read_resource: its first item, with its MIME type."""
    result = await ctx.read_resource(uri)
    first = result.contents[0]
    return f"{first.mime_type}: {first.content!r}"


server.tool(read, name="read_in_process", isolation="none")
server.tool(read, name="read_sandboxed")


def session(ctx: Context) -> str:
    """The call's ctx.session_id."""
    return ctx.session_id


server.tool(session, name="session_in_process", isolation="none")
server.tool(session, name="session_sandboxed")
