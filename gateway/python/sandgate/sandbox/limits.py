"""Sandbox limits: declared per tool or server-wide, merged field by field, validated once."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

Isolation = Literal["per_call", "per_session", "none"]
ISOLATION_MODES: tuple[Isolation, ...] = ("per_call", "per_session", "none")


def check_isolation(value: str) -> Isolation:
    if value not in ISOLATION_MODES:
        from sandgate.errors import ConfigError

        raise ConfigError(f"isolation must be one of {', '.join(ISOLATION_MODES)}, not {value!r}")
    return value  # type: ignore[return-value]

_UNITS = {"": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "ki": 1024, "mi": 1024**2, "gi": 1024**3}
_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]i?)?b?\s*$", re.IGNORECASE)


def parse_size(value: Any) -> Any:
    """`"256Mi"` → 268435456; ints pass through; anything else is left for pydantic to reject."""
    if isinstance(value, str):
        match = _SIZE.match(value)
        if match is None:
            raise ValueError(f"{value!r} is not a size like 4096, '64Ki', '256Mi' or '1Gi'")
        return int(match.group(1)) * _UNITS[(match.group(2) or "").lower()]
    return value


Bytes = Annotated[int, BeforeValidator(parse_size), Field(gt=0)]
Seconds = Annotated[float, Field(gt=0, le=86_400, allow_inf_nan=False)]


class Sandbox(BaseModel):
    """Per-call limits. Fields left unset inherit the server-wide default, then these defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    wall_time: Seconds = 30.0
    cpu_time: Seconds = 10.0
    memory: Bytes = 512 * 1024**2
    max_output: Bytes = 4 * 1024**2
    max_processes: int = Field(64, ge=1, le=65_536)
    max_open_files: int = Field(256, ge=16, le=1_048_576)
    max_file_size: Bytes = 64 * 1024**2
    scratch: Bytes = 64 * 1024**2

    def over(self, base: Sandbox) -> Sandbox:
        """These limits where set explicitly, `base` elsewhere."""
        return base.model_copy(update={name: getattr(self, name) for name in self.model_fields_set})

    def native(self) -> dict[str, int]:
        """The rlimits the child applies before running the tool."""
        return {
            "address_space": self.memory,
            "cpu_seconds": max(1, int(self.cpu_time + 0.999)),
            "open_files": self.max_open_files,
            "processes": self.max_processes,
            "file_size": self.max_file_size,
        }


DEFAULT_SANDBOX = Sandbox()


# The core's decision for one call (its SandboxGrant): (isolation, wall_time, cpu_time, memory, max_output,
# max_processes, max_open_files, max_file_size, scratch); a call that runs in-process gets ("none",).
Plan = tuple[Any, ...]
PLAN_LIMITS = ("wall_time", "cpu_time", "memory", "max_output", "max_processes", "max_open_files",
               "max_file_size", "scratch")


@lru_cache(maxsize=1024)
def granted(plan: Plan) -> tuple[Isolation, Sandbox]:
    """The plan as the runner takes it; one Sandbox per distinct plan (the runner keys its reserve on it)."""
    isolation = check_isolation(plan[0])
    if len(plan) == 1:
        return isolation, DEFAULT_SANDBOX
    return isolation, Sandbox(**dict(zip(PLAN_LIMITS, plan[1:], strict=True)))


def explicit(sandbox: Sandbox) -> dict[str, Any]:
    """Only the fields set explicitly: a request, which falls back to the server-wide one field by field."""
    return sandbox.model_dump(include=set(sandbox.model_fields_set))
