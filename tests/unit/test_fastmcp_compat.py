"""fastmcp call shapes accepted by sandgate.FastMCP."""

from __future__ import annotations

import json
import warnings

import pytest

from sandgate import ConfigError, FastMCP, FastMCPCompatibilityWarning, MCPServer, serve


@pytest.fixture
def runs(monkeypatch) -> list[tuple]:
    """Captures how run() would start the server instead of starting it."""
    calls: list[tuple] = []
    monkeypatch.setattr(serve, "serve_http", lambda server, settings, banner=False, policy=None:
                        calls.append(("http", settings.host, settings.port, banner)))
    monkeypatch.setattr(serve, "serve_stdio", lambda server, settings, policy=None: calls.append(("stdio",)))
    return calls


def test_constructor_shapes():
    assert FastMCP("positional").name == "positional"
    keyword = FastMCP(name="kw", instructions="Use carefully", version=2)
    assert (keyword.name, keyword.instructions, keyword.version) == ("kw", "Use carefully", "2")
    assert isinstance(keyword, MCPServer)
    assert FastMCP().name == "FastMCP"


def test_unknown_constructor_options_warn_and_settings_apply():
    with pytest.warns(FastMCPCompatibilityWarning, match="mask_error_details, on_duplicate"):
        server = FastMCP("x", on_duplicate="error", mask_error_details=True, port=9001)
    assert server.settings.port == 9001


def test_tool_decorator_shapes():
    mcp = FastMCP("shapes")

    @mcp.tool
    def bare(a: int) -> int:
        return a

    @mcp.tool()
    def called() -> str:
        return ""

    @mcp.tool("positional_name")
    def first() -> str:
        return ""

    @mcp.tool(name="keyword_name", description="Described")
    def second() -> str:
        return ""

    with pytest.warns(FastMCPCompatibilityWarning, match="tags"):
        @mcp.tool(tags={"math"}, annotations={"readOnlyHint": True})
        def tagged() -> str:
            return ""

    mcp.tool(lambda: "", name="direct")
    tools = json.loads(mcp.dispatcher().catalog_json())["tools"]
    assert [tool["name"] for tool in tools] == [
        "bare", "called", "positional_name", "keyword_name", "tagged", "direct"
    ]
    assert tools[3]["description"] == "Described"
    assert tools[4]["annotations"] == {"readOnlyHint": True}
    assert bare(4) == 4


def test_default_fastmcp_options_do_not_warn():
    mcp = FastMCP("quiet")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mcp.tool(lambda: "", name="t", run_in_thread=True, tags=None)


def test_resource_and_prompt_shapes():
    mcp = FastMCP("rp")

    @mcp.resource("data://{key}", mime_type="text/plain")
    def data(key: str) -> str:
        return key

    @mcp.prompt
    def bare_prompt(topic: str) -> str:
        return topic

    @mcp.prompt()
    def called_prompt() -> str:
        return ""

    @mcp.prompt("named_prompt")
    def third() -> str:
        return ""

    catalog = json.loads(mcp.dispatcher().catalog_json())
    assert catalog["resourceTemplates"][0]["uriTemplate"] == "data://{key}"
    assert [p["name"] for p in catalog["prompts"]] == ["bare_prompt", "called_prompt", "named_prompt"]


def test_run_defaults_to_stdio_like_fastmcp(runs):
    FastMCP("s").run()
    assert runs == [("stdio",)]


@pytest.mark.parametrize("transport", ["http", "streamable-http", "sse"])
def test_http_transports(runs, transport):
    FastMCP("h").run(transport=transport, host="0.0.0.0", port=9100)
    assert runs == [("http", "0.0.0.0", 9100, False)]


def test_run_rejects_unknown_transport_and_other_paths(runs):
    with pytest.raises(ConfigError, match="Unknown transport"):
        FastMCP("h").run(transport="websocket")
    with pytest.raises(ConfigError, match="/mcp only"):
        FastMCP("h").run(transport="http", path="/api")
    assert runs == []


def test_run_warns_about_ignored_options(runs):
    with pytest.warns(FastMCPCompatibilityWarning, match="log_level"):
        FastMCP("h").run(transport="http", log_level="DEBUG", path="/mcp")
    assert runs == [("http", "127.0.0.1", 8000, False)]
