"""Reading a policy file the way `sandgate policy check` reports it: schema, then references, then lints.

Errors refuse the file; warnings (lints) are reported and the file still serves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sandgate.policy.keys import IssuerKeys, read_issuer_keys
from sandgate.policy.model import DEFAULT_RULE, Policy, PolicyTest, Rule
from sandgate.policy.problems import KeyPath, PolicyError, Problem
from sandgate.policy.source import Source, SourceError, load_source

# pydantic's error types → the stable codes a policy author sees.
_RANGE_ERRORS = frozenset({"greater_than", "greater_than_equal", "less_than", "less_than_equal", "too_short",
                           "too_long", "string_too_short", "string_too_long"})
_CODES = {"extra_forbidden": "unknown_key", "missing": "missing_key", "literal_error": "bad_value",
          "string_pattern_mismatch": "bad_format", "value_error": "bad_value", "enum": "bad_value"}


@dataclass(frozen=True)
class CheckedPolicy:
    policy: Policy
    source: Source
    warnings: tuple[Problem, ...]
    issuer_keys: tuple[IssuerKeys, ...] = ()  # auth.jwt's key sets as read with this version


def read_policy(path: str | Path, tools: Mapping[str, Mapping[str, Any]] | None = None) -> CheckedPolicy:
    """The file at `path`, checked; PolicyError lists every error. `tools`: name → inputSchema of the served tools."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError([Problem(file, 0, 0, "unreadable", f"cannot read the policy file: {exc}")]) from None
    return check_policy_text(text, file, tools)


def check_policy_text(text: str, file: str, tools: Mapping[str, Mapping[str, Any]] | None = None) -> CheckedPolicy:
    try:
        source = load_source(text, file)
    except SourceError as exc:
        raise PolicyError(exc.problems) from None
    try:
        policy = Policy.model_validate(source.data)
    except ValidationError as exc:
        raise PolicyError(schema_problems(exc, source)) from None
    problems = reference_problems(policy, source) + lint_problems(policy, source)
    issuer_keys, key_problems = read_issuer_keys(policy, source)
    problems += key_problems
    if tools is not None:
        problems += catalog_problems(policy, source, tools)
    errors = [problem for problem in problems if problem.severity == "error"]
    if errors:
        raise PolicyError(errors)
    return CheckedPolicy(policy, source, tuple(sorted(problems)), tuple(issuer_keys))


def schema_problems(error: ValidationError, source: Source) -> list[Problem]:
    problems: dict[tuple[KeyPath, str], Problem] = {}
    for detail in error.errors(include_url=False):
        path = data_path(source.data, detail["loc"])
        kind = detail["type"]
        code = _CODES.get(kind) or ("wrong_type" if kind.endswith("_type") else
                                    "out_of_range" if kind in _RANGE_ERRORS else "invalid")
        message = detail["msg"].removeprefix("Value error, ")
        problems.setdefault((path, code), source.problem(path, code, message))
    return list(problems.values())


def data_path(data: Any, loc: tuple[int | str, ...]) -> KeyPath:
    """pydantic's location with its own markers (union members, validators) dropped: keys and indices only."""
    path: list[str | int] = []
    for part in loc:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        elif isinstance(data, dict) and isinstance(part, str) and not part.startswith(("[", "function-")) \
                and part.isidentifier():
            path.append(part)  # a missing or unknown key: name it, there is nothing below
            break
        else:
            continue
        path.append(part)
    return tuple(path)


def reference_problems(policy: Policy, source: Source) -> list[Problem]:
    spec = policy.spec
    problems: list[Problem] = []

    def need(condition: bool, path: KeyPath, code: str, message: str) -> None:
        if not condition:
            problems.append(source.problem(path, code, message))

    seen_rules: dict[str, int] = {}
    for index, rule in enumerate(spec.rules):
        at: KeyPath = ("spec", "rules", index)
        need(rule.id != DEFAULT_RULE, (*at, "id"), "reserved_rule_id", f"{DEFAULT_RULE!r} names the default decision")
        need(rule.id not in seen_rules, (*at, "id"), "duplicate_rule_id",
             f"rule id {rule.id!r} is also rule {seen_rules.get(rule.id)}")
        seen_rules.setdefault(rule.id, index)
        for position, name in enumerate(rule.principals):
            need(name == "*" or name in spec.principals, (*at, "principals", position), "unknown_principal",
                 f"no principal named {name!r} under spec.principals")
        if rule.rate_limit is not None:
            need(rule.rate_limit in spec.rate_limits, (*at, "rateLimit"), "unknown_rate_limit",
                 f"no rate limit named {rule.rate_limit!r} under spec.rateLimits")
    if spec.defaults.rate_limit is not None:
        need(spec.defaults.rate_limit in spec.rate_limits, ("spec", "defaults", "rateLimit"), "unknown_rate_limit",
             f"no rate limit named {spec.defaults.rate_limit!r} under spec.rateLimits")
    key_names: set[str] = set()
    digests: set[str] = set()
    for index, key in enumerate(spec.auth.api_keys):
        at = ("spec", "auth", "apiKeys", index)
        need(key.name not in key_names, (*at, "name"), "duplicate_api_key", f"API key name {key.name!r} repeats")
        need(key.sha256 not in digests, (*at, "sha256"), "duplicate_api_key", "this key's hash is listed twice")
        key_names.add(key.name)
        digests.add(key.sha256)
    issuers: dict[str, int] = {}
    issuer_names: set[str] = set()
    for index, provider in enumerate(spec.auth.jwt):
        at = ("spec", "auth", "jwt", index)
        need(provider.issuer not in issuers, (*at, "issuer"), "duplicate_issuer",
             f"issuer {provider.issuer!r} is also auth.jwt[{issuers.get(provider.issuer)}]")
        need(provider.name not in issuer_names, (*at, "name"), "duplicate_issuer", f"issuer name {provider.name!r} repeats")
        issuers.setdefault(provider.issuer, index)
        issuer_names.add(provider.name)
    introspection = spec.auth.introspection
    if spec.auth.oauth is not None:
        resource = spec.auth.oauth.resource
        audiences = [*(provider.audiences for provider in spec.auth.jwt), *([introspection.audiences] if introspection else [])]
        need(any(resource in listed for listed in audiences), ("spec", "auth", "oauth", "resource"),
             "resource_not_an_audience", f"no auth.jwt issuer or auth.introspection lists {resource!r} among its "
                                         "audiences: tokens minted for this server would all be refused")
    known_issuers = set(issuers) | ({introspection.issuer} if introspection else set())
    for name, selector in spec.principals.items():
        if selector.issuer is not None:
            need(selector.issuer in known_issuers, ("spec", "principals", name, "issuer"), "unknown_issuer",
                 f"no auth.jwt entry or auth.introspection has the issuer {selector.issuer!r}")
    for index, test in enumerate(spec.tests):
        for key, code, message in test_references(test, set(seen_rules), key_names):
            problems.append(source.problem(("spec", "tests", index, *key), code, message))
    return problems


def test_references(test: PolicyTest, rule_ids: set[str], key_names: set[str]) -> list[tuple[KeyPath, str, str]]:
    """What a test names that the policy lacks: (key path within the test, code, message) each."""
    problems: list[tuple[KeyPath, str, str]] = []
    if test.api_key is not None and test.api_key not in key_names:
        problems.append((("apiKey",), "unknown_api_key", f"no API key named {test.api_key!r} under spec.auth.apiKeys"))
    expected = test.expect.allow or test.expect.deny
    outcome = "allow" if test.expect.allow else "deny"
    if expected not in rule_ids and not (outcome == "deny" and expected == DEFAULT_RULE):
        problems.append((("expect", outcome), "unknown_rule", f"no rule with id {expected!r}"))
    return problems


def lint_problems(policy: Policy, source: Source) -> list[Problem]:
    spec = policy.spec
    problems: list[Problem] = []
    for index, rule in enumerate(spec.rules):
        at: KeyPath = ("spec", "rules", index)
        if rule.effect == "allow" and rule.rate_limit is None and spec.defaults.rate_limit is None:
            problems.append(source.problem(at, "allow_without_rate_limit",
                                           f"rule {rule.id!r} allows calls without a rate limit", "warning"))
        if rule.effect == "allow":
            for other in spec.rules:
                if other.effect == "deny" and _covers(other, rule, spec.principals):
                    problems.append(source.problem(at, "rule_shadowed",
                                                   f"rule {rule.id!r} never allows: deny rule {other.id!r} "
                                                   "matches every call it matches", "warning"))
                    break
    return problems


def _covers(deny: Rule, allow: Rule, principals: Mapping[str, Any]) -> bool:
    """Whether an enforced, unconditional deny matches everything `allow` matches."""
    if deny.args or (deny.mode or "enforce") == "shadow":
        return False
    if "*" not in deny.principals and not set(allow.principals) <= set(deny.principals):
        return False
    return all(any(_pattern_covers(wide, narrow) for wide in deny.tools) for narrow in allow.tools)


def _pattern_covers(wide: str, narrow: str) -> bool:
    if wide == "*" or wide == narrow:
        return True
    return wide.endswith("*") and narrow.startswith(wide[:-1])


def tool_pattern_matches(pattern: str, name: str) -> bool:
    if pattern == "*":
        return True
    return name.startswith(pattern[:-1]) if pattern.endswith("*") else name == pattern


def catalog_problems(policy: Policy, source: Source, tools: Mapping[str, Mapping[str, Any]]) -> list[Problem]:
    """What the served tools make wrong: a rule naming no served tool, a constraint on an argument a tool lacks."""
    problems: list[Problem] = []
    for index, rule in enumerate(policy.spec.rules):
        at: KeyPath = ("spec", "rules", index)
        matched: list[str] = []
        for position, pattern in enumerate(rule.tools):
            names = [name for name in tools if tool_pattern_matches(pattern, name)]
            if not names:
                problems.append(source.problem((*at, "tools", position), "unknown_tool",
                                               f"no served tool is named {pattern!r}"))
            matched += names
        for field in rule.args:
            top = field.split(".", 1)[0]
            lacking = [name for name in matched if top not in _properties(tools[name])]
            if lacking:
                problems.append(source.problem((*at, "args", field), "arg_not_in_schema",
                                               f"argument {top!r} is not in the inputSchema of "
                                               f"{', '.join(sorted(lacking))}"))
    for index, test in enumerate(policy.spec.tests):
        if test.tool not in tools:
            problems.append(source.problem(("spec", "tests", index, "tool"), "unknown_tool",
                                           f"no served tool is named {test.tool!r}", "warning"))
    return problems


def _properties(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    properties = schema.get("properties")
    return properties if isinstance(properties, Mapping) else {}
