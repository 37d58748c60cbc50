"""Sandbox limits: size parsing, validation, and per-tool overrides of server defaults."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sandgate import ConfigError, MCPServer, Sandbox
from sandgate.sandbox.limits import parse_size


@pytest.mark.parametrize(("text", "expected"), [
    ("4096", 4096), ("64Ki", 64 * 1024), ("256Mi", 256 * 1024**2), ("1Gi", 1024**3),
    ("2M", 2_000_000), ("10kB", 10_000), (" 8 Mi ", 8 * 1024**2), (123, 123),
])
def test_sizes_parse(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "Mi", "1.5Gi", "-1Mi", "12 apples", "1Ti"])
def test_bad_sizes_are_rejected(text):
    with pytest.raises((ValueError, ValidationError)):
        Sandbox(memory=text)


@pytest.mark.parametrize(("field", "value"), [
    ("wall_time", 0), ("wall_time", -1), ("cpu_time", float("inf")), ("max_processes", 0),
    ("max_open_files", 8), ("memory", 0), ("unknown_limit", 1),
])
def test_out_of_range_limits_are_rejected(field, value):
    with pytest.raises(ValidationError):
        Sandbox(**{field: value})


def test_tool_limits_override_server_defaults_field_by_field():
    server = MCPServer("limits", sandbox=Sandbox(wall_time=5, memory="128Mi"))

    @server.tool(sandbox=Sandbox(wall_time=1))
    def quick() -> str:
        return "ok"

    @server.tool
    def plain() -> str:
        return "ok"

    @server.tool(isolation="none")
    def trusted() -> str:
        return "ok"

    plan = server.sandbox_plan()
    assert plan["quick"][0] == "per_call"
    assert (plan["quick"][1].wall_time, plan["quick"][1].memory) == (1.0, 128 * 1024**2)
    assert (plan["plain"][1].wall_time, plan["plain"][1].memory) == (5.0, 128 * 1024**2)
    assert plan["trusted"][0] == "none"
    assert server.needs_sandbox


def test_sandboxed_by_default_and_trusted_only_on_request():
    server = MCPServer("defaults")

    @server.tool
    def f() -> str:
        return "ok"

    assert server.sandbox_plan()["f"][0] == "per_call"
    assert not MCPServer("all-trusted", isolation="none").needs_sandbox


def test_unknown_isolation_is_a_config_error():
    with pytest.raises(ConfigError):
        MCPServer("bad", isolation="sometimes")
    server = MCPServer("bad-tool")
    with pytest.raises(ConfigError):
        server.tool(isolation="never")(lambda: "x")


def test_native_limits_round_cpu_time_up():
    native = Sandbox(cpu_time=1.2, memory="64Mi", max_processes=3).native()
    assert native == {"address_space": 64 * 1024**2, "cpu_seconds": 2, "open_files": 256,
                      "processes": 3, "file_size": 64 * 1024**2}
