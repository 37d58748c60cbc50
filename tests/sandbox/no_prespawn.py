"""Tools served with `--set prespawned_children=0`: each call's child is forked on demand only."""

from __future__ import annotations

from sandgate import MCPServer

server = MCPServer("sandgate-no-prespawn", version="1.0.0")


@server.tool
def add(a: int, b: int) -> int:
    return a + b
