"""Sandgate: the `add` tool under one isolation mode, chosen by SANDGATE_BENCH_ISOLATION.

Usage:
    SANDGATE_BENCH_ISOLATION=none|per_call|per_session \
        python -m sandgate serve benchmarks/servers/sandgate_isolation.py --port PORT

`per_call` (the default, as for a bare `@server.tool`) leaves `isolation` unset.
The sandbox's zygote imports this file too, without the gateway's environment; it
runs `add` in-process for whichever call it is handed, so its default does not matter.
"""

import os

from sandgate import MCPServer

ISOLATION = os.environ.get("SANDGATE_BENCH_ISOLATION", "per_call")

server = MCPServer("bench-isolation")


def add(a: int, b: int) -> int:
    return a + b


if ISOLATION == "per_call":
    server.tool(add)
else:
    server.tool(add, isolation=ISOLATION)
