"""`sandgate policy test`: a policy file's own tests (and `<name>_test.yaml` beside it), run on the core's decisions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from sandgate.policy.check import schema_problems, test_references
from sandgate.policy.decisions import CompiledPolicy, Decision
from sandgate.policy.model import PolicyTest, Strict
from sandgate.policy.problems import KeyPath, PolicyError, Problem
from sandgate.policy.source import Source, SourceError, load_source


class TestFile(Strict):
    tests: list[PolicyTest]


@dataclass(frozen=True)
class Case:
    source: Source  # the policy file, or a test file beside it
    at: KeyPath  # where the test is written in it
    test: PolicyTest

    @property
    def line(self) -> int:
        return self.source.where(self.at)[0]


@dataclass(frozen=True)
class Outcome:
    file: str
    line: int
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


def load_test_file(path: Path) -> list[Case]:
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
    return [Case(source, ("tests", index), test) for index, test in enumerate(tests)]


def run_tests(compiled: CompiledPolicy, extra: list[Path]) -> Report:
    spec = compiled.checked.policy.spec
    cases = [Case(compiled.checked.source, ("spec", "tests", index), test) for index, test in enumerate(spec.tests)]
    companions = [case for path in extra for case in load_test_file(path)]
    # The policy's own tests were checked with it; a test file's must name the policy's keys and rules too.
    rule_ids = {rule.id for rule in spec.rules}
    key_names = {key.name for key in spec.auth.api_keys}
    problems = [Problem(case.source.file, case.line, 1, code, message) for case in companions
                for _, code, message in test_references(case.test, rule_ids, key_names)]
    if problems:
        raise PolicyError(problems)
    covered: set[str] = set()
    outcomes = []
    for case in cases + companions:
        test = case.test
        caller = compiled.caller(test)
        decision, steps = compiled.explain(caller, test.tool, test.args)
        covered.update(step.rule for step in steps if step.matched)
        allow = test.expect.allow is not None
        expected_rule = test.expect.allow if allow else test.expect.deny
        passed = decision.allowed == allow and decision.rule == expected_rule
        outcomes.append(Outcome(case.source.file, case.line, test.name or f"{test.tool} as {caller.name}", passed,
                                f"{'allow' if allow else 'deny'} {expected_rule}", decision))
    uncovered = tuple(rule.id for rule in spec.rules if rule.id not in covered)
    return Report(tuple(outcomes), uncovered)

