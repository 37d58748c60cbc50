"""The native server's worker threads keep a Python thread state for life: the interpreter must
still exit cleanly whether or not the server was shut down first."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

PROGRAM = textwrap.dedent("""
    import json, sys, urllib.request
    from sandgate import MCPServer, _core
    from sandgate.serve import core_settings
    from sandgate.settings import ServerSettings

    server = MCPServer("exit-check")

    @server.tool(isolation="none")
    def add(a: int, b: int) -> int:
        return a + b

    settings = ServerSettings(port=0, python_workers=2)
    http = _core.HttpServer(core_settings(_core, server, settings), server.dispatcher(), server.sandbox_grant())
    port = http.start()
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"}}}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/mcp", body, {
        "Content-Type": "application/json", "Accept": "application/json, text/event-stream"})
    session = urllib.request.urlopen(request, timeout=10).headers["Mcp-Session-Id"]
    for i in range(20):  # calls, so the workers have run Python
        call = json.dumps({"jsonrpc": "2.0", "id": i + 2, "method": "tools/call",
                           "params": {"name": "add", "arguments": {"a": i, "b": 1}}}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/mcp", call, {
            "Content-Type": "application/json", "Accept": "application/json, text/event-stream",
            "Mcp-Session-Id": session, "MCP-Protocol-Version": "2025-11-25"})
        answer = json.loads(urllib.request.urlopen(request, timeout=10).read())
        assert answer["result"]["structuredContent"]["result"] == i + 1, answer
    if sys.argv[1] == "shutdown":
        http.shutdown()
    print("served")
""")


@pytest.mark.parametrize("ending", ["shutdown", "exit"])
def test_the_interpreter_exits_cleanly_after_serving(ending: str) -> None:
    done = subprocess.run([sys.executable, "-c", PROGRAM, ending], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "served"
