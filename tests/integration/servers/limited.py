"""A server with tight bounds, for the tests that hit them: `sandgate serve servers/limited.py`.

The CLI has no flags for limits, so they are MCPServer settings here. `slow_echo` writes a
line to stderr when it starts, returns or is cancelled, so a test can wait for a call to
reach that point instead of guessing how long it takes; it runs in-process
(`isolation="none"`) because a sandboxed call's stderr does not reach the gateway's.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated

from pydantic import Field

from sandgate import MCPServer

server = MCPServer(
    "sandgate-limited",
    version="1.0.0",
    max_body_bytes=1024,  # the smallest body limit settings accept
    max_header_bytes=2048,
    max_header_fields=24,
    read_timeout_s=1.0,
    shutdown_grace_s=5.0,
)


@server.tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool(isolation="none")
async def slow_echo(
    text: str,
    delay_s: Annotated[float, Field(ge=0, le=30, description="Seconds to wait")] = 1.0,
) -> str:
    """Echo the text back after a delay, reporting on stderr when it starts, ends or is cancelled."""
    print(f"slow_echo started: {text}", file=sys.stderr, flush=True)
    try:
        await asyncio.sleep(delay_s)
    except asyncio.CancelledError:
        print(f"slow_echo cancelled: {text}", file=sys.stderr, flush=True)
        raise
    print(f"slow_echo finished: {text}", file=sys.stderr, flush=True)
    return text
