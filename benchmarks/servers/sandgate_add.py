"""Sandgate: the `add` tool over Streamable HTTP.

Usage:
    python sandgate_add.py PORT
    python -m sandgate serve benchmarks/servers/sandgate_add.py --transport stdio

Prints `Sandgate <ver> serving MCP at http://127.0.0.1:PORT/mcp` to stderr once listening.
The tool runs in-process (`isolation="none"`): this compares framework overhead with the peers,
which have no sandbox; run_sandbox.py measures the sandboxed modes.
"""

import sys

from sandgate import MCPServer

server = MCPServer("bench")


@server.tool(isolation="none")
def add(a: int, b: int) -> int:
    return a + b


if __name__ == "__main__":
    server.run(transport="http", host="127.0.0.1", port=int(sys.argv[1]))
