"""Decisions as the core makes them, seen through `sandgate policy test` and `sandgate policy explain`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sandgate.policy import PolicyError, default_policy
from sandgate.policy.check import check_policy_text, read_policy
from sandgate.policy.decisions import Caller, CompiledPolicy
from sandgate.policy.testing import run_tests

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((ROOT / "policies" / "examples").glob("*.yaml"))
HEAD = "apiVersion: sandgate.dev/v1\nkind: ToolPolicy\nmetadata: {name: t}\nspec:\n" \
       "  defaults: {rateLimit: r}\n  rateLimits:\n    r: {key: [principal], rate: 10/s}\n"
POLICY = HEAD + """  principals:
    eng: {anyGroup: [eng]}
  rules:
    - id: eng-reads
      effect: allow
      principals: [eng]
      tools: ["fs.*"]
      args:
        path: {glob: ["/srv/**"], notGlob: ["**/*.pem"]}
    - id: no-delete
      effect: deny
      principals: ["*"]
      tools: [fs.delete]
    - id: maybe-later
      effect: allow
      mode: shadow
      principals: ["*"]
      tools: [add]
"""


def compiled(text: str = POLICY) -> CompiledPolicy:
    return CompiledPolicy(check_policy_text(text, "p.yaml"))


def sandgate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sandgate", *args], capture_output=True, text=True, timeout=60,
                          check=False)


def test_decisions_follow_deny_wins_then_the_allow_then_default() -> None:
    policy = compiled()
    eng = Caller("alice", ("eng",), anonymous=False)
    assert policy.decide(eng, "fs.read", {"path": "/srv/a.txt"}).rule == "eng-reads"
    refused = policy.decide(eng, "fs.read", {"path": "/srv/../etc/shadow"})
    assert (refused.allowed, refused.rule, refused.reason) == (False, "default", "argument_not_allowed")
    assert policy.decide(eng, "fs.read", {"path": "/srv/key.pem"}).reason == "argument_not_allowed"
    assert policy.decide(eng, "fs.delete", {"path": "/srv/a"}).reason == "denied_by_rule"
    assert policy.decide(Caller(), "fs.read", {"path": "/srv/a"}).reason == "no_matching_rule"
    shadow = policy.decide(Caller(), "add", {})
    assert (shadow.allowed, shadow.shadow_rule, shadow.shadow_would_allow) == (False, "maybe-later", True)
    assert policy.visible(eng, "fs.read") and not policy.visible(eng, "fs.delete")
    assert not policy.visible(Caller(), "add")


def test_the_core_reports_what_only_it_checks_at_the_rule_s_line() -> None:
    text = HEAD + "  rules:\n    - id: a\n      effect: allow\n      principals: ['*']\n      tools: [x]\n" \
                  "      args:\n        p: {pattern: '(unclosed'}\n        q: {glob: [relative/**]}\n"
    with pytest.raises(PolicyError) as caught:
        compiled(text)
    problems = caught.value.problems
    assert problems and all(problem.line >= 14 for problem in problems), [str(p) for p in problems]
    assert {problem.code for problem in problems} <= {"bad_pattern", "glob_not_absolute"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
def test_every_example_passes_its_own_tests(path: Path) -> None:
    report = run_tests(CompiledPolicy(read_policy(path)), [])
    assert report.failed == 0, [outcome for outcome in report.outcomes if not outcome.passed]
    assert report.passed == len(read_policy(path).policy.spec.tests)


def test_the_default_policy_passes_its_tests() -> None:
    report = run_tests(CompiledPolicy(default_policy()), [])
    assert (report.passed, report.failed, report.uncovered) == (1, 0, ())


def test_policy_test_counts_failures_coverage_and_companion_files(tmp_path: Path) -> None:
    policy = tmp_path / "team.yaml"
    policy.write_text(POLICY + """  tests:
    - {principal: {name: alice, groups: [eng]}, tool: fs.read, args: {path: /srv/x}, expect: {allow: eng-reads}}
    - {principal: {name: bob}, tool: fs.read, args: {path: /srv/x}, expect: {allow: eng-reads}}
""")
    (tmp_path / "team_test.yaml").write_text(
        "tests:\n  - {tool: fs.delete, args: {path: /srv/x}, expect: {deny: no-delete}}\n")
    result = sandgate("policy", "test", str(policy))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == f"{policy}:28: FAIL fs.read as bob: expected allow eng-reads, got deny default (no_matching_rule)"
    assert lines[1] == "2 passed, 1 failed"
    assert lines[2] == "rule coverage: 2/3; no test reached: maybe-later"

    passing = tmp_path / "ok.yaml"
    passing.write_text(POLICY + "  tests:\n    - {tool: add, args: {}, expect: {deny: default}}\n")
    result = sandgate("policy", "test", str(passing))
    assert result.returncode == 0 and "1 passed, 0 failed" in result.stdout


def test_a_companion_file_naming_an_unknown_rule_is_an_error(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(POLICY)
    extra = tmp_path / "more.yaml"
    extra.write_text("tests:\n  - {tool: add, expect: {allow: nope}}\n")
    result = sandgate("policy", "test", str(policy), str(extra))
    assert result.returncode == 1
    assert f"{extra}:2:1: error: no rule with id 'nope' [unknown_rule]" in result.stderr


def test_explain_walks_every_rule_and_names_the_deciding_one(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(POLICY)
    result = sandgate("policy", "explain", str(policy), "--principal", "alice", "--group", "eng", "--tool", "fs.read",
                      "--args", '{"path": "/srv/id.pem"}')
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "fs.read called by alice (groups eng)",
        "  eng-reads (allow): argument 'path' refused: glob_excluded",
        "  no-delete (deny): tool not named",
        "  maybe-later (allow, shadow): tool not named",
        "decision: deny by default (argument_not_allowed)",
        "visible in tools/list: yes",
    ]
    anonymous = sandgate("policy", "explain", str(policy), "--tool", "fs.read", "--args", '{"path": "/srv/a"}')
    assert "  eng-reads (allow): principal not selected" in anonymous.stdout
    assert sandgate("policy", "explain", str(policy), "--tool", "x", "--args", "{").returncode == 2
