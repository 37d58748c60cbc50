"""The core's compiled policy, for the policy author's commands: the same decisions the request path makes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sandgate.policy.check import CheckedPolicy
from sandgate.policy.compile import compiled_document
from sandgate.policy.model import ApiKey, PolicyTest
from sandgate.policy.problems import KeyPath, PolicyError, Problem


@dataclass(frozen=True)
class Caller:
    name: str = "anonymous"
    groups: tuple[str, ...] = ()
    anonymous: bool = True

    @classmethod
    def of_key(cls, key: ApiKey) -> Caller:
        return cls(key.principal, tuple(key.groups), anonymous=False)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    rule: str  # the deciding rule's id, or "default"
    reason: str  # allowed | denied_by_rule | no_matching_rule | argument_not_allowed
    shadow_rule: str  # a shadow rule that would have decided otherwise; "" when none
    shadow_would_allow: bool


@dataclass(frozen=True)
class RuleStep:
    rule: str
    effect: str
    shadow: bool
    tool_matched: bool
    principal_matched: bool
    args_satisfied: bool
    field: str
    reason: str

    @property
    def matched(self) -> bool:
        return self.tool_matched and self.principal_matched and self.args_satisfied


class CompiledPolicy:
    """A checked policy compiled by the core; PolicyError (with file positions) for what only the core checks."""

    def __init__(self, checked: CheckedPolicy) -> None:
        from sandgate import _core

        self.checked = checked
        document = compiled_document(checked.policy)
        native, errors = _core.compile_tool_policy(json.dumps(document))
        if native is None:
            raise PolicyError([_problem(checked, where, code, message) for where, code, message in errors])
        self._native = native
        self._keys = {key.name: key for key in checked.policy.spec.auth.api_keys}

    @property
    def native(self) -> Any:
        """The core's compiled policy (`_core.ToolPolicy`), as the request path's gate holds it."""
        return self._native

    def caller(self, test: PolicyTest) -> Caller:
        if test.api_key is not None:
            return Caller.of_key(self._keys[test.api_key])
        principal = test.principal
        return Caller(principal.name, tuple(principal.groups), principal.anonymous)

    def decide(self, caller: Caller, tool: str, arguments: Any) -> Decision:
        return Decision(*self._native.decide(caller.name, list(caller.groups), caller.anonymous, tool,
                                             json.dumps(arguments)))

    def explain(self, caller: Caller, tool: str, arguments: Any) -> tuple[Decision, list[RuleStep]]:
        decision, steps = self._native.explain(caller.name, list(caller.groups), caller.anonymous, tool,
                                               json.dumps(arguments))
        return Decision(*decision), [RuleStep(*step) for step in steps]

    def visible(self, caller: Caller, tool: str) -> bool:
        return bool(self._native.visible(caller.name, list(caller.groups), caller.anonymous, tool))


def _problem(checked: CheckedPolicy, where: str, code: str, message: str) -> Problem:
    """The core names `rules[3].args.path`; the author reads spec.rules[3].args.path at its line."""
    path: list[str | int] = ["spec"]
    for part in where.replace("]", "").replace("[", ".").split("."):
        if part:
            path.append(int(part) if part.isdigit() else part)
    key_path: KeyPath = tuple(path)
    return checked.source.problem(key_path, code, message)
