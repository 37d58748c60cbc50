"""The operator's word on a module's sandbox requests: limits clamped to a ceiling, and
`isolation="none"` only for a module the operator trusts."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sandgate.sandbox.limits import Isolation, Sandbox

logger = logging.getLogger("sandgate.sandbox")

# What a module may ask for at most unless the operator says otherwise (`sandgate serve --max-*`).
DEFAULT_CEILING = Sandbox(wall_time=300, cpu_time=300, memory="4Gi", max_output="64Mi",
                          max_processes=1024, max_open_files=65_536, max_file_size="4Gi", scratch="1Gi")


def clamp(limits: Sandbox, ceiling: Sandbox) -> Sandbox:
    """Each limit at most the ceiling's."""
    lowered = {name: getattr(ceiling, name) for name in Sandbox.model_fields
               if getattr(limits, name) > getattr(ceiling, name)}
    return limits.model_copy(update=lowered) if lowered else limits


@dataclass(frozen=True)
class Grant:
    """Requests turned into what runs: per-tool plan, the server-wide choice for resources and
    prompts, and what was refused (logged once at start)."""

    tools: dict[str, tuple[Isolation, Sandbox]]
    server: tuple[Isolation, Sandbox]
    refused: list[str] = field(default_factory=list)

    def log_refusals(self, module: str) -> None:
        for refusal in self.refused:
            logger.warning("%s: %s", module, refusal)


def grant(server_request: tuple[Isolation, Sandbox],
          tool_requests: dict[str, tuple[Isolation | None, Sandbox | None]],
          ceiling: Sandbox, *, trusted: bool) -> Grant:
    refused: list[str] = []

    def decide(owner: str, isolation: Isolation, limits: Sandbox) -> tuple[Isolation, Sandbox]:
        if isolation == "none" and not trusted:
            refused.append(f'{owner} asked for isolation="none": refused, the module is not trusted '
                           "(sandgate serve --trust); it runs per_call")
            isolation = "per_call"
        granted = clamp(limits, ceiling)
        lowered = [name for name in Sandbox.model_fields if getattr(granted, name) != getattr(limits, name)]
        if lowered:
            refused.append(f"{owner}: limits above the operator's ceiling lowered: "
                           + ", ".join(f"{name} {getattr(limits, name)} -> {getattr(granted, name)}"
                                       for name in lowered))
        return isolation, granted

    server_isolation, server_limits = server_request
    server = decide("the server", server_isolation, server_limits)
    tools = {}
    for name, (isolation, limits) in tool_requests.items():
        wanted = (isolation or server_isolation,
                  limits.over(server_limits) if limits is not None else server_limits)
        tools[name] = decide(f"tool '{name}'", *wanted)
    return Grant(tools, server, refused)
