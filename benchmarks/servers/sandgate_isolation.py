"""Sandgate: the `add` tool under one isolation mode, chosen by SANDGATE_BENCH_ISOLATION.

Usage:
    SANDGATE_BENCH_ISOLATION=none|per_call|per_session \
        python -m sandgate serve benchmarks/servers/sandgate_isolation.py --port PORT

`per_call` (the default, as for a bare `@server.tool`) leaves `isolation` unset, and is
served as any module is: the gateway never imports it. `none` and `per_session` need
`--trust`: the gateway imports this file to read the environment (the sandbox's zygote
imports it without the gateway's environment and runs `add` for whichever call it is handed).
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
