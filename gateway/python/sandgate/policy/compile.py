"""A checked policy as the core compiles it (`_core.ToolPolicy`): names resolved, units in seconds and bytes."""

from __future__ import annotations

from typing import Any

from sandgate.policy.model import Limits, Policy, Selector, parse_rate
from sandgate.sandbox.limits import DEFAULT_SANDBOX, explicit
from sandgate.sandbox.trust import DEFAULT_CEILING


def compiled_document(policy: Policy) -> dict[str, Any]:
    spec = policy.spec
    return {
        "name": policy.metadata.name,
        "revision": "" if policy.metadata.revision is None else str(policy.metadata.revision),
        "selectors": {name: _selector(selector) for name, selector in spec.principals.items()},
        "rules": [{
            "id": rule.id,
            "effect": rule.effect,
            "shadow": (rule.mode or spec.defaults.mode) == "shadow",
            "principals": list(rule.principals),
            "tools": list(rule.tools),
            "args": {field: constraint.compiled() for field, constraint in rule.args.items()},
            "isolation": rule.isolation,
            "sandbox": _limits(rule.sandbox) if rule.sandbox is not None else None,
            "rateLimit": rule.rate_limit,
            "auditArguments": rule.audit_arguments,
        } for rule in spec.rules],
        "rateLimits": {name: _rate(limit.key, limit.rate, limit.burst) for name, limit in spec.rate_limits.items()},
        "defaults": {
            "isolation": spec.defaults.isolation,
            # In full: the fields the file leaves out are Sandgate's own defaults and ceiling.
            "sandbox": spec.defaults.sandbox.sandbox().over(DEFAULT_SANDBOX).model_dump(),
            "maxSandbox": spec.defaults.max_sandbox.sandbox().over(DEFAULT_CEILING).model_dump(),
            "rateLimit": spec.defaults.rate_limit,
            "trustModules": spec.defaults.trust_modules,
        },
        "auth": {
            "anonymous": spec.auth.anonymous,
            "apiKeys": [key.model_dump(by_alias=True) for key in spec.auth.api_keys],
            "jwt": [issuer.model_dump(by_alias=True, exclude={"jwks"}) for issuer in spec.auth.jwt],
            # The core judges the answers; where to ask and the secret stay with the server's client.
            "introspection": spec.auth.introspection.model_dump(
                by_alias=True, exclude={"endpoint", "client_id", "client_secret_env"}) if spec.auth.introspection else None,
            "oauth": spec.auth.oauth.model_dump(by_alias=True) if spec.auth.oauth else None,
        },
    }


def _selector(selector: Selector) -> dict[str, Any]:
    return selector.model_dump(by_alias=True, exclude_none=True)


def _limits(limits: Limits) -> dict[str, Any]:
    return explicit(limits.sandbox())


def _rate(key: list[str], rate: str, burst: int | None) -> dict[str, Any]:
    parsed = parse_rate(rate)
    assert parsed is not None  # the model checked it
    count, period_s = parsed
    return {"key": list(key), "count": count, "periodNs": int(period_s * 1_000_000_000),
            "burst": burst if burst is not None else count}
