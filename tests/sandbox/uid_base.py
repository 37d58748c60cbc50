"""A gateway whose calls run in their own uid range (`call_uid_base`), for the uid-range test."""

from __future__ import annotations

import os

from sandgate import MCPServer

CALL_UID_BASE = 300_000

server = MCPServer("sandgate-uid-base", version="1.0.0", call_uid_base=CALL_UID_BASE)


@server.tool
def ids() -> list[int]:
    return [os.getuid(), os.getgid()]


@server.tool
def add(a: int, b: int) -> int:
    return a + b
