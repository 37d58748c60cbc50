"""Kernel attack surface: the seccomp filter kills the call on each dangerous system call, before
the kernel looks at the arguments, and the result names it; clone3 gets ENOSYS; foreign
system-call ABIs never run."""

from __future__ import annotations

import pytest

from .harness import Gateway, Outcome, expect, syscall

# tool -> the system call that must kill it
KILLED = {
    "io_uring_setup": "io_uring_setup",
    "bpf_prog_load": "bpf",
    "userfaultfd": "userfaultfd",
    "keyctl": "keyctl",
    "add_key": "add_key",
    "unshare_user": "unshare",
    "clone_newns": "clone",
    "mount_tmpfs": "mount",
    "pivot_root": "pivot_root",
    "chroot_escape": "chroot",
    "tiocsti": "ioctl",
    "tiocsti_high_bits": "ioctl",  # cmd | 1 << 32: the filter must compare the low 32 bits
    "tioclinux": "ioctl",
    "perf_event_open": "perf_event_open",
    "kexec_load": "kexec_load",
    "finit_module": "finit_module",
}


@pytest.mark.parametrize(("tool", "call"), sorted(KILLED.items()))
def test_dangerous_syscall_kills_the_call(gateway: Gateway, tool: str, call: str) -> None:
    expect(gateway.attack(tool), {"seccomp": syscall(call)})


def test_clone3_fails_with_enosys(gateway: Gateway) -> None:
    """ENOSYS, not EPERM: glibc then falls back to clone, whose flags the filter can inspect."""
    outcome = expect(gateway.attack("clone3_newuser"), {"tool_error": {"OSError"}})
    assert "[Errno 38]" in outcome.text


def assert_killed_outright(outcome: Outcome) -> None:
    """A foreign ABI's number means another syscall: the filter kills with no report to name it."""
    if outcome.reason == "seccomp":
        assert "syscall" not in outcome.detail, outcome.detail


def test_i386_syscall_through_int80_never_runs(gateway: Gateway) -> None:
    """A filter for AUDIT_ARCH_X86_64 must kill the i386 ABI (or the kernel lacks it: SIGSEGV; or
    a W^X policy refuses the executable page the code needs)."""
    assert_killed_outright(expect(gateway.attack("i386_syscall"), {
        "seccomp": None, "crashed": {"SIGSEGV"}, "tool_error": {"PermissionError", "OSError"}}))


def test_x32_syscall_never_runs(gateway: Gateway) -> None:
    assert_killed_outright(expect(gateway.attack("x32_syscall"),
                                  {"seccomp": None, "tool_error": {"OSError", "PermissionError"}}))


def test_report_carries_signal_and_syscall(gateway: Gateway) -> None:
    outcome = expect(gateway.attack("io_uring_setup"), {"seccomp": syscall("io_uring_setup")})
    assert outcome.detail == {"reason": "seccomp", "signal": "SIGSYS", "syscall": "io_uring_setup"}
    assert "syscall=io_uring_setup" in outcome.text


def test_violation_in_a_second_thread_is_named(gateway: Gateway) -> None:
    expect(gateway.attack("violate_in_thread"), {"seccomp": syscall("bpf")})


def test_forged_report_without_sigsys_is_ignored(gateway: Gateway) -> None:
    """A tool can write anything to its socket: a report counts only when SIGSYS ends the call."""
    expect(gateway.attack("forge_violation", then="return"), {"ok": None})
    crashed = expect(gateway.attack("forge_violation", then="segfault"), {"crashed": {"SIGSEGV"}})
    assert "syscall" not in crashed.detail


def test_the_last_report_before_the_kill_names_the_syscall(gateway: Gateway) -> None:
    expect(gateway.attack("forge_violation", then="keyctl"), {"seccomp": syscall("keyctl")})
