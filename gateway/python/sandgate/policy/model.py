"""The policy file's schema: strict, closed models whose JSON Schema editors and `sandgate policy schema` use.

Names are the YAML's (camelCase); units are in the names (`wallSeconds`, `memoryMiB`), never guessed.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator
from pydantic.alias_generators import to_camel

from sandgate.sandbox.limits import Sandbox

API_VERSION = "sandgate.dev/v1"
KIND = "ToolPolicy"
DEFAULT_RULE = "default"  # the id a decision names when no rule decided; no rule may take it

Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
# A value an identity provider writes (a group "/eng/admins", a scope "tools:call", an issuer URL): any text
# without control characters.
ClaimValue = Annotated[str, StringConstraints(pattern=r"^[^\x00-\x1f\x7f]{1,512}$")]
Url = Annotated[str, StringConstraints(pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")]
JwtAlgorithm = Literal["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
                       "HS256", "HS384", "HS512"]
# A tool's exact name, a trailing-`*` namespace glob (`fs.*`), or `*` for every tool; never a regex.
ToolPattern = Annotated[str, StringConstraints(pattern=r"^(\*|[A-Za-z0-9_.\-/]{1,128}\*?)$")]
RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*(s|sec|second|m|min|minute|h|hour|d|day)\s*$")
PERIOD_SECONDS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600,
                  "d": 86_400, "day": 86_400}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, alias_generator=to_camel,
                              populate_by_name=False)


class Limits(Strict):
    """Sandbox limits of a call; unset fields come from the policy's defaults, then Sandgate's."""

    wall_seconds: float | None = Field(None, gt=0, le=86_400)
    cpu_seconds: float | None = Field(None, gt=0, le=86_400)
    memory_mi_b: int | None = Field(None, ge=16, le=1_048_576, alias="memoryMiB")
    max_output_ki_b: int | None = Field(None, ge=1, le=16_777_216, alias="maxOutputKiB")
    pids: int | None = Field(None, ge=1, le=65_536)
    open_files: int | None = Field(None, ge=16, le=1_048_576)
    file_size_mi_b: int | None = Field(None, ge=1, le=1_048_576, alias="fileSizeMiB")
    scratch_mi_b: int | None = Field(None, ge=1, le=1_048_576, alias="scratchMiB")

    def sandbox(self) -> Sandbox:
        """As the runner's Sandbox, with only the fields this file sets marked as set."""
        mapping = {"wall_seconds": ("wall_time", 1), "cpu_seconds": ("cpu_time", 1),
                   "memory_mi_b": ("memory", 1024**2), "max_output_ki_b": ("max_output", 1024),
                   "pids": ("max_processes", 1), "open_files": ("max_open_files", 1),
                   "file_size_mi_b": ("max_file_size", 1024**2), "scratch_mi_b": ("scratch", 1024**2)}
        values = {target: getattr(self, name) * scale for name, (target, scale) in mapping.items()
                  if getattr(self, name) is not None}
        return Sandbox(**values)


class Constraint(Strict):
    """What one argument must be. Several keys must all hold; a type mismatch or a missing argument denies."""

    enum: list[Any] | None = Field(None, min_length=1)
    const: Any = None
    prefix: list[str] | None = Field(None, min_length=1)
    glob: list[str] | None = Field(None, min_length=1)
    not_glob: list[str] | None = Field(None, min_length=1)
    pattern: str | None = Field(None, min_length=1, description="RE2 syntax, matched against the whole value")
    min: int | float | None = None
    max: int | float | None = None
    max_length: int | None = Field(None, ge=0, description="in Unicode code points")
    hosts: list[str] | None = Field(None, min_length=1, description="URL hosts, ASCII (punycode); *.example.com")
    cidrs: list[str] | None = Field(None, min_length=1, description="URL hosts that are IP literals")

    @model_validator(mode="after")
    def says_something(self) -> Constraint:
        if not self.model_fields_set:
            raise ValueError("a constraint needs at least one of its keys")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is greater than max")
        return self

    def compiled(self) -> dict[str, Any]:
        """As the core's constraint compiler reads it (the YAML's names)."""
        return self.model_dump(by_alias=True, include=set(self.model_fields_set))


class Selector(Strict):
    """Who a principal name stands for. Every given field must hold; the token fields hold only for a verified
    bearer token (auth.jwt)."""

    names: list[Name] | None = Field(None, min_length=1, description="principal names, e.g. an API key's")
    any_group: list[ClaimValue] | None = Field(None, min_length=1)
    all_groups: list[ClaimValue] | None = Field(None, min_length=1)
    anonymous: bool | None = Field(None, description="true: only anonymous callers; false: only authenticated")
    issuer: ClaimValue | None = Field(None, description="a token from this auth.jwt issuer")
    subject: list[ClaimValue] | None = Field(None, min_length=1, description="a token whose sub is one of these")
    client_id: list[ClaimValue] | None = Field(None, min_length=1, description="a token whose client_id (or azp) is one of these")
    require_scopes: list[ClaimValue] | None = Field(
        None, min_length=1, description="a token carrying every one of these scopes (scope and scp claims)")

    @model_validator(mode="after")
    def says_something(self) -> Selector:
        if not self.model_fields_set:
            raise ValueError("a principal selector needs at least one of names, anyGroup, allGroups, anonymous, "
                             "issuer, subject, clientId, requireScopes")
        return self


class ApiKey(Strict):
    name: Name = Field(description="names the key in logs; never the key itself")
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] = Field(
        description="hex SHA-256 of the key as the client sends it")
    principal: Name
    groups: list[Name] = []


class JwksSource(Strict):
    """Where an issuer's keys come from: a file read with the policy, or a URL the server fetches and refetches."""

    file: str | None = Field(None, min_length=1, description="a JWKS (or one JWK) file, relative to the policy file")
    url: Url | None = Field(None, description="the issuer's jwks_uri")
    discover: bool = Field(False, description="find the jwks_uri in the issuer's OpenID or RFC 8414 metadata")
    symmetric: bool = Field(False, description="the file holds shared secrets (HS256/384/512): the operator's "
                                               "own issuer only, never a published key set")
    refresh_seconds: int = Field(300, ge=10, le=86_400, description="how often fetched keys are fetched again")
    refetch_seconds: int = Field(30, ge=1, le=3_600, description="a token with an unknown kid fetches the keys "
                                                                 "again, at most this often")

    @model_validator(mode="after")
    def one_source(self) -> JwksSource:
        if (self.file is not None) + (self.url is not None) + self.discover != 1:
            raise ValueError("give exactly one of file, url, discover: true")
        if self.symmetric and self.file is None:
            raise ValueError("shared secrets come from a file, never from the network")
        return self


class JwtIssuer(Strict):
    """An identity provider whose bearer tokens (JWTs) the gateway verifies itself."""

    name: Name
    issuer: ClaimValue = Field(description="the tokens' iss, exactly")
    audiences: list[ClaimValue] = Field(min_length=1, description="this server's resource URI (RFC 8707): a token's "
                                                                  "aud must name one of these")
    jwks: JwksSource
    algorithms: list[JwtAlgorithm] = Field([], description="the only algorithms accepted; default: what the keys serve")
    leeway_seconds: int = Field(60, ge=0, le=600, description="clock skew allowed on exp, nbf and iat")
    groups_claims: list[ClaimValue] = Field(["groups"], description="claims (dotted paths, e.g. realm_access.roles) "
                                                                    "whose values are the caller's groups")
    required_claims: list[ClaimValue] = Field(["exp"], description="claims every token must carry")

    @model_validator(mode="after")
    def symmetric_keys_for_hmac(self) -> JwtIssuer:
        hmac = {alg for alg in self.algorithms if alg.startswith("HS")}
        if hmac and not self.jwks.symmetric:
            raise ValueError(f"{', '.join(sorted(hmac))} needs jwks.symmetric: true (a shared secret)")
        if self.jwks.symmetric and (not self.algorithms or len(hmac) != len(self.algorithms)):
            raise ValueError("a symmetric key set verifies only HS256/384/512: list them in algorithms")
        return self


class Introspection(Strict):
    """An issuer of opaque bearer tokens, asked about each one (RFC 7662) and its answer held for cacheSeconds."""

    name: Name
    issuer: ClaimValue = Field(description="the issuer the endpoint speaks for; an answer naming another is refused")
    endpoint: Url = Field(description="the issuer's introspection endpoint")
    audiences: list[ClaimValue] = Field(min_length=1, description="this server's resource URI (RFC 8707): an "
                                                                  "answer's aud must name one of these")
    client_id: ClaimValue = Field(description="this server's client id at the issuer (HTTP Basic)")
    client_secret_env: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] = Field(
        description="the environment variable holding the client secret; never in the file")
    cache_seconds: int = Field(60, ge=0, le=3_600, description="how long an answer is held (never past the "
                                                               "token's exp); a revoked token admits this long")
    leeway_seconds: int = Field(60, ge=0, le=600, description="clock skew allowed on exp, nbf and iat")
    groups_claims: list[ClaimValue] = Field(["groups"], description="claims (dotted paths) whose values are the "
                                                                    "caller's groups")
    required_claims: list[ClaimValue] = Field(["exp"], description="claims every answer must carry")


class OAuthResource(Strict):
    """This server as an OAuth 2.1 protected resource (RFC 9728): what clients discover after a 401."""

    resource: Url = Field(description="this server's canonical URI, e.g. https://mcp.example.com/mcp")
    authorization_servers: list[Url] = Field(min_length=1, description="issuers clients get tokens from")
    scopes_supported: list[ClaimValue] = []


class Auth(Strict):
    anonymous: Literal["loopback-only", "allow", "deny"] = "loopback-only"
    api_keys: list[ApiKey] = []
    jwt: list[JwtIssuer] = Field([], description="identity providers whose bearer tokens are verified")
    introspection: Introspection | None = Field(None, description="judge opaque bearer tokens at their issuer")
    oauth: OAuthResource | None = Field(None, description="publish protected-resource metadata and name it in 401s")


class RateLimit(Strict):
    """GCRA: `burst` at once from a full bucket, then `rate`; one bucket per distinct key."""

    key: list[Literal["principal", "tool", "group", "client"]] = Field(
        min_length=1, description="principal name, tool name, the principal's first group, the peer address")
    rate: str = Field(description="count per period: 60/min, 10/s, 1000/h, 5/10s")
    burst: int | None = Field(None, ge=1, le=1_000_000, description="default: the rate's count")

    @field_validator("rate")
    @classmethod
    def readable_rate(cls, value: str) -> str:
        if parse_rate(value) is None:
            raise ValueError(f"{value!r} is not a rate like 60/min, 10/s, 1000/h or 5/10s")
        return value


def parse_rate(text: str) -> tuple[int, float] | None:
    """`"5/10s"` → (5, 10.0): count per period in seconds."""
    match = RATE.match(text)
    if match is None or int(match.group(1)) < 1:
        return None
    multiple = int(match.group(2)) if match.group(2) else 1
    if multiple < 1:
        return None
    return int(match.group(1)), float(multiple * PERIOD_SECONDS[match.group(3)])


class Defaults(Strict):
    decision: Literal["deny"] = Field("deny", description="what no matching rule decides; always deny")
    mode: Literal["enforce", "shadow"] = "enforce"
    isolation: Literal["per_call", "per_session"] = "per_call"
    sandbox: Limits = Limits()
    max_sandbox: Limits = Field(Limits(), description="the most a module's own requests may raise limits to")
    rate_limit: Name | None = None
    trust_modules: bool = Field(False, description=(
        'honour isolation="none" of code the operator runs in the gateway anyway (serve --trust, a script\'s '
        "run()); a hosted module's code never runs there"))


class Rule(Strict):
    id: Name
    description: str | None = None
    effect: Literal["allow", "deny"]
    mode: Literal["enforce", "shadow"] | None = Field(None, description="default: the policy's")
    principals: list[Name | Literal["*"]] = Field(min_length=1)
    tools: list[ToolPattern] = Field(min_length=1)
    args: dict[str, Constraint] = {}
    isolation: Literal["per_call", "per_session"] | None = Field(
        None, description="in-process is the module's request, honoured only when defaults.trustModules")
    sandbox: Limits | None = Field(None, description="the operator's word for these calls: not clamped by maxSandbox")
    rate_limit: Name | None = None
    audit_arguments: Literal["hashed", "full"] = Field(
        "hashed", description="the audit line of a call this rule allows carries its arguments salted and hashed, "
                              "or in full (only where they hold nothing secret)")

    @model_validator(mode="after")
    def deny_has_no_grant(self) -> Rule:
        if self.effect == "deny" and (self.sandbox is not None or self.isolation is not None
                                      or self.rate_limit is not None or self.audit_arguments != "hashed"):
            raise ValueError("a deny rule grants nothing: sandbox, isolation, rateLimit and auditArguments belong "
                             "to allows")
        return self


class TestPrincipal(Strict):
    name: ClaimValue = Field("anonymous", description="an API key's principal, or with issuer a token's sub")
    groups: list[ClaimValue] = []
    anonymous: bool = False
    issuer: ClaimValue | None = Field(None, description="a verified token from this auth.jwt issuer")
    client_id: ClaimValue | None = None
    scopes: list[ClaimValue] = []


class Expect(Strict):
    allow: Name | None = Field(None, description="the rule id that allows")
    deny: Name | None = Field(None, description=f"the rule id that denies, or {DEFAULT_RULE!r}")

    @model_validator(mode="after")
    def one_outcome(self) -> Expect:
        if (self.allow is None) == (self.deny is None):
            raise ValueError("expect either allow: RULE or deny: RULE")
        return self


class PolicyTest(Strict):
    name: str | None = None
    principal: TestPrincipal = TestPrincipal(anonymous=True)
    api_key: Name | None = Field(None, description="act as this auth.apiKeys entry")
    tool: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    args: dict[str, Any] = {}
    expect: Expect


class Metadata(Strict):
    name: Name
    revision: Annotated[str, StringConstraints(min_length=1, max_length=128)] | int | None = None


class Spec(Strict):
    defaults: Defaults = Defaults()
    auth: Auth = Auth()
    principals: dict[Name, Selector] = {}
    rate_limits: dict[Name, RateLimit] = {}
    rules: list[Rule] = []
    tests: list[PolicyTest] = []


class Policy(Strict):
    model_config = ConfigDict(title="Sandgate tool policy")

    api_version: Literal["sandgate.dev/v1"]
    kind: Literal["ToolPolicy"]
    metadata: Metadata
    spec: Spec
