"""Type stubs of the zygote's native sandbox primitives; sandgate.sandbox is its only user.

Failures raise OSError (the errno's subclass; `filename` names the operation), ValueError for
unusable arguments, RuntimeError when the process has more than one thread.
"""

from typing import Any

# A call child that exits with CHILD_STEP_EXIT_BASE + n failed step CHILD_STEPS[n - 1]:
# 121 new_session, 122 parent_death_signal (also: the zygote was already gone), 123 close_fds,
# 124 resource_limits, 125 drop_privileges, 126 not_dumpable, 127 no_new_privs, 128 seccomp,
# 129 private_scratch, 130 violation_report.
CHILD_STEP_EXIT_BASE: int
CHILD_STEPS: tuple[str, ...]
# The kernel's AUDIT_ARCH_* of this build's architecture (AUDIT_ARCH_X86_64 = 0xC000003E).
NATIVE_AUDIT_ARCH: int
# Calls of a zygote started as root run as uid_base + slot; at most CALL_UID_SLOTS live calls.
CALL_UID_SLOTS: int
# The call/report wire layout of this build (magic, version, sizes, ops, bounds), for control.py's tests.
CONTROL_PROTOCOL: dict[str, Any]

def compile_seccomp(profile: str = "default") -> bytes:
    """Raw BPF (struct sock_filter array) for the native architecture; b"" for "none".

    "default", a call's filter: an allow-list. Unlisted calls fail with ENOSYS; set*id,
    setgroups, capset, seccomp and prctl options outside a small list fail with EPERM; so do
    socket() of any family, bind/connect/listen/accept/accept4, setsockopt SO_PASSCRED and
    SO_PASSPIDFD, SysV IPC and POSIX message queue calls and non-AF_UNIX socketpair (calls are
    islands: nothing can name a rendezvous point); exec, ptrace, namespaces, mounts, bpf, perf,
    io_uring, userfaultfd, keyrings, modules, kexec, reboot, swap, acct, quotactl, ioctl
    TIOCSTI/TIOCLINUX and clone with a CLONE_NEW* flag trap (SIGSYS to the call child's violation
    report, which then dies); rt_sigaction on SIGSYS and any foreign-ABI call kill the process
    outright (SIGSYS). clone3 is ENOSYS.

    "zygote", the zygote's own filter, installed before it imports the module and inherited by
    every call: everything "default" allows and refuses alike (the same traps, so a call's
    violation is still reported with both stacked), plus mount/umount2/mount_setattr/open_tree/
    move_mount, setres*id/setgroups/capset, unshare of exactly CLONE_NEWNS or CLONE_VM, clone
    with CLONE_NEWPID|CLONE_NEWNS, seccomp(SET_MODE_FILTER, 0), rt_sigaction(SIGSYS),
    get_robust_list(0) and prctl CAPBSET_DROP/SET_SECUREBITS/GET_TID_ADDRESS/SET_DUMPABLE 0/
    CAP_AMBIENT clear-all; any other namespace flag traps.
    """

def syscall_name(nr: int) -> str:
    """The native architecture's name for a syscall number ("execve" for 59 on x86_64), or ""."""

def unshare_namespaces(user: bool, pid: bool = False) -> None:
    """Mount, network, IPC and UTS namespaces (plus a user namespace when `user`, and a PID
    namespace for the next child when `pid`).

    Single-threaded callers only. With `user`, the parent then writes
    /proc/<pid>/{setgroups,uid_map,gid_map} before setup_filesystem.
    """

def enter_user_namespace() -> None:
    """A user namespace entered after the mount tree was built with host privileges: from here
    on the caller holds capabilities only inside it, and the mounts made before are locked.
    Supplementary groups are dropped first. The parent then writes uid_map and gid_map."""

def install_seccomp(seccomp_bpf: bytes) -> None:
    """no_new_privs, then `seccomp_bpf` (from compile_seccomp) for this process and all it forks."""

def die_with_parent() -> None:
    """PR_SET_PDEATHSIG = SIGKILL: this process dies when the one that forked it does."""

def setup_filesystem(scratch_size_bytes: int, readonly_paths: list[str],
                     hostname: str = "sandgate") -> None:
    """Pivot into a read-only root holding only `readonly_paths` (same absolute paths,
    read-only, nosuid, nodev), a private /tmp tmpfs of `scratch_size_bytes`, /dev/{null,zero,
    full,random,urandom}; no /proc. Then sethostname and chdir("/tmp")."""

def serve_zygote(control_fd: int, seccomp_bpf: bytes, uid_base: int,
                 baseline_address_space: int, scratch_rebinds: list[str] = ...) -> tuple[int, bool] | None:
    """The zygote's per-call loop, in native code: after it starts, no Python runs per message.

    Reads call messages (sandgate.sandbox.control) from the SOCK_SEQPACKET `control_fd` and
    forks each call into a new PID namespace (the child is its PID 1, so everything it starts
    dies with it), answering spawned (with a pidfd), spawn_failed, and exited once the child is
    reaped. Malformed messages are dropped with their fds closed. At most CALL_UID_SLOTS calls
    live at once; more get spawn_failed EAGAIN.

    Before it returns, the child has, in order: a new session, PDEATHSIG=SIGKILL, only the call
    socket open (0-2 on /dev/null), its own tmpfs /tmp of the message's scratch size (its working
    directory; each of `scratch_rebinds`, at most 16 directories /tmp/<name>, bound again on top
    of it read-only as the zygote sees them), the
    message's rlimits (absent: inherited; `baseline_address_space` added to an address_space;
    RLIMIT_CPU hard = soft + 1: SIGXCPU, which PID 1 ignores unless it has a handler, then
    SIGKILL; RLIMIT_CORE 0), uid and gid `uid_base + slot` (the zygote's own when uid_base < 0)
    with no supplementary groups and no capabilities, dumpable 0, no_new_privs, (with a filter)
    a SIGSYS handler that writes one frame {"violation": {"syscall": nr, "arch":
    NATIVE_AUDIT_ARCH}} (4-byte big-endian length, then JSON) to the call socket for a trapped
    syscall and then dies by SIGSYS, then `seccomp_bpf` installed. A failing step exits with
    CHILD_STEP_EXIT_BASE + step.

    Returns None in the zygote once the gateway closes the socket, and (call_fd, persistent)
    in a new call child after its containment steps, with every other descriptor closed.
    Python signal handlers do not run while it serves.
    """
