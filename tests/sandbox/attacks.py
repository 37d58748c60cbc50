"""Escape attempts against the Sandgate sandbox, each one a real tool that does the real thing.

`sandgate serve tests/sandbox/attacks.py` serves them and tests/sandbox/test_*.py judge what
happens. One module on purpose (over the usual ~200 lines): the gateway serves one file, and a
tool module is exactly what an attacker controls. Conventions:

- A tool that reaches its goal returns text starting with `ESCAPED`; anything else it returns
  is neutral, and the tests judge the goal on the host where they can.
- Destructive attacks (bombs, kills, ptrace, namespaces, mounts, TIOCSTI, ...) call
  `_require_confinement()` first and raise `NotSandboxed` unless the call is PID 1 of its own
  PID namespace with a read-only root and no /proc (and, for the bombs, the limit they hit is
  in place). They never run loose in the gateway or on a developer's machine; a refusal fails
  the test that asked.
- Raw system calls go through libc `syscall(2)` with x86_64 numbers.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import mmap
import os
import platform
import resource
import signal
import socket
import stat
import struct
import subprocess
import termios
import threading
import time
from pathlib import Path
from typing import Any

from sandgate import MCPServer, Sandbox

server = MCPServer(
    "sandgate-escape-suite",
    version="1.0.0",
    sandbox=Sandbox(wall_time=5, cpu_time=2, memory="256Mi", max_output="1Mi", max_processes=16,
                    max_open_files=64, max_file_size="8Mi", scratch="16Mi"),
)



def _git_config(checkout: Path) -> Path:
    """A checkout's git config; in a git worktree .git is a file naming the real git directory."""
    git_dir = checkout / ".git"
    if git_dir.is_file():  # "gitdir: <common>/worktrees/<name>", whose commondir leads to <common>
        admin = Path(git_dir.read_text().removeprefix("gitdir:").strip())
        git_dir = (admin / (admin / "commondir").read_text().strip()).resolve()
    return git_dir / "config"


# Computed at import, so the zygote knows it: knowing a host path must not make it readable.
HOST_GIT_CONFIG = _git_config(Path(__file__).resolve().parents[2])

SYSCALLS = {  # x86_64
    "ioctl": 16, "getpid": 39, "clone": 56, "ptrace": 101, "pivot_root": 155, "chroot": 161,
    "mount": 165, "kexec_load": 246, "add_key": 248, "keyctl": 250, "unshare": 272,
    "perf_event_open": 298, "process_vm_readv": 310, "finit_module": 313, "bpf": 321,
    "userfaultfd": 323, "io_uring_setup": 425, "clone3": 435,
}
X32_SYSCALL_BIT = 0x40000000
CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000
PTRACE_ATTACH, PTRACE_DETACH = 16, 17
PR_SET_NAME, PR_GET_NAME, PR_GET_NO_NEW_PRIVS = 15, 16, 39
TIOCLINUX = 0x541C
MIB = 1 << 20

_LIBC = ctypes.CDLL(None, use_errno=True)
_LIBC.syscall.restype = ctypes.c_long
_LIBC.prctl.restype = ctypes.c_int


class NotSandboxed(RuntimeError):
    """Raised instead of running a destructive attack outside a sandboxed call."""


def _require_confinement(*rlimits: int) -> None:
    """PID 1 of a PID namespace, a read-only root and no host /proc: the signs of a sandboxed call
    that make kills, mounts and bombs land inside it. Anything less, and the attack refuses."""
    if os.getpid() != 1:
        raise NotSandboxed(f"pid {os.getpid()} is not PID 1 of its own PID namespace; refusing")
    if not os.statvfs("/").f_flag & os.ST_RDONLY:
        raise NotSandboxed("the root filesystem is writable; refusing")
    if os.path.exists("/proc/1"):
        raise NotSandboxed("a /proc with processes in it is mounted; refusing")
    for limit in rlimits:
        if resource.getrlimit(limit)[0] == resource.RLIM_INFINITY:
            raise NotSandboxed(f"rlimit {limit} is unlimited; refusing")


def _syscall(name: str | int, *args: Any) -> int:
    """libc syscall(2); ints become longs (pointers and high bits survive), -1 raises OSError."""
    if platform.machine() != "x86_64":
        raise RuntimeError(f"the raw-syscall attacks use x86_64 numbers, not {platform.machine()}")
    number = name if isinstance(name, int) else SYSCALLS[name]
    converted = [ctypes.c_long(arg) if isinstance(arg, int) else arg for arg in args]
    result = _LIBC.syscall(ctypes.c_long(number), *converted)
    if result == -1:
        code = ctypes.get_errno()
        raise OSError(code, f"{name}: {os.strerror(code)}")
    return result


def _escaped_by_syscall(name: str | int, *args: Any) -> str:
    result = _syscall(name, *args)
    if result == 0 and name in ("clone", "clone3"):
        os._exit(0)  # the child of a clone that should never have happened
    return f"ESCAPED: {name} returned {result}"


def _set_name(marker: str) -> None:
    """Rename this task (and every child it forks) so the host can find it in /proc/*/comm."""
    encoded = marker.encode()
    if not 0 < len(encoded) < 16:
        raise ValueError("a marker is 1..15 bytes")
    if _LIBC.prctl(PR_SET_NAME, ctypes.c_char_p(encoded), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NAME) failed")
    name = ctypes.create_string_buffer(16)
    _LIBC.prctl(PR_GET_NAME, name, 0, 0, 0)
    if name.value != encoded:
        raise RuntimeError(f"task name is {name.value!r}, not {encoded!r}")


# --- Baseline ----------------------------------------------------------------------------------

@server.tool
def add(a: int, b: int) -> int:
    """Add two integers (the call every test makes after an attack)."""
    return a + b


@server.tool(isolation="none")
def healthy() -> str:
    """In-process, explicitly trusted: answers without a sandbox."""
    return "ok"


@server.tool
def confinement(marker: str, linger_s: float = 1.0) -> dict[str, Any]:
    """What a call sees of its own confinement; lingers, renamed, so the host can inspect it."""
    _set_name(marker)
    limits = {name: resource.getrlimit(getattr(resource, f"RLIMIT_{name}"))[0]
              for name in ("AS", "CPU", "NOFILE", "NPROC", "FSIZE", "CORE")}
    facts = {"pid": os.getpid(), "ppid": os.getppid(), "uid": os.getuid(), "gid": os.getgid(),
             "proc_mounted": os.path.exists("/proc/1") or os.path.exists("/proc/self"),
             "root_read_only": bool(os.statvfs("/").f_flag & os.ST_RDONLY), "rlimits": limits,
             "no_new_privs": _LIBC.prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0),
             "host_git_config_visible": HOST_GIT_CONFIG.exists()}
    time.sleep(linger_s)
    return facts


@server.tool
def nap(marker: str, seconds: float = 2.0) -> str:
    """A victim: renamed so the host sees it, then asleep; must finish whatever other calls do."""
    _set_name(marker)
    time.sleep(seconds)
    return "rested"


# --- Network -----------------------------------------------------------------------------------

@server.tool
def outbound_tcp(host: str = "1.1.1.1", port: int = 53) -> str:
    with socket.create_connection((host, port), timeout=2) as conn:
        return f"ESCAPED: connected to {host}:{port} from {conn.getsockname()}"


@server.tool
def outbound_udp(host: str = "1.1.1.1", port: int = 53, payload: str = "sandgate") -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sent = sock.sendto(payload.encode(), (host, port))
    return f"ESCAPED: sent {sent} bytes to {host}:{port}"


@server.tool
def dns_lookup(name: str = "example.com") -> str:
    addresses = sorted({str(info[4][0]) for info in socket.getaddrinfo(name, 443, type=socket.SOCK_STREAM)})
    return f"ESCAPED: {name} is {', '.join(addresses)}"


@server.tool
def raw_socket() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as sock:
        return f"ESCAPED: raw ICMP socket on fd {sock.fileno()}"


@server.tool
def netlink_socket() -> str:
    """Dump the network links over rtnetlink (RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP)."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0) as sock:  # NETLINK_ROUTE
        sock.bind((0, 0))
        sock.send(struct.pack("=IHHII", 32, 18, 0x301, 1, 0) + struct.pack("=BxHiII", 0, 0, 0, 0, 0))
        reply = sock.recv(65536)
    return f"ESCAPED: {len(reply)} bytes of link dump"


@server.tool
def packet_socket() -> str:
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003)) as sock:  # ETH_P_ALL
        return f"ESCAPED: packet socket on fd {sock.fileno()}"


# --- Resource exhaustion -----------------------------------------------------------------------

@server.tool
def fork_bomb(marker: str, attempts: int = 10_000, linger_s: float = 1.0) -> str:
    """Fork sleeping children until refused; linger so the host can count them, then re-raise."""
    _require_confinement(resource.RLIMIT_NPROC)
    _set_name(marker)
    children = 0
    try:
        for _ in range(attempts):
            if os.fork() == 0:
                try:
                    time.sleep(60)
                finally:
                    os._exit(0)
            children += 1
    except OSError:
        time.sleep(linger_s)
        raise
    return f"ESCAPED: forked {children} children"


@server.tool
def thread_bomb(marker: str, attempts: int = 10_000, linger_s: float = 1.0) -> str:
    _require_confinement(resource.RLIMIT_NPROC)
    _set_name(marker)
    forever = threading.Event()
    started = 0
    try:
        for _ in range(attempts):
            threading.Thread(target=forever.wait, args=(60,), daemon=True).start()
            started += 1
    except RuntimeError:
        time.sleep(linger_s)
        raise
    return f"ESCAPED: started {started} threads"


@server.tool
def memory_bomb(target_mib: int = 2048) -> str:
    _require_confinement(resource.RLIMIT_AS)
    held = []
    for _ in range(0, target_mib, 64):
        block = bytearray(64 * MIB)
        block[::mmap.PAGESIZE] = b"\x01" * (64 * MIB // mmap.PAGESIZE)  # touched: real pages
        held.append(block)
    return f"ESCAPED: holding {len(held) * 64} MiB"


@server.tool(sandbox=Sandbox(wall_time=1))
def cpu_spin() -> str:
    _require_confinement()
    while True:
        pass


@server.tool(sandbox=Sandbox(cpu_time=1, wall_time=30))
def cpu_burn() -> str:
    _require_confinement(resource.RLIMIT_CPU)
    while True:
        pass


@server.tool(sandbox=Sandbox(wall_time=1))
def sleep_forever() -> str:
    _require_confinement()
    time.sleep(3600)
    return "ESCAPED: woke up"


@server.tool(sandbox=Sandbox(memory="1Gi"))  # room to build the reply: only the output cap may stop it
def endless_output(mib: int = 100) -> str:
    return "x" * (mib * MIB)


@server.tool(sandbox=Sandbox(wall_time=2))
def stdout_flood(mib: int = 64) -> str:
    """Write past the output cap to fd 1 and 2, aiming at the gateway's log or pipes."""
    _require_confinement()
    chunk = b"sandgate-flood\n" * 4096
    for fd in (1, 2):
        written = 0
        while written < mib * MIB:
            written += os.write(fd, chunk)
    return f"wrote {mib} MiB to each of stdout and stderr"


@server.tool
def fd_exhaustion(count: int = 100_000) -> str:
    opened: list[int] = []
    try:
        for _ in range(count):
            opened.append(os.open("/dev/null", os.O_RDONLY))
    finally:
        for fd in opened:
            os.close(fd)
    return f"ESCAPED: held {len(opened)} descriptors"


# --- Filesystem --------------------------------------------------------------------------------

@server.tool
def write_file(path: str, content: str = "sandgate escape") -> str:
    """Create `path`; neutral on success, since writing a private /tmp is fine: the host judges."""
    with open(path, "x") as handle:  # never overwrites: an existing file stays untouched
        handle.write(content)
    return f"wrote {path}"


@server.tool
def tamper_own_module() -> str:
    """Open this very module for appending; opening is the escape, nothing is written."""
    fd = os.open(__file__, os.O_WRONLY | os.O_APPEND)
    os.close(fd)
    return f"ESCAPED: opened {__file__} for writing"


@server.tool
def fill_scratch(tag: str, total_mib: int = 64, file_mib: int = 4) -> str:
    """Files under the per-file limit until the scratch tmpfs is full (ENOSPC)."""
    _require_confinement()
    block = b"\0" * MIB
    for index in range(total_mib // file_mib):
        with open(f"/tmp/sandgate-fill-{tag}-{index}", "wb") as handle:
            for _ in range(file_mib):
                handle.write(block)
                handle.flush()
    return f"ESCAPED: wrote {total_mib} MiB to /tmp"


@server.tool
def big_file(tag: str, mib: int = 64) -> str:
    """One file past the file-size limit (RLIMIT_FSIZE: SIGXFSZ or EFBIG)."""
    _require_confinement(resource.RLIMIT_FSIZE)
    block = b"\0" * MIB
    with open(f"/tmp/sandgate-big-{tag}", "wb", buffering=0) as handle:
        for _ in range(mib):
            handle.write(block)
    return f"ESCAPED: wrote a {mib} MiB file"


@server.tool
def write_scratch(name: str, content: str) -> str:
    """Write /tmp/<name> and read it back within the same call."""
    path = Path("/tmp") / name
    path.write_text(content)
    return path.read_text()


@server.tool
def read_scratch(name: str) -> str:
    return (Path("/tmp") / name).read_text()


@server.tool
def read_shadow() -> str:
    return "ESCAPED: " + Path("/etc/shadow").read_text()


@server.tool
def read_host_file(path: str = str(HOST_GIT_CONFIG)) -> str:
    return "ESCAPED: " + Path(path).read_text()


@server.tool
def proc_self_mem() -> str:
    """Patch our own memory through /proc/self/mem (the primitive behind many escapes)."""
    target = ctypes.create_string_buffer(b"sandgate")
    with open("/proc/self/mem", "r+b", buffering=0) as mem:
        mem.seek(ctypes.addressof(target))
        mem.write(b"S")
    return f"ESCAPED: wrote own memory, now {target.value!r}"


@server.tool
def proc_root_traversal(path: str = str(HOST_GIT_CONFIG), pid: int = 1) -> str:
    """Read a host file through /proc/<pid>/root, the root directory another process sees."""
    return "ESCAPED: " + Path(f"/proc/{pid}/root{path}").read_text()


# --- Processes ---------------------------------------------------------------------------------

@server.tool
def execve_shell() -> str:
    _require_confinement()
    os.execv("/bin/sh", ["sh", "-c", "id"])


@server.tool
def os_system() -> str:
    out = Path(f"/tmp/sandgate-id-{os.getpid()}")
    status = os.system(f"/usr/bin/id > {out}")
    if status != 0:
        raise ChildProcessError(f"os.system returned wait status {status}")
    try:
        return "ESCAPED: " + out.read_text()
    finally:
        out.unlink()


@server.tool
def subprocess_run() -> str:
    done = subprocess.run(["/usr/bin/id"], capture_output=True, check=True, timeout=2)
    return "ESCAPED: " + done.stdout.decode()


@server.tool
def ptrace_parent() -> str:
    _require_confinement()
    return _ptrace(os.getppid())


@server.tool
def ptrace_attach(pid: int) -> str:
    _require_confinement()
    return _ptrace(pid)


def _ptrace(pid: int) -> str:
    _syscall("ptrace", PTRACE_ATTACH, pid, 0, 0)
    _syscall("ptrace", PTRACE_DETACH, pid, 0, 0)  # reached only if the sandbox failed
    return f"ESCAPED: attached to pid {pid}"


@server.tool
def process_vm_readv(pid: int) -> str:
    """Read another process's memory at an address this one also has (a forked zygote shares it)."""
    _require_confinement()
    source = ctypes.create_string_buffer(64)
    target = ctypes.create_string_buffer(64)
    local = struct.pack("=QQ", ctypes.addressof(target), 64)
    remote = struct.pack("=QQ", ctypes.addressof(source), 64)
    local_iov, remote_iov = ctypes.create_string_buffer(local), ctypes.create_string_buffer(remote)
    read = _syscall("process_vm_readv", pid, local_iov, 1, remote_iov, 1, 0)
    return f"ESCAPED: read {read} bytes of pid {pid}"


@server.tool
def kill_everything() -> str:
    _require_confinement()
    os.kill(-1, signal.SIGKILL)
    return "kill(-1, SIGKILL) returned"


@server.tool
def kill_pid(pid: int) -> str:
    _require_confinement()
    os.kill(pid, signal.SIGKILL)
    return f"kill({pid}, SIGKILL) returned"


@server.tool
def kill_parent() -> str:
    """SIGKILL to getppid(): 0 inside a fresh PID namespace, which means our process group."""
    _require_confinement()
    os.kill(os.getppid(), signal.SIGKILL)
    return f"kill({os.getppid()}, SIGKILL) returned"


@server.tool
def spawn_daemon(marker: str, linger_s: float = 1.0) -> str:
    """Classic double-fork daemon that closes every fd and writes a heartbeat forever."""
    _require_confinement()
    _set_name(marker)
    heartbeat = Path(f"/tmp/sandgate-heartbeat-{marker}")
    first = os.fork()
    if first == 0:
        try:
            os.setsid()
            if os.fork() == 0:
                os.closerange(0, 65536)
                while True:
                    heartbeat.write_text(str(time.time()))
                    time.sleep(0.05)
        finally:
            os._exit(0)
    os.waitpid(first, 0)
    deadline = time.monotonic() + 2
    while not heartbeat.exists():
        if time.monotonic() > deadline:
            raise TimeoutError("the daemon never wrote its heartbeat")
        time.sleep(0.01)
    time.sleep(linger_s)
    return "daemon detached"


# --- Kernel attack surface ---------------------------------------------------------------------

@server.tool
def io_uring_setup() -> str:
    _require_confinement()
    params = ctypes.create_string_buffer(120)  # struct io_uring_params
    return _escaped_by_syscall("io_uring_setup", 8, params)


@server.tool
def bpf_prog_load() -> str:
    """BPF_PROG_LOAD of a two-instruction socket filter: r0 = 0; exit."""
    _require_confinement()
    insns = ctypes.create_string_buffer(struct.pack("=BBhiBBhi", 0xB7, 0, 0, 0, 0x95, 0, 0, 0))
    license_ = ctypes.create_string_buffer(b"GPL")
    attr = ctypes.create_string_buffer(struct.pack(
        "=IIQQ", 1, 2, ctypes.addressof(insns), ctypes.addressof(license_)).ljust(128, b"\0"))
    return _escaped_by_syscall("bpf", 5, attr, 128)


@server.tool
def userfaultfd() -> str:
    _require_confinement()
    return _escaped_by_syscall("userfaultfd", os.O_CLOEXEC | os.O_NONBLOCK)


@server.tool
def keyctl() -> str:
    _require_confinement()
    return _escaped_by_syscall("keyctl", 0, -4, 0)  # KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING


@server.tool
def add_key() -> str:
    _require_confinement()
    kind, description, payload = (ctypes.create_string_buffer(v) for v in (b"user", b"sandgate", b"x"))
    return _escaped_by_syscall("add_key", kind, description, payload, 1, -2)  # process keyring


@server.tool
def unshare_user() -> str:
    _require_confinement()
    return _escaped_by_syscall("unshare", CLONE_NEWUSER)


@server.tool
def clone_newns() -> str:
    _require_confinement()
    return _escaped_by_syscall("clone", CLONE_NEWNS | signal.SIGCHLD, 0, 0, 0, 0)


@server.tool
def clone3_newuser() -> str:
    """clone3 must fail with ENOSYS: its flags live in memory, where seccomp cannot look."""
    _require_confinement()
    args = ctypes.create_string_buffer(struct.pack("=QQQQQQQQQQQ", CLONE_NEWUSER, 0, 0, 0,
                                                   signal.SIGCHLD, 0, 0, 0, 0, 0, 0))
    return _escaped_by_syscall("clone3", args, 88)


@server.tool
def mount_tmpfs() -> str:
    _require_confinement()
    os.makedirs("/tmp/sandgate-mnt", exist_ok=True)
    source, target, kind = (ctypes.c_char_p(v) for v in (b"none", b"/tmp/sandgate-mnt", b"tmpfs"))
    return _escaped_by_syscall("mount", source, target, kind, 0, 0)


@server.tool
def pivot_root() -> str:
    _require_confinement()
    os.makedirs("/tmp/sandgate-old", exist_ok=True)
    return _escaped_by_syscall("pivot_root", ctypes.c_char_p(b"/tmp"), ctypes.c_char_p(b"/tmp/sandgate-old"))


@server.tool
def chroot_escape() -> str:
    """chroot into a subdirectory, climb out with chdir(".."), chroot(".") the real root."""
    _require_confinement()
    os.makedirs("/tmp/sandgate-jail", exist_ok=True)
    os.chroot("/tmp/sandgate-jail")
    for _ in range(64):
        os.chdir("..")
    os.chroot(".")
    return f"ESCAPED: / holds {sorted(os.listdir('/'))}"


@server.tool
def setuid_root() -> str:
    os.setgid(0)
    os.setuid(0)
    return "ESCAPED: " + Path("/etc/shadow").read_text()


@server.tool
def tiocsti() -> str:
    """Push a command into the controlling terminal's input queue."""
    _require_confinement()
    for char in b"id\n":
        fcntl.ioctl(0, termios.TIOCSTI, bytes([char]))
    return "ESCAPED: typed into the terminal"


@server.tool
def tiocsti_high_bits() -> str:
    """TIOCSTI with bit 32 set: the kernel truncates cmd to 32 bits, a 64-bit compare would not."""
    _require_confinement()
    char = ctypes.create_string_buffer(b"x")
    return _escaped_by_syscall("ioctl", 0, termios.TIOCSTI | (1 << 32), char)


@server.tool
def tioclinux() -> str:
    _require_confinement()
    subcode = ctypes.create_string_buffer(b"\x06")  # TIOCL_GETSHIFTSTATE
    return _escaped_by_syscall("ioctl", 0, TIOCLINUX, subcode)


@server.tool
def perf_event_open() -> str:
    _require_confinement()
    attr = ctypes.create_string_buffer(struct.pack("=IIQ", 1, 128, 0).ljust(128, b"\0"))  # SW CPU clock
    return _escaped_by_syscall("perf_event_open", attr, 0, -1, -1, 0)


@server.tool
def kexec_load() -> str:
    _require_confinement()
    return _escaped_by_syscall("kexec_load", 0, 0, 0, 0)


@server.tool
def finit_module() -> str:
    _require_confinement()
    fd = os.open("/dev/null", os.O_RDONLY)
    return _escaped_by_syscall("finit_module", fd, ctypes.c_char_p(b""), 0)


@server.tool
def i386_syscall() -> str:
    """getpid through `int 0x80`: the i386 table, which an x86_64-only filter must not allow."""
    _require_confinement()
    code = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    code.write(bytes([0xB8, 20, 0, 0, 0, 0xCD, 0x80, 0xC3]))  # mov eax, 20; int 0x80; ret
    function = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(code)))
    return f"ESCAPED: i386 getpid returned {function()}"


@server.tool
def x32_syscall() -> str:
    _require_confinement()
    return _escaped_by_syscall(SYSCALLS["getpid"] | X32_SYSCALL_BIT)


# --- Violation reports -------------------------------------------------------------------------

AUDIT_ARCH_X86_64 = 0xC000003E


def _call_socket() -> int:
    """The call's socket to the gateway: the one descriptor beyond stdio that is a socket."""
    for fd in range(3, 256):
        with contextlib.suppress(OSError):
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                return fd
    raise RuntimeError("the call has no socket to the gateway")


@server.tool
def forge_violation(then: str = "return") -> str:
    """Claim an execve violation on the call socket, then `return`, `segfault` or make a real
    `keyctl` violation: only a death by SIGSYS makes the gateway believe a report, the last one."""
    _require_confinement()
    body = json.dumps({"violation": {"syscall": 59, "arch": AUDIT_ARCH_X86_64}}).encode()
    os.write(_call_socket(), struct.pack(">I", len(body)) + body)
    if then == "segfault":
        ctypes.string_at(0)
    elif then == "keyctl":
        return _escaped_by_syscall("keyctl", 0, -4, 0)
    return "forged"


# Room for the thread: RLIMIT_NPROC counts every process of the call's uid, other gateways' too.
@server.tool(sandbox=Sandbox(max_processes=256))
def violate_in_thread() -> str:
    """bpf from a second thread while the first waits for it: the report comes from that thread."""
    _require_confinement()
    worker = threading.Thread(target=_syscall, args=("bpf", 0, 0, 0))
    worker.start()
    worker.join()
    return "ESCAPED: bpf returned in a second thread"


@server.tool(isolation="per_session")
def session_keyctl() -> str:
    """A per_session worker's violation: named like a per_call one."""
    _require_confinement()
    return _escaped_by_syscall("keyctl", 0, -4, 0)


# --- State between calls -----------------------------------------------------------------------

_PER_CALL_STASH: list[str] = []  # mutable on purpose: what leaks between calls is the question
_PER_SESSION_MEMORY: list[str] = []


@server.tool
def stash(value: str) -> str:
    """Append to a module global and return what was there before."""
    previous = _PER_CALL_STASH[-1] if _PER_CALL_STASH else ""
    _PER_CALL_STASH.append(value)
    return previous


@server.tool(isolation="per_session")
def remember(value: str) -> str:
    """Like `stash`, in the worker of one session."""
    previous = _PER_SESSION_MEMORY[-1] if _PER_SESSION_MEMORY else ""
    _PER_SESSION_MEMORY.append(value)
    return previous


@server.tool(isolation="per_session")
def mark_session_worker(marker: str) -> str:
    _set_name(marker)
    return marker


@server.tool
def list_fds(limit: int = 65536) -> list[dict[str, Any]]:
    """Every open descriptor below `limit`; sockets with family, type, listening and address."""
    found = []
    for fd in range(limit):
        try:
            mode = os.fstat(fd).st_mode
        except OSError as exc:
            if exc.errno == errno.EBADF:
                continue
            raise
        entry: dict[str, Any] = {"fd": fd, "kind": _kind(mode)}
        if stat.S_ISSOCK(mode):
            entry.update(_describe_socket(fd))
        found.append(entry)
    return found


def _kind(mode: int) -> str:
    kinds = {stat.S_ISSOCK: "socket", stat.S_ISFIFO: "fifo", stat.S_ISCHR: "char",
             stat.S_ISREG: "file", stat.S_ISDIR: "dir", stat.S_ISBLK: "block", stat.S_ISLNK: "link"}
    return next((name for test, name in kinds.items() if test(mode)), "other")


def _describe_socket(fd: int) -> dict[str, Any]:
    with socket.socket(fileno=os.dup(fd)) as sock:
        try:
            address = repr(sock.getsockname())
        except OSError as exc:
            address = f"{type(exc).__name__}: {exc}"
        return {"family": getattr(sock.family, "name", sock.family),
                "type": getattr(sock.type, "name", sock.type),
                "listening": bool(sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)),
                "address": address}
