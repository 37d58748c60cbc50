"""Tools for the session-expiry and worker-bound tests, served with legacy sessions that expire
after one idle second and at most one per_session worker (the operator's `--set` options)."""

from __future__ import annotations

import ctypes

from sandgate import MCPServer

PR_SET_NAME = 15
_LIBC = ctypes.CDLL(None, use_errno=True)

server = MCPServer("sandgate-expiring-sessions", version="1.0.0")


@server.tool
def add(a: int, b: int) -> int:
    return a + b


@server.tool(isolation="per_session")
def linger(marker: str) -> str:
    """Names the session's worker so the host can see whether it is still alive."""
    _LIBC.prctl(PR_SET_NAME, ctypes.c_char_p(marker.encode()), 0, 0, 0)
    return "named"
