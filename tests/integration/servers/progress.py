"""Tools that report progress, for test_progress.py: `sandgate serve servers/progress.py`.

`steps_*` report `count` steps ("step i", i of `count`) and then answer, in each way a tool can
run: a coroutine and a function in-process, sandboxed per call, on a per_session worker. The
per-call bound is small (MAX_PROGRESS) so a test can go past it. `endless` reports until its
call is cancelled and says on stderr when it starts and when it is cancelled, so it runs
in-process (a sandboxed call's stderr does not reach the gateway's).
"""

from __future__ import annotations

import asyncio
import sys
import time

from sandgate import Context, MCPServer

MAX_PROGRESS = 5

server = MCPServer("sandgate-progress", version="1.0.0", max_progress_notifications=MAX_PROGRESS)


@server.tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool(isolation="none")
async def steps_async(count: int, ctx: Context, delay_s: float = 0.0) -> str:
    """Report `count` steps from a coroutine in the gateway."""
    for step in range(1, count + 1):
        await ctx.report_progress(step, count, f"step {step}")
        await asyncio.sleep(delay_s)
    return f"{count} steps"


def steps(count: int, ctx: Context, delay_s: float = 0.0) -> str:
    """Report `count` steps from a function (no await needed)."""
    for step in range(1, count + 1):
        ctx.report_progress(step, count, f"step {step}")
        time.sleep(delay_s)
    return f"{count} steps"


# The same function in the gateway, in a sandboxed child per call, and on a session's worker.
server.tool(steps, name="steps_sync", isolation="none")
server.tool(steps, name="steps_sandboxed")
server.tool(steps, name="steps_per_session", isolation="per_session")


@server.tool(isolation="none")
async def endless(label: str, ctx: Context) -> str:
    """Report progress until cancelled."""
    print(f"endless started: {label}", file=sys.stderr, flush=True)
    step = 0
    try:
        while True:
            step += 1
            await ctx.report_progress(step, message=label)
            await asyncio.sleep(0.02)
    except asyncio.CancelledError:
        print(f"endless cancelled: {label}", file=sys.stderr, flush=True)
        raise


@server.tool
def endless_sandboxed(ctx: Context) -> str:
    """Report progress from a sandboxed child until it is killed."""
    step = 0
    while True:
        step += 1
        ctx.report_progress(step)
        time.sleep(0.02)
