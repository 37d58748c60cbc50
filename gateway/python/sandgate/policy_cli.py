"""`sandgate policy check | test | explain | schema | show-default`: a policy author's tools, outside any server."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from sandgate.errors import SandgateError
from pathlib import Path

from sandgate.policy import PolicyError, default_policy_text, json_schema_text, read_policy
from sandgate.policy.decisions import CompiledPolicy


def add_policy_commands(commands: Any) -> None:
    policy = commands.add_parser("policy", help="check a policy file, print its schema or the default policy")
    actions = policy.add_subparsers(dest="policy_command", required=True)
    check = actions.add_parser("check", help="report every error and warning in a policy file (exit 1 on errors)")
    check.add_argument("file")
    check.add_argument("--module", metavar="MODULE",
                       help="also check tool names and argument constraints against this module's tools "
                            "(imported in a sandbox, as `sandgate serve` does)")
    test = actions.add_parser("test", help="run the file's tests (and NAME_test.yaml beside it): "
                                           "N passed, N failed, rules no test reached; exit 1 on a failure")
    test.add_argument("file")
    test.add_argument("tests", nargs="*", help="more test files (a `tests:` list each)")
    explain = actions.add_parser("explain", help="how the policy decides one call, rule by rule")
    explain.add_argument("file")
    explain.add_argument("--tool", required=True)
    explain.add_argument("--args", default="{}", metavar="JSON", help="the call's arguments (default {})")
    who = explain.add_mutually_exclusive_group()
    who.add_argument("--principal", metavar="NAME", help="an authenticated principal (default: anonymous)")
    who.add_argument("--api-key", metavar="NAME", help="the principal of this spec.auth.apiKeys entry")
    explain.add_argument("--group", action="append", default=[], help="a group of --principal (repeatable)")
    explain.add_argument("--issuer", help="--principal is the subject of a verified token from this auth.jwt issuer")
    explain.add_argument("--client-id", default="", help="the token's client_id")
    explain.add_argument("--scope", action="append", default=[], help="a scope of the token (repeatable)")
    actions.add_parser("schema", help="print the policy file's JSON Schema (2020-12)")
    actions.add_parser("show-default", help="print the policy served when no --policy is given")


def policy_command(args: argparse.Namespace) -> int:
    if args.policy_command == "schema":
        sys.stdout.write(json_schema_text())
        return 0
    if args.policy_command == "show-default":
        sys.stdout.write(default_policy_text())
        return 0
    if args.policy_command == "test":
        return test_command(args)
    if args.policy_command == "explain":
        return explain_command(args)
    try:
        tools = module_tools(args.module) if args.module else None
    except (SandgateError, RuntimeError) as exc:
        print(f"sandgate: error: {exc}", file=sys.stderr)
        return 2
    try:
        checked = read_policy(args.file, tools)
        CompiledPolicy(checked)
    except PolicyError as exc:
        return _report_errors(args.file, exc)
    for problem in checked.warnings:
        print(problem, file=sys.stderr)
    rules = len(checked.policy.spec.rules)
    print(f"{args.file}: ok, {rules} rule(s), {len(checked.warnings)} warning(s)")
    return 0


def _report_errors(file: str, error: PolicyError) -> int:
    for problem in error.problems:
        print(problem, file=sys.stderr)
    print(f"{file}: {len(error.problems)} error(s)", file=sys.stderr)
    return 1


def test_command(args: argparse.Namespace) -> int:
    from sandgate.policy.testing import companion_files, run_tests

    path = Path(args.file)
    try:
        compiled = CompiledPolicy(read_policy(path))
        report = run_tests(compiled, [*companion_files(path), *(Path(extra) for extra in args.tests)])
    except PolicyError as exc:
        return _report_errors(args.file, exc)
    for outcome in report.outcomes:
        if not outcome.passed:
            got = f"{'allow' if outcome.got.allowed else 'deny'} {outcome.got.rule} ({outcome.got.reason})"
            print(f"{outcome.file}:{outcome.line}: FAIL {outcome.name}: expected {outcome.expected}, got {got}")
    print(f"{report.passed} passed, {report.failed} failed")
    rules = len(compiled.checked.policy.spec.rules)
    covered = rules - len(report.uncovered)
    print(f"rule coverage: {covered}/{rules}" + (f"; no test reached: {', '.join(report.uncovered)}"
                                                  if report.uncovered else ""))
    return 1 if report.failed or not report.outcomes else 0


def explain_command(args: argparse.Namespace) -> int:
    import json

    from sandgate.policy.decisions import Caller

    try:
        compiled = CompiledPolicy(read_policy(args.file))
    except PolicyError as exc:
        return _report_errors(args.file, exc)
    try:
        arguments = json.loads(args.args)
    except json.JSONDecodeError as exc:
        print(f"sandgate: error: --args is not JSON: {exc}", file=sys.stderr)
        return 2
    if args.api_key:
        keys = {key.name: key for key in compiled.checked.policy.spec.auth.api_keys}
        if args.api_key not in keys:
            print(f"sandgate: error: no API key named {args.api_key!r} in {args.file}", file=sys.stderr)
            return 2
        caller = Caller.of_key(keys[args.api_key])
    elif args.principal:
        caller = Caller(args.principal, tuple(args.group), anonymous=False, issuer=args.issuer or "",
                        client_id=args.client_id, scopes=tuple(args.scope))
    else:
        caller = Caller(groups=tuple(args.group))
    decision, steps = compiled.explain(caller, args.tool, arguments)
    who = "anonymous" if caller.anonymous else caller.name + (f" (groups {', '.join(caller.groups)})"
                                                              if caller.groups else "")
    print(f"{args.tool} called by {who}")
    for step in steps:
        label = f"  {step.rule} ({step.effect}{', shadow' if step.shadow else ''}): "
        if not step.tool_matched:
            print(label + "tool not named")
        elif not step.principal_matched:
            print(label + "principal not selected")
        elif not step.args_satisfied:
            print(label + f"argument {step.field!r} refused: {step.reason}")
        else:
            print(label + "matches")
    verdict = "allow" if decision.allowed else "deny"
    print(f"decision: {verdict} by {decision.rule} ({decision.reason})")
    if decision.shadow_rule:
        print(f"shadow: rule {decision.shadow_rule} would "
              f"{'allow' if decision.shadow_would_allow else 'deny'} (not enforced)")
    print(f"visible in tools/list: {'yes' if compiled.visible(caller, args.tool) else 'no'}")
    return 0


def module_tools(target: str) -> dict[str, dict[str, Any]]:
    """The module's tools and their inputSchema, from a confined zygote's catalog: this process never imports it."""
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
