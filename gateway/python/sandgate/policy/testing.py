"""`sandgate policy test`: a policy file's own tests (and `<name>_test.yaml` beside it), run on the core's decisions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from sandgate.policy.check import schema_problems
from sandgate.policy.decisions import CompiledPolicy, Decision
from sandgate.policy.model import DEFAULT_RULE, PolicyTest, Strict
from sandgate.policy.problems import PolicyError, Problem
from sandgate.policy.source import SourceError, load_source


class TestFile(Strict):
    tests: list[PolicyTest]


@dataclass(frozen=True)
class Outcome:
    where: str  # file:line of the test
    name: str
    passed: bool
    expected: str  # "allow RULE" / "deny RULE"
    got: Decision


@dataclass(frozen=True)
class Report:
    outcomes: tuple[Outcome, ...]
    uncovered: tuple[str, ...]  # rule ids no test's call matched

    @property
    def failed(self) -> int:
        return sum(not outcome.passed for outcome in self.outcomes)

    @property
    def passed(self) -> int:
        return len(self.outcomes) - self.failed


def companion_files(policy_file: Path) -> list[Path]:
    companion = policy_file.with_name(f"{policy_file.stem}_test.yaml")
    return [companion] if companion.is_file() else []


def load_test_file(path: Path) -> list[tuple[str, PolicyTest]]:
    file = str(path)
    try:
        source = load_source(path.read_text(encoding="utf-8"), file)
    except SourceError as exc:
        raise PolicyError(exc.problems) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError([Problem(file, 0, 0, "unreadable", f"cannot read the test file: {exc}")]) from None
    try:
        tests = TypeAdapter(TestFile).validate_python(source.data).tests
    except ValidationError as exc:
        raise PolicyError(schema_problems(exc, source)) from None
    return [(f"{file}:{source.where(('tests', index))[0]}", test) for index, test in enumerate(tests)]


def run_tests(compiled: CompiledPolicy, extra: list[Path]) -> Report:
    source = compiled.checked.source
    cases = [(f"{source.file}:{source.where(('spec', 'tests', index))[0]}", test)
             for index, test in enumerate(compiled.checked.policy.spec.tests)]
    for path in extra:
        cases += load_test_file(path)
    _check_references(compiled, cases)
    covered: set[str] = set()
    outcomes = []
    for where, test in cases:
        caller = compiled.caller(test)
        decision, steps = compiled.explain(caller, test.tool, test.args)
        covered.update(step.rule for step in steps if step.matched)
        allow = test.expect.allow is not None
        expected_rule = test.expect.allow if allow else test.expect.deny
        passed = decision.allowed == allow and decision.rule == expected_rule
        outcomes.append(Outcome(where, test.name or f"{test.tool} as {caller.name}", passed,
                                f"{'allow' if allow else 'deny'} {expected_rule}", decision))
    uncovered = tuple(rule.id for rule in compiled.checked.policy.spec.rules if rule.id not in covered)
    return Report(tuple(outcomes), uncovered)


def _check_references(compiled: CompiledPolicy, cases: list[tuple[str, PolicyTest]]) -> None:
    """A companion file's tests name keys and rules of the policy; the policy's own are checked with it."""
    spec = compiled.checked.policy.spec
    rule_ids = {rule.id for rule in spec.rules}
    key_names = {key.name for key in spec.auth.api_keys}
    problems = []
    for where, test in cases:
        file, _, line = where.rpartition(":")
        if test.api_key is not None and test.api_key not in key_names:
            problems.append(Problem(file, int(line), 1, "unknown_api_key",
                                    f"no API key named {test.api_key!r} under spec.auth.apiKeys"))
        expected = test.expect.allow or test.expect.deny
        if expected not in rule_ids and test.expect.deny != DEFAULT_RULE:
            problems.append(Problem(file, int(line), 1, "unknown_rule", f"no rule with id {expected!r}"))
    if problems:
        raise PolicyError(problems)
