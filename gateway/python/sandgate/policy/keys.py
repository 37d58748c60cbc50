"""The keys of the policy's token issuers (auth.jwt): read with the policy and checked by the core's own JWKS
parser, so a key set the gateway would refuse is a policy error at its line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sandgate.policy.model import Policy
from sandgate.policy.problems import Problem
from sandgate.policy.source import Source

MAX_JWKS_BYTES = 1024 * 1024


@dataclass(frozen=True)
class IssuerKeys:
    issuer: str
    jwks_json: str
    symmetric: bool


def read_issuer_keys(policy: Policy, source: Source) -> tuple[list[IssuerKeys], list[Problem]]:
    """Each issuer's key set from its file (relative to the policy file), and what is wrong with any of them."""
    from sandgate import _core

    keys: list[IssuerKeys] = []
    problems: list[Problem] = []
    base = Path(source.file).parent
    for index, issuer in enumerate(policy.spec.auth.jwt):
        if issuer.jwks.file is None:
            continue  # fetched by the server (policy.fetch)
        at = ("spec", "auth", "jwt", index, "jwks", "file")
        path = base / issuer.jwks.file
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_JWKS_BYTES + 1)
            if len(data) > MAX_JWKS_BYTES:
                raise ValueError(f"larger than {MAX_JWKS_BYTES} bytes")
            text = data.decode("utf-8")
        except (OSError, ValueError) as exc:
            problems.append(source.problem(at, "unreadable_keys", f"cannot read {path}: {exc}"))
            continue
        refusal = _core.check_jwks(text, issuer.jwks.symmetric)
        if refusal is not None:
            problems.append(source.problem(at, "bad_keys", f"{path}: {refusal}"))
            continue
        keys.append(IssuerKeys(issuer.issuer, text, issuer.jwks.symmetric))
    return keys, problems
