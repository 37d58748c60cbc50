"""A module whose tools change resources and lists, for test_subscriptions.py: `sandgate serve
servers/subscriptions.py`.

`touch` tells subscribers a resource changed, in each way a handler can run (in process, sandboxed per call,
on a per_session worker); `relist` announces a list change, and `flood` goes past the per-call bound
(MAX_ANNOUNCEMENTS). Served hosted (not trusted) too: then every handler runs in the sandbox.
"""

from __future__ import annotations

from mcp.types import ResourceUpdatedNotification, ResourceUpdatedNotificationParams, ToolListChangedNotification

from sandgate import Context, MCPServer

MAX_ANNOUNCEMENTS = 3

server = MCPServer("sandgate-subscriptions", version="1.0.0", max_announcements_per_call=MAX_ANNOUNCEMENTS)
NOTES = {"a": "note a", "b": "note b"}


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


@server.tool
def flood(uri: str, count: int, ctx: Context) -> str:
    """`count` updates of `uri`: only MAX_ANNOUNCEMENTS go out."""
    for _ in range(count):
        ctx.notify_resource_updated(uri)
    return f"flooded {count}"


@server.tool
def bad_uri(ctx: Context) -> str:
    """An empty URI is the handler's own error; nothing is sent."""
    ctx.notify_resource_updated("")
    return "unreachable"
