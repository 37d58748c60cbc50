"""`sandgate policy check | schema | show-default`: a policy author's tools, outside any server."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from sandgate.errors import SandgateError
from sandgate.policy import PolicyError, default_policy_text, json_schema_text, read_policy


def add_policy_commands(commands: Any) -> None:
    policy = commands.add_parser("policy", help="check a policy file, print its schema or the default policy")
    actions = policy.add_subparsers(dest="policy_command", required=True)
    check = actions.add_parser("check", help="report every error and warning in a policy file (exit 1 on errors)")
    check.add_argument("file")
    check.add_argument("--module", metavar="MODULE",
                       help="also check tool names and argument constraints against this module's tools "
                            "(imported in a sandbox, as `sandgate serve` does)")
    actions.add_parser("schema", help="print the policy file's JSON Schema (2020-12)")
    actions.add_parser("show-default", help="print the policy served when no --policy is given")


def policy_command(args: argparse.Namespace) -> int:
    if args.policy_command == "schema":
        sys.stdout.write(json_schema_text())
        return 0
    if args.policy_command == "show-default":
        sys.stdout.write(default_policy_text())
        return 0
    try:
        tools = module_tools(args.module) if args.module else None
    except (SandgateError, RuntimeError) as exc:
        print(f"sandgate: error: {exc}", file=sys.stderr)
        return 2
    try:
        checked = read_policy(args.file, tools)
    except PolicyError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{args.file}: {len(exc.problems)} error(s)", file=sys.stderr)
        return 1
    for problem in checked.warnings:
        print(problem, file=sys.stderr)
    rules = len(checked.policy.spec.rules)
    print(f"{args.file}: ok, {rules} rule(s), {len(checked.warnings)} warning(s)")
    return 0


def module_tools(target: str) -> dict[str, dict[str, Any]]:
    """The module's tools and their inputSchema, from a confined zygote's catalog: this process never imports it."""
    from pathlib import Path

    from sandgate.cli import split_target
    from sandgate.errors import ConfigError
    from sandgate.sandbox.catalog import load_catalog
    from sandgate.serve import start_sandbox
    from sandgate.settings import ServerSettings

    path_text, variable = split_target(target)
    resolved = Path(path_text).resolve()
    if not resolved.is_file():
        raise ConfigError(f"No such file: {path_text}")
    label = str(resolved)

    async def fetch() -> dict[str, dict[str, Any]]:
        runner = await start_sandbox(f"{label}:{variable}" if variable else label, asyncio.get_running_loop(),
                                     ServerSettings(prespawned_children=0))
        try:
            assert runner.catalog is not None
            catalog = load_catalog(runner.catalog, label)
        finally:
            await runner.close()
        return {tool["name"]: tool.get("inputSchema", {}) for tool in catalog.listing.get("tools", [])}

    return asyncio.run(fetch())
