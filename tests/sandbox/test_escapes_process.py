"""Process escapes: no exec, no ptrace, no reaching the gateway or zygote, no process outliving
its call. Calls rename themselves (prctl PR_SET_NAME, inherited by children) so the host can
count what each one started; pids inside a call are its own PID namespace's, so the host's
/proc is the only sound place to look for survivors."""

from __future__ import annotations

import pytest

from .harness import Gateway, Watch, expect, syscall
from .host import named, thread_count, wait_until

# The spawned child dies of its execve (ChildProcessError, CalledProcessError), or it is never
# created (fork/vfork/clone refused), or the whole call is killed.
EXEC_REFUSED = {"seccomp": syscall("execve"), "tool_error": {
    "ChildProcessError", "CalledProcessError", "PermissionError", "BlockingIOError", "OSError"}}
SIGNAL_HARMLESS = {"ok": None, "tool_error": {"ProcessLookupError", "PermissionError"}}
GONE_WITHIN_S = 2.0


def assert_none_named(marker: str) -> None:
    assert wait_until(lambda: not named(marker), GONE_WITHIN_S), \
        f"processes {named(marker)} named {marker} outlived their call"


def test_execve_is_killed(gateway: Gateway) -> None:
    expect(gateway.attack("execve_shell"), {"seccomp": syscall("execve")})


@pytest.mark.parametrize("tool", ["os_system", "subprocess_run"])
def test_spawning_a_program_runs_nothing(gateway: Gateway, tool: str) -> None:
    outcome = expect(gateway.attack(tool), EXEC_REFUSED)
    assert "uid=" not in outcome.text


def test_ptrace_of_the_parent_is_killed(gateway: Gateway) -> None:
    expect(gateway.attack("ptrace_parent"), {"seccomp": syscall("ptrace")})


def test_ptrace_of_gateway_and_zygotes_is_killed(gateway: Gateway) -> None:
    for pid in (gateway.pid, *gateway.zygotes):
        expect(gateway.attack("ptrace_attach", pid=pid), {"seccomp": syscall("ptrace")})
    gateway.assert_alive()  # includes TracerPid 0 and not stopped


def test_process_vm_readv_of_gateway_and_zygotes_is_killed(gateway: Gateway) -> None:
    for pid in (gateway.pid, *gateway.zygotes):
        expect(gateway.attack("process_vm_readv", pid=pid), {"seccomp": syscall("process_vm_readv")})


def test_kill_minus_one_reaches_nothing_outside(gateway: Gateway) -> None:
    expect(gateway.attack("kill_everything"), SIGNAL_HARMLESS)
    gateway.assert_alive()


def test_sigkill_to_gateway_and_zygote_pids_misses(gateway: Gateway) -> None:
    for pid in (gateway.pid, *gateway.zygotes):
        expect(gateway.attack("kill_pid", pid=pid), SIGNAL_HARMLESS)
    gateway.assert_alive()


def test_sigkill_to_parent_hits_only_the_call(gateway: Gateway) -> None:
    """getppid() is 0 in a fresh PID namespace, so this is kill(0): the caller's process group."""
    expect(gateway.attack("kill_parent"), {**SIGNAL_HARMLESS, "crashed": {"SIGKILL"}})
    gateway.assert_alive()


def test_signals_from_one_call_spare_a_concurrent_call(gateway: Gateway, marker: str) -> None:
    victim = Watch(lambda: gateway.call("nap", marker=marker, seconds=2.0))
    assert wait_until(lambda: bool(named(marker)), 1.5), "the victim call never showed up on the host"
    (victim_host_pid,) = named(marker)
    expect(gateway.call("kill_everything"), SIGNAL_HARMLESS)
    expect(gateway.call("kill_parent"), {**SIGNAL_HARMLESS, "crashed": {"SIGKILL"}})
    expect(gateway.call("kill_pid", pid=victim_host_pid), SIGNAL_HARMLESS)
    outcome = expect(victim.result(), {"ok": None})
    assert outcome.value == "rested"
    gateway.assert_alive()


def test_fork_bomb_is_capped_and_reaped(gateway: Gateway, marker: str) -> None:
    bomb = Watch(lambda: gateway.call("fork_bomb", marker=marker, attempts=10_000, linger_s=1.0))
    peak = bomb.sample(lambda: len(named(marker)))
    expect(bomb.result(), {"tool_error": {"BlockingIOError", "PermissionError"}})
    assert 2 <= peak <= 16, f"{peak} processes at once (max_processes=16; 2+ proves they were seen)"
    assert_none_named(marker)
    gateway.assert_serving()


def test_thread_bomb_is_capped(gateway: Gateway, marker: str) -> None:
    bomb = Watch(lambda: gateway.call("thread_bomb", marker=marker, attempts=10_000, linger_s=1.0))
    peak = bomb.sample(lambda: max((thread_count(pid) for pid in named(marker)), default=0))
    expect(bomb.result(), {"tool_error": {"RuntimeError"}})
    assert 2 <= peak <= 64, f"{peak} threads at once out of 10,000 attempted"
    assert_none_named(marker)
    gateway.assert_serving()


def test_double_forked_daemon_dies_with_its_call(gateway: Gateway, marker: str) -> None:
    """fork, setsid, fork, close every fd: the daemon escapes the process group and the result
    channel; the call's PID namespace must still take it down when the call ends."""
    spawn = Watch(lambda: gateway.call("spawn_daemon", marker=marker, linger_s=1.0))
    peak = spawn.sample(lambda: len(named(marker)))
    outcome = expect(spawn.result(), {"ok": None, "tool_error": {"BlockingIOError", "PermissionError"}})
    if outcome.reason == "ok":
        assert peak >= 2, "the call and its daemon were never both seen on the host"
    assert_none_named(marker)
    gateway.assert_serving()
