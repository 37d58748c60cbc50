"""fastmcp peer: the `add` tool over Streamable HTTP (or stdio).

Usage:
    python fastmcp_add.py PORT            # fastmcp defaults (stateful, SSE answers)
    python fastmcp_add.py PORT --tuned    # stateless_http=True, json_response=True
    python fastmcp_add.py stdio
"""

import sys

from fastmcp import FastMCP

mcp = FastMCP("bench")


@mcp.tool
def add(a: int, b: int) -> int:
    return a + b


def main(argv: list[str]) -> None:
    if argv[1] == "stdio":
        mcp.run(transport="stdio", show_banner=False, log_level="WARNING")
        return
    tuned = "--tuned" in argv[2:]
    extra = {"stateless_http": True, "json_response": True} if tuned else {}
    mcp.run(
        transport="http",
        host="127.0.0.1",
        port=int(argv[1]),
        show_banner=False,
        log_level="WARNING",
        **extra,
    )


if __name__ == "__main__":
    main(sys.argv)
