"""The `sandgate` command: `sandgate serve tools.py[:variable]` and `sandgate --version`."""

from __future__ import annotations

import argparse
import importlib.util
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from sandgate.app import MCPServer
from sandgate.errors import ConfigError, SandgateError

PREFERRED_NAMES = ("mcp", "server", "app")


def main(argv: Sequence[str] | None = None) -> int:
    from sandgate import __version__

    parser = build_parser(__version__)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        server = load_server(args.target)
        server.run(transport=args.transport, host=args.host, port=args.port, banner=args.banner)
    except SandgateError as exc:
        print(f"sandgate: error: {exc}", file=sys.stderr)
        return 2
    return 0


def build_parser(version: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sandgate", description="Serve MCP tools with Sandgate.")
    parser.add_argument("--version", action="version", version=f"sandgate {version}")
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="serve the MCPServer defined in a Python file")
    serve.add_argument("target", help="path/to/module.py, optionally :variable")
    serve.add_argument("--host", help="address to bind (default from the server's settings)")
    serve.add_argument("--port", type=int, help="port to bind; 0 picks a free one")
    serve.add_argument("--transport", choices=("http", "stdio"), default="http")
    serve.add_argument("--banner", action="store_true",
                       help="print the endpoint and a curl example")
    return parser


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
