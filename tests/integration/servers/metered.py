"""Tools whose every way of ending the metrics test counts: a result, a tool error, and each sandbox stop
(wall time, memory, a forbidden system call). Hosted: every call runs in a per-call sandbox."""

from __future__ import annotations

import os
import time

from sandgate import MCPServer, Sandbox

server = MCPServer("sandgate-metered", version="1.0.0")


@server.tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool
def fail(message: str) -> str:
    """Raise, so the call ends as a tool error."""
    raise ValueError(message)


@server.tool(sandbox=Sandbox(wall_time=1))
def sleepy() -> str:
    """Outlive the wall-time limit."""
    time.sleep(30)
    return "woke"


@server.tool(sandbox=Sandbox(memory="128Mi"))
def hog() -> str:
    """Outgrow the memory limit."""
    held = bytearray(1024 * 1024 * 1024)
    return str(len(held))


@server.tool
def run_shell() -> str:
    """Make a system call the sandbox forbids (execve)."""
    os.execv("/bin/sh", ["sh", "-c", "true"])
