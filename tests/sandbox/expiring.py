"""A gateway whose legacy sessions expire after one idle second and that keeps at most one
per_session worker, for the session-expiry and worker-bound tests."""

from __future__ import annotations

import ctypes

from sandgate import MCPServer

PR_SET_NAME = 15
_LIBC = ctypes.CDLL(None, use_errno=True)

server = MCPServer("sandgate-expiring-sessions", version="1.0.0", session_idle_timeout_s=1.0,
                   max_session_workers=1)


@server.tool
def add(a: int, b: int) -> int:
    return a + b


@server.tool(isolation="per_session")
def linger(marker: str) -> str:
    """Names the session's worker so the host can see whether it is still alive."""
    _LIBC.prctl(PR_SET_NAME, ctypes.c_char_p(marker.encode()), 0, 0, 0)
    return "named"
