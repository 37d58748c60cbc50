"""A gateway that forks each call's child on demand only (`prespawned_children=0`)."""

from __future__ import annotations

from sandgate import MCPServer

server = MCPServer("sandgate-no-prespawn", version="1.0.0", prespawned_children=0)


@server.tool
def add(a: int, b: int) -> int:
    return a + b
