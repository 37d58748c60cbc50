"""Sandgate: the `add` tool over Streamable HTTP.

Usage:
    python sandgate_add.py PORT
    python -m sandgate serve benchmarks/servers/sandgate_add.py --transport stdio

Prints `Sandgate <ver> serving MCP at http://127.0.0.1:PORT/mcp` to stderr once listening.
The tool runs in-process (`isolation="none"`): this compares framework overhead with the peers,
which have no sandbox; run_sandbox.py measures the sandboxed modes. It serves under the policy file
SANDGATE_BENCH_POLICY names, by default policies/open.yaml (every tool, a rate limit no run reaches), with
its audit log at SANDGATE_BENCH_AUDIT when that is set.
"""

import os
import sys
from pathlib import Path

from sandgate import MCPServer

server = MCPServer("bench")


@server.tool(isolation="none")
def add(a: int, b: int) -> int:
    return a + b


if __name__ == "__main__":
    default_policy = Path(__file__).resolve().parent.parent / "policies" / "open.yaml"
    audit = {"audit_log": os.environ["SANDGATE_BENCH_AUDIT"]} if "SANDGATE_BENCH_AUDIT" in os.environ else {}
    server.run(transport="http", host="127.0.0.1", port=int(sys.argv[1]),
               policy=os.environ.get("SANDGATE_BENCH_POLICY", str(default_policy)), **audit)
