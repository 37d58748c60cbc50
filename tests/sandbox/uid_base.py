"""Tools for the uid-range test: the operator gives the gateway its own range
(`sandgate serve uid_base.py --set call_uid_base=300000`), and the host checks the calls' uids."""

from __future__ import annotations

import ctypes
import os
import time

from sandgate import MCPServer

CALL_UID_BASE = 300_000
PR_SET_NAME = 15
_LIBC = ctypes.CDLL(None, use_errno=True)

server = MCPServer("sandgate-uid-base", version="1.0.0")


@server.tool
def ids() -> list[int]:
    """The call's ids inside the sandbox's user namespace."""
    return [os.getuid(), os.getgid()]


@server.tool
def hold(marker: str, seconds: float = 1.0) -> str:
    """Names the call so the host can read its uid, and waits."""
    _LIBC.prctl(PR_SET_NAME, ctypes.c_char_p(marker.encode()), 0, 0, 0)
    time.sleep(seconds)
    return "held"


@server.tool
def add(a: int, b: int) -> int:
    return a + b
