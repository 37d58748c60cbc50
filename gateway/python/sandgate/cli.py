"""The `sandgate` command: `sandgate serve tools.py[:variable]`, `sandgate policy ...` and `sandgate --version`.

`serve` never imports the module in this process unless the operator passes `--trust`: a
confined zygote imports it and sends its catalog.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pydantic_core

from sandgate.app import MCPServer
from sandgate.errors import ConfigError, SandgateError
from sandgate.logs import configure_logging

PREFERRED_NAMES = ("mcp", "server", "app")
# The ceiling flags of earlier versions: the policy's spec.defaults.maxSandbox replaced them.
CEILING_FLAGS = ("max_wall_time", "max_cpu_time", "max_memory", "max_output")


def main(argv: Sequence[str] | None = None) -> int:
    from sandgate import __version__

    parser = build_parser(__version__)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    configure_logging(getattr(args, "log_format", "text"))
    if args.command == "policy":
        from sandgate.policy_cli import policy_command

        return policy_command(args)
    if args.command == "token":
        from sandgate.token_cli import token_command

        return token_command(args)
    try:
        serve_command(args)
    except SandgateError as exc:
        print(f"sandgate: error: {exc}", file=sys.stderr)
        return 2
    return 0


def serve_command(args: argparse.Namespace) -> None:
    from sandgate import serve

    refuse_ceiling_flags(args)
    policy = operator_policy(args)
    overrides = operator_settings(args)
    path_text, variable = split_target(args.target)
    if args.trust:
        server = load_server(args.target)  # the operator vouches for this code: it runs here
        settings = _settings(server.settings, overrides)
        source = serve.trusted(server, args.data)
    else:
        resolved = Path(path_text).resolve()
        if not resolved.is_file():
            raise ConfigError(f"No such file: {path_text}")
        settings = _settings(None, overrides)
        source = serve.hosted(f"{resolved}:{variable}" if variable else str(resolved), args.data)
    try:
        if args.transport == "http":
            serve.serve_http(source, settings, banner=args.banner, policy=policy)
        else:
            serve.serve_stdio(source, settings, policy=policy)
    except RuntimeError as exc:
        from sandgate.sandbox.channel import ZygoteStartError

        if isinstance(exc, ZygoteStartError):
            raise ConfigError(str(exc)) from None
        raise


def build_parser(version: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sandgate", description="Serve MCP tools with Sandgate.")
    parser.add_argument("--version", action="version", version=f"sandgate {version}")
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="serve the MCPServer defined in a Python file")
    serve.add_argument("target", help="path/to/module.py, optionally :variable")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind; 0 picks a free one")
    serve.add_argument("--transport", choices=("http", "stdio"), default="http")
    serve.add_argument("--log-format", choices=("text", "json"), default="text",
                       help="stderr log lines for people (text) or one JSON object per line (json)")
    serve.add_argument("--banner", action="store_true",
                       help="print the endpoint and a curl example")
    serve.add_argument("--trust", action="store_true",
                       help="the module is the operator's own code: import it in the gateway too, honour its "
                            'isolation="none" tools and its server settings')
    serve.add_argument("--policy", metavar="FILE",
                       help="who may call which tool, under which limits and rates (sandgate policy check FILE); "
                            "reloaded on SIGHUP or when the file changes. Default: sandgate policy show-default")
    for flag in CEILING_FLAGS:  # kept only to say where the ceiling went
        serve.add_argument("--" + flag.replace("_", "-"), dest=flag, help=argparse.SUPPRESS)
    serve.add_argument("--import-timeout", metavar="SECONDS", type=float,
                       help="how long importing the module may take (default 30)")
    serve.add_argument("--import-memory", metavar="SIZE", help="address space the import may use (default 1Gi)")
    serve.add_argument("--data", metavar="PATH", action="append", default=[],
                       help="a file or directory the sandbox may read (besides the module's Python files)")
    serve.add_argument("--set", metavar="KEY=VALUE", action="append", default=[], dest="settings",
                       help="a server setting, e.g. --set prespawned_children=0 (VALUE as JSON, else text)")
    from sandgate.policy_cli import add_policy_commands
    from sandgate.token_cli import add_token_commands

    add_policy_commands(commands)
    add_token_commands(commands)
    return parser


def refuse_ceiling_flags(args: argparse.Namespace) -> None:
    given = [("--" + flag.replace("_", "-")) for flag in CEILING_FLAGS if getattr(args, flag) is not None]
    if given:
        raise ConfigError(f"{', '.join(given)}: the ceiling on what a module asks for is the policy's "
                          "spec.defaults.maxSandbox now (sandgate policy show-default prints the default policy)")


def operator_policy(args: argparse.Namespace) -> Any:
    """The --policy file, loaded, checked, compiled and tested before anything starts; None: the embedded default."""
    if args.policy is None:
        return None
    from sandgate.policy.serving import open_policy

    policy = open_policy(Path(args.policy))
    assert policy.current is not None
    if args.trust and not policy.current.compiled.checked.policy.spec.defaults.trust_modules:
        logging.getLogger("sandgate.policy").warning(
            "%s: spec.defaults.trustModules is false, so the module's isolation=\"none\" tools run sandboxed "
            "even with --trust", args.policy)
    return policy


def operator_settings(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for item in args.settings:
        key, separator, text = item.partition("=")
        if not separator or not key:
            raise ConfigError(f"--set needs KEY=VALUE, not {item!r}")
        try:
            overrides[key] = pydantic_core.from_json(text)
        except ValueError:
            overrides[key] = text
    for key, value in (("host", args.host), ("port", args.port), ("import_timeout_s", args.import_timeout),
                       ("import_memory", args.import_memory)):
        if value is not None:
            overrides[key] = value
    return overrides


def _settings(base: Any, overrides: dict[str, Any]) -> Any:
    from sandgate.settings import build_settings

    return build_settings(base, **overrides)


def load_server(target: str) -> MCPServer:
    """The MCPServer named by `path.py[:variable]`, importing the file as a module."""
    path_text, variable = split_target(target)
    module = load_module(Path(path_text))
    return find_server(module, variable, path_text)


def split_target(target: str) -> tuple[str, str | None]:
    path_text, separator, variable = target.rpartition(":")
    if separator and variable.isidentifier() and path_text:
        return path_text, variable
    return target, None
def load_module(path: Path) -> ModuleType:
    resolved = path.resolve()
    if not resolved.is_file():
        raise ConfigError(f"No such file: {path}")
    name = resolved.stem if resolved.stem not in sys.modules else f"sandgate_served_{resolved.stem}"
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise ConfigError(f"Cannot import {path}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    # Like `python file.py`: the file's own directory is importable and the module is registered.
    sys.path.insert(0, str(resolved.parent))
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def find_server(module: ModuleType, variable: str | None, label: str) -> MCPServer:
    namespace = vars(module)
    if variable is not None:
        if variable not in namespace:
            raise ConfigError(f"{label} has no variable {variable!r}")
        found = namespace[variable]
        if not isinstance(found, MCPServer):
            raise ConfigError(f"{label}:{variable} is a {type(found).__name__}, not an MCPServer")
        return found
    for name in PREFERRED_NAMES:
        if isinstance(namespace.get(name), MCPServer):
            return namespace[name]
    for value in namespace.values():
        if isinstance(value, MCPServer):
            return value
    foreign = [name for name, value in namespace.items()
               if type(value).__module__.split(".")[0] in ("fastmcp", "mcp")
               and type(value).__name__.endswith(("MCP", "Server"))]
    hint = (f"; {', '.join(foreign)} come from fastmcp/mcp, use `from sandgate import FastMCP`"
            if foreign else "")
    raise ConfigError(f"{label} defines no MCPServer{hint}")
