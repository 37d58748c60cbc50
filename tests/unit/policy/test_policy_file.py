"""The policy file as an author meets it: every defect named with file, line and a stable code."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from sandgate.policy import PolicyError, default_policy, default_policy_text, json_schema, json_schema_text
from sandgate.policy.check import check_policy_text, read_policy
from sandgate.policy.decisions import CompiledPolicy
from sandgate.policy.model import parse_rate

ROOT = Path(__file__).resolve().parents[3]
POLICIES = ROOT / "policies"
INVALID = sorted((POLICIES / "testdata" / "invalid").glob("*.yaml"))
EXAMPLES = sorted((POLICIES / "examples").glob("*.yaml"))
EXPECT = re.compile(r"^# expect: ([a-z0-9_]+) (\d+)$")
HEAD = "apiVersion: sandgate.dev/v1\nkind: ToolPolicy\nmetadata: {name: t}\nspec:\n"
ALLOW_ADD = "    - id: a\n      effect: allow\n      principals: ['*']\n      tools: [add]\n"


def problems_of(text: str, tools: dict | None = None) -> list:
    with pytest.raises(PolicyError) as caught:
        check_policy_text(text, "p.yaml", tools)
    return caught.value.problems


def test_there_is_one_invalid_file_per_defect() -> None:
    assert len(INVALID) >= 23
    codes = {EXPECT.match(path.read_text().splitlines()[0]).group(1) for path in INVALID}  # type: ignore[union-attr]
    assert len(codes) >= 19, codes


@pytest.mark.parametrize("path", INVALID, ids=lambda path: path.stem)
def test_each_invalid_file_fails_with_its_code_and_line(path: Path) -> None:
    match = EXPECT.match(path.read_text().splitlines()[0])
    assert match, f"{path.name} must open with '# expect: CODE LINE'"
    with pytest.raises(PolicyError) as caught:
        CompiledPolicy(read_policy(path))  # what `sandgate policy check` runs: the model, then the core
    first = caught.value.problems[0]
    assert (first.code, first.line) == (match.group(1), int(match.group(2))), str(first)
    assert first.file == str(path) and first.column >= 1


@pytest.mark.parametrize("path", [*EXAMPLES, None], ids=lambda path: path.stem if path else "default")
def test_examples_and_the_default_check_cleanly_and_name_their_schema(path: Path | None) -> None:
    text = path.read_text() if path else default_policy_text()
    lines = text.splitlines()
    assert lines[0].startswith("# yaml-language-server: $schema=") and lines[0].endswith("policy.schema.json")
    assert lines[1].startswith("# For ") or path is None, "an example opens by saying who it is for"
    checked = check_policy_text(text, str(path))
    assert checked.warnings == ()
    assert checked.policy.spec.tests, "every example carries tests"
    jsonschema.Draft202012Validator(json_schema()).validate(yaml.safe_load(text))


def test_the_committed_schema_is_current() -> None:
    assert (POLICIES / "schema" / "policy.schema.json").read_text() == json_schema_text(), \
        "run: sandgate policy schema > policies/schema/policy.schema.json"


def test_the_schema_refuses_what_the_loader_refuses() -> None:
    validator = jsonschema.Draft202012Validator(json_schema())
    jsonschema.Draft202012Validator.check_schema(json_schema())
    document = yaml.safe_load(HEAD + "  rules:\n" + ALLOW_ADD + "      typo: 1\n")
    assert any("typo" in error.message for error in validator.iter_errors(document))


def test_every_duplicate_key_is_reported_not_just_the_first() -> None:
    text = HEAD + "  rules:\n    - id: a\n      id: b\n      effect: allow\n      effect: deny\n"
    problems = problems_of(text)
    assert [(problem.code, problem.line) for problem in problems] == [("duplicate_key", 7), ("duplicate_key", 9)]


@pytest.mark.parametrize("spelling", ["yes", "No", "on", "OFF", "y"])
def test_yaml11_booleans_are_refused_even_where_a_boolean_is_expected(spelling: str) -> None:
    text = HEAD + f"  defaults:\n    trustModules: {spelling}\n"
    if spelling == "y":  # PyYAML reads a bare y as the string "y": strict types refuse it instead
        assert problems_of(text)[0].code == "wrong_type"
    else:
        assert problems_of(text)[0].code == "yaml11_boolean"
    assert check_policy_text(HEAD + "  defaults:\n    trustModules: true\n", "p").policy.spec.defaults.trust_modules


def test_aliases_cannot_blow_a_small_file_up() -> None:
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8))
    assert problems_of(laughs)[0].code == "too_many_nodes"


def test_a_missing_key_points_at_its_parent_and_an_unknown_key_at_itself() -> None:
    problems = problems_of(HEAD + "  rules:\n    - id: a\n      principals: ['*']\n      tools: [add]\n"
                                  "      tool: [x]\n")
    assert {(problem.code, problem.line, problem.path) for problem in problems} == {
        ("missing_key", 6, ("spec", "rules", 0, "effect")), ("unknown_key", 9, ("spec", "rules", 0, "tool"))}


def test_a_union_typed_field_reports_once() -> None:
    problems = problems_of(HEAD + "  rules:\n" + ALLOW_ADD + "      args:\n        a: {min: 'x'}\n")
    assert [(problem.code, problem.path) for problem in problems] == [
        ("wrong_type", ("spec", "rules", 0, "args", "a", "min"))]


def test_lints_are_warnings_the_file_still_loads() -> None:
    text = HEAD + "  rules:\n" + ALLOW_ADD + "    - id: no-add\n      effect: deny\n      principals: ['*']\n" \
                                             "      tools: ['*']\n"
    warnings = check_policy_text(text, "p").warnings
    assert [(warning.code, warning.line) for warning in warnings] == [("allow_without_rate_limit", 6),
                                                                       ("rule_shadowed", 6)]
    assert all(warning.severity == "warning" for warning in warnings)


def test_a_deny_with_argument_conditions_shadows_nothing() -> None:
    text = HEAD + "  defaults: {rateLimit: r}\n  rateLimits:\n    r: {key: [principal], rate: 1/s}\n  rules:\n" \
        + ALLOW_ADD + "    - id: no-big-a\n      effect: deny\n      principals: ['*']\n      tools: ['*']\n" \
                      "      args: {a: {min: 100}}\n"
    assert check_policy_text(text, "p").warnings == ()


def test_the_served_tools_check_names_and_argument_fields() -> None:
    text = HEAD + "  defaults: {rateLimit: r}\n  rateLimits:\n    r: {key: [principal], rate: 1/s}\n  rules:\n" \
        + ALLOW_ADD + "      args: {c: {min: 0}}\n    - id: fs\n      effect: allow\n      principals: ['*']\n" \
                      "      tools: ['fs.*']\n"
    tools = {"add": {"type": "object", "properties": {"a": {}, "b": {}}}}
    problems = problems_of(text, tools)
    assert [(problem.code, problem.path[-2:]) for problem in problems] == [
        ("arg_not_in_schema", ("args", "c")), ("unknown_tool", ("tools", 0))]
    good = text.replace("args: {c:", "args: {a:").replace("'fs.*'", "'ad*'")
    assert check_policy_text(good, "p", tools).warnings == ()


@pytest.mark.parametrize(("text", "expected"), [("60/min", (60, 60.0)), ("10/s", (10, 1.0)), ("5/10s", (5, 10.0)),
                                                ("1000 / hour", (1000, 3600.0)), ("0/s", None), ("5/0s", None),
                                                ("1/fortnight", None), ("1e3/s", None)])
def test_rates_read_as_count_per_period(text: str, expected: tuple[int, float] | None) -> None:
    assert parse_rate(text) == expected


def test_the_default_policy_is_what_the_issue_promises() -> None:
    spec = default_policy().policy.spec
    assert spec.auth.anonymous == "loopback-only" and spec.defaults.isolation == "per_call"
    assert spec.defaults.sandbox.sandbox().wall_time == 10 and spec.defaults.sandbox.sandbox().memory == 256 * 1024**2
    assert spec.defaults.rate_limit is not None
    # isolation="none" of the operator's own script holds; a hosted module is sandboxed whatever it asks.
    assert spec.defaults.trust_modules


def sandgate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sandgate", *args], capture_output=True, text=True, timeout=60,
                          check=False)


def test_policy_check_exits_1_listing_every_error_with_its_place(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(HEAD + "  rules:\n    - id: a\n      effect: allow\n      principals: [nobody]\n"
                          "      tools: [add]\n      rateLimit: none-such\n")
    result = sandgate("policy", "check", str(bad))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0] == f"{bad}:8:20: error: no principal named 'nobody' under spec.principals at " \
                       "spec.rules[0].principals[0] [unknown_principal]"
    assert lines[1].startswith(f"{bad}:10:7: error: ") and lines[1].endswith("[unknown_rate_limit]")
    assert lines[2] == f"{bad}: 2 error(s)"


def test_policy_check_passes_the_examples_and_the_schema_and_default_commands_print() -> None:
    for example in EXAMPLES:
        result = sandgate("policy", "check", str(example))
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"{example}: ok")
    assert json.loads(sandgate("policy", "schema").stdout) == json_schema()
    assert sandgate("policy", "show-default").stdout == default_policy_text()
    assert sandgate("policy", "check", str(ROOT / "nonexistent.yaml")).returncode == 1


def test_policy_check_against_a_module_uses_its_sandboxed_catalog(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(HEAD + "  defaults: {rateLimit: r}\n  rateLimits:\n    r: {key: [principal], rate: 1/s}\n"
                             "  rules:\n    - id: a\n      effect: allow\n      principals: ['*']\n"
                             "      tools: [add, nope]\n")
    result = sandgate("policy", "check", str(policy), "--module", str(ROOT / "examples" / "tools.py"))
    assert result.returncode == 1
    assert "no served tool is named 'nope'" in result.stderr and "'add'" not in result.stderr


def test_api_key_hashes_are_lower_case_hex_sha256() -> None:
    digest = hashlib.sha256(b"k").hexdigest()
    keys = f"  auth:\n    apiKeys:\n      - {{name: k, sha256: {digest}, principal: p}}\n"
    assert check_policy_text(HEAD + keys, "p").policy.spec.auth.api_keys[0].sha256 == digest
    assert problems_of(HEAD + keys.replace(digest, digest.upper()))[0].code == "bad_format"
