"""Handlers that log to their client, for test_client_logging.py: `sandgate serve servers/client_logging.py`.

`chatter` sends one message of each of four levels (with a logger name and `extra`) and answers, in
each way a handler can run: a coroutine and a function in-process, sandboxed per call, on a
per_session worker. A resource and a prompt log too. The per-call bound is small (MAX_LOG) so a test
can go past it.
"""

from __future__ import annotations

from sandgate import Context, MCPServer

MAX_LOG = 4

server = MCPServer("sandgate-client-logging", version="1.0.0", max_log_notifications=MAX_LOG)


async def chatter_async(ctx: Context, label: str = "x") -> str:
    """Log at debug, info, warning and error from a coroutine."""
    await ctx.debug(f"debug {label}")
    await ctx.info(f"info {label}", logger_name="app", extra={"step": 1})
    await ctx.warning(f"warning {label}")
    await ctx.error(f"error {label}", extra={"code": 7})
    return f"logged {label}"


def chatter(ctx: Context, label: str = "x") -> str:
    """Log at debug, info, warning and error from a function (no await needed)."""
    ctx.debug(f"debug {label}")
    ctx.info(f"info {label}", logger_name="app", extra={"step": 1})
    ctx.warning(f"warning {label}")
    ctx.error(f"error {label}", extra={"code": 7})
    return f"logged {label}"


server.tool(chatter_async, name="chatter_async", isolation="none")
server.tool(chatter, name="chatter_sync", isolation="none")
server.tool(chatter, name="chatter_sandboxed")
server.tool(chatter, name="chatter_per_session", isolation="per_session")


@server.tool
def many(count: int, ctx: Context) -> str:
    """`count` info messages from a sandboxed call."""
    for index in range(count):
        ctx.log(f"message {index}", level="notice")
    return f"{count} messages"


@server.tool
def bad_level(ctx: Context) -> str:
    """A level no client knows: the tool's error, nothing sent."""
    ctx.log("too loud", level="shout")  # type: ignore[arg-type]
    return "unreachable"


@server.resource("log://note", mime_type="text/plain")
def note(ctx: Context) -> str:
    ctx.info("reading the note")
    return "the note"


@server.prompt
def greet(name: str, ctx: Context) -> str:
    ctx.warning(f"greeting {name}")
    return f"Hello, {name}"
