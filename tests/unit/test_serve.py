"""run() against a stand-in for the native core: settings, banner, signals, event loops."""

from __future__ import annotations

import json
import os
import importlib
import signal
import sys
import threading
import types
from typing import Any

import pytest

import sandgate
from sandgate import Dispatcher, MCPServer, ServerSettings, serve

EXPECTED_CURL = (
    "curl -s http://127.0.0.1:8000/mcp -H 'Content-Type: application/json' "
    "-H 'Accept: application/json, text/event-stream' -H 'MCP-Protocol-Version: 2026-07-28' "
    "-H 'Mcp-Method: tools/call' -H 'Mcp-Name: add' -d '{\"jsonrpc\":\"2.0\",\"id\":1,"
    "\"method\":\"tools/call\",\"params\":{\"name\":\"add\",\"arguments\":{\"a\":2,\"b\":3},"
    "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
    "\"io.modelcontextprotocol/clientCapabilities\":{}}}}'"
)


def make_server() -> MCPServer:
    server = MCPServer("serve-test", version="9.9", instructions="Be nice", isolation="none")

    @server.tool
    def add(a: int, b: int) -> int:
        return a + b

    @server.tool
    async def shout(text: str) -> str:
        return text.upper()

    @server.tool
    def chatty() -> str:
        print("stray output")
        return "ok"

    return server


class FakeCore(types.ModuleType):
    """Records what the facade hands to the core and plays a client on start."""

    def __init__(self) -> None:
        super().__init__("sandgate._core")
        self.servers: list[Any] = []
        self.completions: list[tuple[int, str]] = []
        self.stdio_output: list[str] = []
        core = self

        class HttpServer:
            def __init__(self, settings, dispatcher, grant, counters=None, gate=None, audit=None) -> None:
                self.settings, self.dispatcher, self.grant, self.counters = settings, dispatcher, grant, counters
                self.gate = gate
                self.shutdowns = 0
                self.stopped = threading.Event()
                core.servers.append(self)

            def start(self) -> int:
                return 54321

            def shutdown(self) -> None:
                self.shutdowns += 1
                self.stopped.set()

            def wait(self) -> None:
                assert self.stopped.wait(10), "shutdown never came"

        self.HttpServer = HttpServer
        # Settings, counters, the policy and the grant are the core's own: what the fake servers are given is what
        # the core would use.
        real = importlib.import_module("sandgate._core")
        self.SandboxGrant, self.PolicyGate = real.SandboxGrant, real.PolicyGate
        self.Settings, self.Counters = real.Settings, real.Counters
        self.compile_tool_policy = real.compile_tool_policy

    def call_async_tool(self, dispatcher: Dispatcher) -> None:
        done = threading.Event()

        def complete(status: int, text: str) -> None:
            self.completions.append((status, text))
            done.set()

        pending = dispatcher.call("tools/call", "shout", '{"text":"hi"}', "{}", complete)
        assert hasattr(pending, "cancel")
        assert done.wait(5)

    def serve_stdio(self, settings, dispatcher, grant, counters=None, gate=None, api_key="", audit=None) -> None:
        self.stdio_settings, self.stdio_counters, self.stdio_gate = settings, counters, gate
        self.call_async_tool(dispatcher)
        self.stdio_output.append(dispatcher.call("tools/call", "chatty", "{}", "{}", None)[1])



@pytest.fixture
def core(monkeypatch) -> FakeCore:
    fake = FakeCore()
    monkeypatch.setitem(sys.modules, "sandgate._core", fake)
    monkeypatch.setattr(sandgate, "_core", fake, raising=False)
    return fake


def test_import_does_not_load_the_native_module():
    import subprocess

    code = "import sandgate, sys; print('sandgate._core' in sys.modules, sandgate.__version__)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                            check=True).stdout.split()
    assert output[0] == "False"
    assert output[1] == sandgate.__version__


def identity_of(server: MCPServer) -> serve.Identity:
    return serve.Identity(server.name, server.version, server.instructions,
                          frozenset(tool.name for tool in server.registry.tools))


def test_banner_curl_calls_add_in_the_modern_era():
    banner = serve.banner_text(identity_of(make_server()), "0.0.0.0", 8000)
    assert banner.splitlines() == ["MCP endpoint: http://127.0.0.1:8000/mcp", "Try it:", "  " + EXPECTED_CURL]


def test_banner_without_add_lists_tools():
    banner = serve.banner_text(identity_of(MCPServer("empty")), "127.0.0.1", 8000)
    assert "-H 'Mcp-Method: tools/list' -d '{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"" in banner
    assert "Mcp-Name" not in banner


@pytest.mark.parametrize(("host", "url"), [("127.0.0.1", "http://127.0.0.1:80/mcp"),
                                            ("::1", "http://[::1]:80/mcp")])
def test_endpoint_url(host, url):
    assert serve.endpoint_url(host, 80) == url


def test_core_settings_carry_every_field_and_identity(core):
    settings = ServerSettings(allowed_origins=["https://a.example"], port=0)
    native = serve.core_settings(core, make_server(), settings)
    for field in ServerSettings.model_fields.keys() - serve.SANDBOX_ONLY_SETTINGS - serve.PYTHON_ONLY_SETTINGS:
        expected = getattr(settings, field)
        assert getattr(native, field) == (list(expected) if isinstance(expected, tuple) else expected)
    assert (native.server_name, native.server_version, native.instructions) == ("serve-test", "9.9", "Be nice")
    assert serve.core_settings(core, MCPServer("x"), settings).instructions == ""
    assert serve.core_settings(core, MCPServer("x"), settings).server_version == sandgate.__version__


def test_http_run_serves_until_sigint(core, capsys):
    def client_then_interrupt() -> None:
        server = core.servers[0]
        core.call_async_tool(server.dispatcher)
        os.kill(os.getpid(), signal.SIGINT)

    original_start = core.HttpServer.start

    def start(self) -> int:
        threading.Thread(target=client_then_interrupt).start()
        return original_start(self)

    core.HttpServer.start = start
    make_server().run(transport="http", port=0, metrics=False)  # the metrics port: tests/integration/test_metrics.py
    [server] = core.servers
    assert server.shutdowns == 1
    assert isinstance(server.dispatcher, Dispatcher)
    assert core.completions == [(0, '{"content":[{"type":"text","text":"HI"}]}')]
    assert f"Sandgate {sandgate.__version__} serving MCP at http://127.0.0.1:54321/mcp" in \
        capsys.readouterr().err.splitlines()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_http_run_prints_banner_when_asked(core, capsys):
    core.HttpServer.start = lambda self: (self.stopped.set(), 8000)[1]
    make_server().run(transport="http", banner=True, metrics=False)
    assert EXPECTED_CURL in capsys.readouterr().err
    assert core.servers[0].shutdowns == 0  # the core stopped by itself


def test_stdio_run_keeps_stdout_for_the_protocol(core, capsys):
    make_server().run(transport="stdio")
    assert core.completions == [(0, '{"content":[{"type":"text","text":"HI"}]}')]
    assert json.loads(core.stdio_output[0])["content"][0]["text"] == "ok"
    captured = capsys.readouterr()
    assert "stray output" in captured.err
    assert captured.out == ""
    assert core.stdio_settings.server_name == "serve-test"
    # stdio counts into a registry of its own the caller holds, as HTTP does.
    assert isinstance(core.stdio_counters, core.Counters)
