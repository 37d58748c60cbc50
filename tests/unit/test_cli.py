"""The sandgate command: loading a server module by path and starting it."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

import sandgate
from sandgate import ConfigError, MCPServer, cli, serve
from sandgate.sandbox.trust import DEFAULT_CEILING
from sandgate.policy.serving import ceiling

MODULE = """
from sandgate import MCPServer

helper = MCPServer("helper")
server = MCPServer("main")
other = MCPServer("other")

@server.tool
def ping() -> str:
    return "pong"
"""


def write(tmp_path: Path, source: str, name: str = "served_tools.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return path


@pytest.fixture(autouse=True)
def isolated_imports(restore_imports):
    yield


def test_preferred_variable_name_wins(tmp_path):
    assert cli.load_server(str(write(tmp_path, MODULE))).name == "main"


def test_explicit_variable(tmp_path):
    assert cli.load_server(f"{write(tmp_path, MODULE)}:other").name == "other"


def test_first_instance_when_no_preferred_name(tmp_path):
    path = write(tmp_path, 'from sandgate import FastMCP\nfirst = FastMCP("first")\nsecond = FastMCP("second")\n')
    assert cli.load_server(str(path)).name == "first"


def test_postponed_annotations_resolve_in_the_module(tmp_path):
    path = write(tmp_path, """
        from __future__ import annotations
        from pydantic import BaseModel
        from sandgate import Context, MCPServer

        class Query(BaseModel):
            text: str

        mcp = MCPServer("postponed")

        @mcp.tool
        def search(query: Query, ctx: Context) -> Query:
            return query
    """)
    tool = cli.load_server(str(path)).registry.tool("search").definition()
    assert list(tool["inputSchema"]["properties"]) == ["query"]
    assert tool["outputSchema"]["properties"] == {"text": {"type": "string"}}


def test_sibling_modules_are_importable(tmp_path):
    write(tmp_path, "GREETING = 'hello'\n", "helpers_for_cli_test.py")
    path = write(tmp_path, 'from helpers_for_cli_test import GREETING\nfrom sandgate import MCPServer\n'
                           'mcp = MCPServer(GREETING)\n')
    assert cli.load_server(str(path)).name == "hello"


@pytest.mark.parametrize(
    ("source", "target_suffix", "message"),
    [
        (MODULE, ":missing", "has no variable 'missing'"),
        (MODULE + "\nnumber = 3\n", ":number", "is a int, not an MCPServer"),
        ("x = 1\n", "", "defines no MCPServer"),
    ],
)
def test_lookup_errors(tmp_path, source, target_suffix, message):
    with pytest.raises(ConfigError, match=message):
        cli.load_server(f"{write(tmp_path, source)}{target_suffix}")


def test_fastmcp_instance_gets_a_hint(tmp_path):
    path = write(tmp_path, 'from fastmcp import FastMCP\nmcp = FastMCP("real")\n')
    with pytest.raises(ConfigError, match="use `from sandgate import FastMCP`"):
        cli.load_server(str(path))


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="No such file"):
        cli.load_server(str(tmp_path / "absent.py"))


def test_module_errors_propagate_and_unregister(tmp_path):
    path = write(tmp_path, "raise RuntimeError('broken module')\n", "broken_for_cli_test.py")
    with pytest.raises(RuntimeError, match="broken module"):
        cli.load_server(str(path))
    assert "broken_for_cli_test" not in sys.modules


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("tools.py", ("tools.py", None)),
        ("tools.py:mcp", ("tools.py", "mcp")),
        ("dir/tools.py:my_server", ("dir/tools.py", "my_server")),
        ("dir:x/tools.py", ("dir:x/tools.py", None)),
    ],
)
def test_split_target(target, expected):
    assert cli.split_target(target) == expected


@pytest.fixture
def served(monkeypatch) -> list[tuple]:
    """What `serve` would serve, instead of serving it: (trusted server | hosted target, settings)."""
    calls: list[tuple] = []
    monkeypatch.setattr(serve, "trusted", lambda server, data: ("trusted", server.name, data))
    monkeypatch.setattr(serve, "hosted", lambda target, data: ("hosted", target, data))
    monkeypatch.setattr(serve, "serve_http", lambda source, settings, banner=False, policy=None:
                        calls.append(("http", source, settings, banner) + ((policy,) if policy else ())))
    monkeypatch.setattr(serve, "serve_stdio", lambda source, settings, policy=None:
                        calls.append(("stdio", source, settings) + ((policy,) if policy else ())))
    return calls


def test_serve_with_a_policy_hands_it_loaded_to_the_server(tmp_path, served):
    module = tmp_path / "tools.py"
    module.write_text("raise SystemExit('never imported here')\n")
    policy = tmp_path / "policy.yaml"
    policy.write_text("apiVersion: sandgate.dev/v1\nkind: ToolPolicy\nmetadata: {name: p}\nspec:\n"
                      "  defaults: {maxSandbox: {wallSeconds: 42, memoryMiB: 512}}\n")
    assert cli.main(["serve", str(module), "--policy", str(policy)]) == 0
    (kind, source, _settings, _banner, loaded), = served
    assert source[0] == "hosted"
    policy = loaded.current.compiled.checked.policy
    assert policy.metadata.name == "p"
    limits = ceiling(policy)
    assert (limits.wall_time, limits.memory, limits.cpu_time) == (42, 512 * 1024**2, DEFAULT_CEILING.cpu_time)


def test_serve_without_a_policy_leaves_the_embedded_default_to_the_server(tmp_path, served):
    module = tmp_path / "tools.py"
    module.write_text("raise SystemExit('never imported here')\n")
    assert cli.main(["serve", str(module)]) == 0
    (kind, source, _settings, _banner), = served  # no policy handed over: serve loads the embedded default


def test_the_old_ceiling_flags_point_at_the_policy(tmp_path, served, capsys):
    assert cli.main(["serve", str(write(tmp_path, MODULE)), "--max-memory", "1Gi"]) == 2
    assert "--max-memory: the ceiling on what a module asks for is the policy's spec.defaults.maxSandbox" in \
        capsys.readouterr().err
    assert served == []


def test_serve_hosts_the_module_unimported_with_the_options(tmp_path, served):
    path = write(tmp_path, MODULE, "hosted_for_cli_test.py")
    assert cli.main(["serve", f"{path}:helper", "--port", "0", "--transport", "stdio",
                     "--set", "prespawned_children=0", "--set", "response_mode=sse", "--data", str(tmp_path)]) == 0
    (transport, (kind, target, data), settings), = served
    assert data == [str(tmp_path)]
    assert (transport, kind, target) == ("stdio", "hosted", f"{path}:helper")
    assert (settings.port, settings.prespawned_children, settings.response_mode) == (0, 0, "sse")
    assert "hosted_for_cli_test" not in sys.modules


def test_serve_trust_loads_the_server_here(tmp_path, served):
    path = write(tmp_path, MODULE, "trusted_for_cli_test.py")
    assert cli.main(["serve", f"{path}:helper", "--trust", "--banner", "--import-timeout", "5"]) == 0
    (transport, (kind, name, _), settings, banner), = served
    assert (transport, kind, name, banner, settings.import_timeout_s) == ("http", "trusted", "helper", True, 5.0)
    assert "trusted_for_cli_test" in sys.modules


@pytest.mark.parametrize("argv", [["--set", "no_such_setting=1"], ["--set", "novalue"], ["--max-memory", "lots"],
                                  ["--import-memory", "1"]])
def test_serve_refuses_bad_operator_options(tmp_path, served, capsys, argv):
    assert cli.main(["serve", str(write(tmp_path, MODULE)), *argv]) == 2
    assert capsys.readouterr().err.startswith("sandgate: error: ")
    assert served == []


def test_serve_reports_config_errors(tmp_path, capsys):
    assert cli.main(["serve", str(tmp_path / "absent.py")]) == 2
    assert capsys.readouterr().err.startswith("sandgate: error: No such file")


def test_version(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"sandgate {sandgate.__version__}\n"


def test_no_command_prints_help(capsys):
    assert cli.main([]) == 2
    assert "serve" in capsys.readouterr().err
