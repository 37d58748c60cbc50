"""How a sandboxed call ended: stable reasons, and the tool result each one becomes."""

from __future__ import annotations

import signal
from typing import Any, Literal

from sandgate.results import json_text

SANDBOX_META_KEY = "io.sandgate/sandbox"

Reason = Literal[
    "timeout", "cpu_time", "memory", "output_too_large", "crashed", "seccomp",
    "tool_error", "sandbox_unavailable", "cancelled", "protocol_error",
]

_EXPLANATIONS: dict[str, str] = {
    "timeout": "the call exceeded its wall-time limit and was killed",
    "cpu_time": "the call exceeded its CPU-time limit",
    "memory": "the call exceeded its memory limit",
    "output_too_large": "the call's output exceeded its limit and was killed",
    "crashed": "the call died",
    "seccomp": "the call made a forbidden system call and was killed",
    "tool_error": "the tool raised an exception",
    "sandbox_unavailable": "no sandbox was available to run the call",
    "cancelled": "the call was cancelled",
    "protocol_error": "the call sent the gateway something it could not accept and was killed",
}


# How a sandboxed call ended: (status, body, facts). The facts are the core's OutcomeFacts: reason,
# duration_s, cpu_time_s, peak_memory_bytes, isolation and the sandbox's details, each when known.
Ended = tuple[int, str, dict[str, Any]]


def stopped(reason: Reason, **detail: Any) -> Ended:
    """A call the sandbox stopped: its isError result, and the same verdict as facts."""
    details = {key: value for key, value in detail.items() if value is not None}
    return 0, stopped_result(reason, **detail), ({"reason": reason, "sandbox": details} if details
                                                 else {"reason": reason})


def stopped_result(reason: Reason, **detail: Any) -> str:
    """The isError tool result for a call the sandbox stopped."""
    text = f"Sandbox stopped the call ({reason}): {_EXPLANATIONS[reason]}"
    extra = ", ".join(f"{key}={value}" for key, value in detail.items() if value is not None)
    meta = {"reason": reason, **{k: v for k, v in detail.items() if v is not None}}
    return json_text({
        "content": [{"type": "text", "text": f"{text} ({extra})" if extra else text}],
        "isError": True,
        "_meta": {SANDBOX_META_KEY: meta},
    })


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def reported_syscall(violation: Any) -> str | int | None:
    """The syscall a call child's violation report names: "execve", a bare number when the name
    is unknown or the architecture foreign, None for no report or a malformed one."""
    if not isinstance(violation, dict):
        return None
    number, arch = violation.get("syscall"), violation.get("arch")
    if type(number) is not int or type(arch) is not int or not -2**31 <= number < 2**31:
        return None
    from sandgate import _sandbox  # only now: the gateway needs it for nothing else

    if arch != _sandbox.NATIVE_AUDIT_ARCH:
        return number
    return _sandbox.syscall_name(number) or number


def reason_for_signal(number: int, cpu_seconds: float, cpu_limit: float) -> Reason:
    """What a death by signal means, given what the limits make the kernel send."""
    if number == signal.SIGSYS:
        return "seccomp"
    if number == signal.SIGXCPU or (number == signal.SIGKILL and cpu_seconds >= cpu_limit):
        return "cpu_time"
    if number == signal.SIGXFSZ:
        return "tool_error"
    return "crashed"
