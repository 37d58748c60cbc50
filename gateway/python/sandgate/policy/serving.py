"""A policy as a running server serves it: the module's sandbox plans granted anew under each version, and a
version the server cannot serve without a restart refused like an invalid one."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandgate.policy.fetch import KeyFetcher
from sandgate.policy.introspect import Introspector
from sandgate.policy.model import Policy
from sandgate.policy.problems import PolicyError, Problem
from sandgate.policy.reload import Loaded, PolicyFile
from sandgate.results import json_text
from sandgate.sandbox.limits import Sandbox
from sandgate.sandbox.trust import DEFAULT_CEILING

logger = logging.getLogger("sandgate.policy")
MIB = 1024**2


def ceiling(policy: Policy) -> Sandbox:
    """What a module may ask for at most: maxSandbox, Sandgate's ceiling where it says nothing."""
    return policy.spec.defaults.max_sandbox.sandbox().over(DEFAULT_CEILING)


def memory_needed(policy: Policy) -> int:
    """The most address space a call may be given: the ceiling's, or an allow rule's own (the operator's word,
    not clamped). The sandbox is started able to grant it."""
    granted = [rule.sandbox.sandbox().memory for rule in policy.spec.rules
               if rule.sandbox is not None and rule.sandbox.memory_mi_b is not None]
    return max([ceiling(policy).memory, *granted])


@dataclass(frozen=True)
class ModulePlans:
    """What the served module asked for, and what the running server can give it under any policy version."""

    requests: dict[str, Any]  # the module's sandbox requests, as `sandbox.trust.requests` writes them
    in_gateway: bool  # the operator runs the module's code in the gateway too (serve --trust, a script's run())
    tool_names: frozenset[str]
    has_handlers: bool  # resources or prompts, which run under the server-wide plan
    sandboxed: bool  # a sandbox runs beside the gateway
    memory_bound: int  # the most a call child may be given in that sandbox
    label: str

    def grant(self, loaded: Loaded) -> Any:
        """The core's SandboxGrant: the module's requests under this policy's defaults, maxima and trust."""
        return loaded.compiled.native.sandbox_grant(json_text(self.requests), self.in_gateway)

    def needs_sandbox(self, grant: Any) -> bool:
        return (any(grant.tool(name)[0] != "none" for name in self.tool_names)
                or (self.has_handlers and grant.server()[0] != "none"))

    def vet(self, loaded: Loaded) -> list[Problem]:
        """Why this server cannot serve `loaded` without a restart; empty when it can."""
        file = str(loaded.compiled.checked.source.file)
        problems = []
        needed = memory_needed(loaded.compiled.checked.policy)
        if self.sandboxed and needed > self.memory_bound:
            problems.append(Problem(file, 0, 0, "needs_restart",
                                    f"calls may be given {needed // MIB} MiB, more than the running sandbox can grant "
                                    f"({self.memory_bound // MIB} MiB); restart the server to serve this policy"))
        if not self.sandboxed and self.needs_sandbox(self.grant(loaded)):
            problems.append(Problem(file, 0, 0, "needs_restart",
                                    "this policy sandboxes calls, and the server started without a sandbox (every "
                                    "tool ran in-process); restart the server to serve this policy"))
        return problems


def set_issuer_keys(gate: Any, loaded: Loaded) -> None:
    for keys in loaded.compiled.checked.issuer_keys:
        refusal = gate.set_keys(keys.issuer, keys.jwks_json, keys.symmetric)
        if refusal is not None:  # checked when the policy was read: only a changed core would say otherwise
            logger.error("the keys of %s were refused, the ones held before stay: %s", keys.issuer, refusal)


def open_policy(path: Path) -> PolicyFile:
    """The operator's policy file, loaded, checked, compiled and tested before anything starts."""
    from sandgate.errors import ConfigError

    policy = PolicyFile(path)
    try:
        policy.load()
    except PolicyError as exc:
        raise ConfigError(f"the policy file cannot be served:\n{exc}") from None
    return policy


@dataclass
class Bound:
    gate: Any  # the core's PolicyGate
    fetcher: KeyFetcher | None  # fetches the keys of issuers with a URL; None without a loop (tests)
    introspector: Introspector | None = None  # asks auth.introspection's endpoint about opaque tokens
    grant: Any = None  # the core's SandboxGrant the gate serves now

    def server_plan(self) -> Any:
        """Where resources and prompts run under the policy served now: a plan tuple (sandbox.limits.Plan)."""
        return self.grant.server()

    def close(self) -> None:
        if self.fetcher is not None:
            self.fetcher.close()
        if self.introspector is not None:
            self.introspector.close()


def bind(core: Any, policy: PolicyFile, plans: ModulePlans, grant: Any, settings: Any, counters: Any,
         loop: asyncio.AbstractEventLoop | None = None, on_swapped: Callable[[], object] | None = None) -> Bound:
    """The core's gate over `policy` with the module's plans under it and its token issuers' keys (files now,
    URLs fetched on `loop`); each good reload swaps all three, then calls `on_swapped` (who sees which tools may
    have changed). Reloads and refused versions are counted in the core's `counters`."""
    assert policy.current is not None
    gate = core.PolicyGate(policy.current.compiled.native, grant, settings, counters)
    set_issuer_keys(gate, policy.current)
    fetcher = KeyFetcher(gate, loop) if loop is not None else None
    introspector = Introspector(gate, loop) if loop is not None else None
    if fetcher is not None:
        fetcher.follow(policy.current)
    if introspector is not None:
        introspector.follow(policy.current)

    bound = Bound(gate, fetcher, introspector, grant)

    def swap(loaded: Loaded) -> None:
        swapped = plans.grant(loaded)
        for refusal in swapped.refusals:
            logger.warning("%s: %s", plans.label, refusal)
        set_issuer_keys(gate, loaded)  # before the rules that trust a new issuer serve
        gate.swap(loaded.compiled.native, swapped)
        bound.grant = swapped
        if fetcher is not None:
            fetcher.follow(loaded)
        if introspector is not None:
            introspector.follow(loaded)
        counters.add("policy_reloads")
        if on_swapped is not None:
            on_swapped()

    policy.vet = plans.vet
    policy.on_swap = swap
    policy.on_refused = lambda problems: counters.add("policy_reloads_refused")
    return bound
