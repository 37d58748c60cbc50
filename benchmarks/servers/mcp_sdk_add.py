"""Official MCP Python SDK peer (`mcp` 2.x MCPServer): the `add` tool.

Usage:
    python mcp_sdk_add.py PORT     # streamable HTTP, SDK defaults (stateful, SSE answers)
    python mcp_sdk_add.py stdio
"""

import sys

from mcp.server.mcpserver import MCPServer

# WARNING silences uvicorn's per-request access log; transport settings stay default.
server = MCPServer("bench", log_level="WARNING")


@server.tool()
def add(a: int, b: int) -> int:
    return a + b


def main(argv: list[str]) -> None:
    if argv[1] == "stdio":
        server.run(transport="stdio")
        return
    server.run(transport="streamable-http", host="127.0.0.1", port=int(argv[1]))


if __name__ == "__main__":
    main(sys.argv)
