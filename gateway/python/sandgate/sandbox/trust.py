"""The operator's word on a module's sandbox requests, compiled by the core (its SandboxGrant):
requests over the operator's defaults, clamped to the operator's ceiling, and `isolation="none"`
only for a module the operator trusts. The policy file will supply the operator's part."""

from __future__ import annotations

import logging
from typing import Any

from sandgate.results import json_text
from sandgate.sandbox.limits import DEFAULT_SANDBOX, Isolation, Sandbox, explicit

logger = logging.getLogger("sandgate.sandbox")

# What a module may ask for at most unless the operator says otherwise (`sandgate serve --max-*`).
DEFAULT_CEILING = Sandbox(wall_time=300, cpu_time=300, memory="4Gi", max_output="64Mi",
                          max_processes=1024, max_open_files=65_536, max_file_size="4Gi", scratch="1Gi")


def requests(isolation: Isolation, sandbox: Sandbox,
             tools: dict[str, tuple[Isolation | None, Sandbox | None]]) -> dict[str, Any]:
    """A module's requests as the core reads them: explicit fields only, per tool where it asked."""
    per_tool: dict[str, dict[str, Any]] = {}
    for name, (tool_isolation, tool_sandbox) in tools.items():
        request: dict[str, Any] = {}
        if tool_isolation is not None:
            request["isolation"] = tool_isolation
        if tool_sandbox is not None:
            request["sandbox"] = explicit(tool_sandbox)
        if request:
            per_tool[name] = request
    return {"isolation": isolation, "sandbox": explicit(sandbox), "tools": per_tool}


def compile_grant(module_requests: dict[str, Any], ceiling: Sandbox, *, trusted: bool,
                  defaults: Sandbox = DEFAULT_SANDBOX) -> Any:
    """The core's SandboxGrant: `tool(name)` and `server()` give plans, `refusals` what was lowered or refused."""
    from sandgate import _core  # the gateway's only: zygotes import this module for `requests`

    return _core.SandboxGrant(json_text(module_requests), json_text(defaults.model_dump()),
                              json_text(ceiling.model_dump()), trusted)


def log_refusals(grant: Any, label: str) -> None:
    for refusal in grant.refusals:
        logger.warning("%s: %s", label, refusal)
