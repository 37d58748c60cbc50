"""The gateway hosts a module without importing it: the real zygote imports it, confined, and the
gateway's own interpreter never sees a line of it."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
import threading
from pathlib import Path

from sandgate import serve
from sandgate.policy.reload import PolicyFile
from sandgate.settings import ServerSettings

REPO = Path(__file__).resolve().parents[2]
MODULE = """
import sys
from sandgate import MCPServer

sys.modules["sandgate_hosting_probe_{token}"] = sys  # a side effect any importing interpreter would keep

server = MCPServer("hosting-probe", version="3.1", instructions="probe")


@server.tool
def add(a: int, b: int) -> int:
    return a + b


@server.prompt
def greet(name: str) -> str:
    return f"Hello {{name}}"
"""


def test_the_gateway_never_imports_a_hosted_module(token: str) -> None:
    directory = REPO / "build" / "hosting-tests" / token
    directory.mkdir(parents=True)
    module = directory / f"hosted_probe_{token}.py"
    module.write_text(textwrap.dedent(MODULE.format(token=token)))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        source = serve.hosted(str(module))
        default = PolicyFile.embedded_default().current
        assert default is not None
        served = asyncio.run_coroutine_threadsafe(
            source(loop, ServerSettings(prespawned_children=0), default), loop).result(60)
        identity, dispatcher, grant, runner = served.identity, served.dispatcher, served.grant, served.runner
        assert runner is not None
        try:
            assert (identity.name, identity.version, identity.instructions) == ("hosting-probe", "3.1", "probe")
            assert identity.tool_names == {"add"}
            done: list[tuple[int, str, str]] = []
            finished = threading.Event()
            pending = dispatcher.call("tools/call", "add", '{"a": 2, "b": 3}', "{}",
                                      lambda status, body, facts: (done.append((status, body, facts)),
                                                                   finished.set()),
                                      "", grant.tool("add"))
            assert not isinstance(pending, tuple) and finished.wait(30)
            status, body, facts = done[0]
            assert status == 0 and json.loads(body)["structuredContent"] == {"result": 5}
            assert json.loads(facts)["isolation"] == "per_call"
            prompts = json.loads(dispatcher.catalog_json())["prompts"]
            assert [prompt["name"] for prompt in prompts] == ["greet"]
        finally:
            asyncio.run_coroutine_threadsafe(runner.close(), loop).result(30)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
    leaked = [name for name, value in sys.modules.items()
              if token in name or str(module) == getattr(value, "__file__", None)]
    assert leaked == [], f"the gateway's interpreter imported the hosted module: {leaked}"
