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
    name: str = "anonymous"  # an API key's principal, or a token's subject
    groups: tuple[str, ...] = ()
    anonymous: bool = True
    issuer: str = ""  # set: a verified token from this issuer
    client_id: str = ""
    scopes: tuple[str, ...] = ()

    def native(self) -> dict[str, Any]:
        return {"name": self.name, "groups": list(self.groups), "anonymous": self.anonymous, "issuer": self.issuer,
                "client_id": self.client_id, "scopes": list(self.scopes)}

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
        return Caller(principal.name, tuple(principal.groups), principal.anonymous, principal.issuer or "",
                      principal.client_id or "", tuple(principal.scopes))

    def decide(self, caller: Caller, tool: str, arguments: Any) -> Decision:
        return Decision(*self._native.decide(tool=tool, arguments_json=json.dumps(arguments), **caller.native()))

    def explain(self, caller: Caller, tool: str, arguments: Any) -> tuple[Decision, list[RuleStep]]:
        decision, steps = self._native.explain(tool=tool, arguments_json=json.dumps(arguments), **caller.native())
        return Decision(*decision), [RuleStep(*step) for step in steps]

    def visible(self, caller: Caller, tool: str) -> bool:
        return bool(self._native.visible(tool=tool, **caller.native()))


def _problem(checked: CheckedPolicy, where: str, code: str, message: str) -> Problem:
    """The core names `rules[3].args.path`; the author reads spec.rules[3].args.path at its line."""
    path: list[str | int] = ["spec"]
    for part in where.replace("]", "").replace("[", ".").split("."):
        if part:
            path.append(int(part) if part.isdigit() else part)
    key_path: KeyPath = tuple(path)
    return checked.source.problem(key_path, code, message)
