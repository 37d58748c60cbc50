"""Two calls trying to meet: the "calls are islands" attacks, each a real tool doing the real thing.

`sandgate serve tests/sandbox/islands.py` serves them and tests/sandbox/test_islands.py judges.
Every call of a zygote shares its network namespace (abstract Unix addresses), its IPC namespace
(SysV keys, POSIX queue names) and, hidden below each call's private /tmp, its scratch directory:
one call of a session leaves something there, a call of another session picks it up. The
conventions are attacks.py's: `ESCAPED` when the goal is reached (the receiving side says so),
and `NotSandboxed` instead of running outside a confined call.
"""

from __future__ import annotations

import ctypes
import os
import select
import socket
import time

from attacks import _require_confinement, _set_name  # served as a file: its directory is on sys.path
from sandgate import MCPServer, Sandbox

server = MCPServer(
    "sandgate-islands",
    version="1.0.0",
    sandbox=Sandbox(wall_time=10, cpu_time=5, memory="256Mi", max_processes=16, max_open_files=64, scratch="4Mi"),
)

SEGMENT_BYTES = 4096
IPC_CREAT, IPC_RMID, SHM_RDONLY = 0o1000, 0, 0o10000
SHMAT_FAILED = ctypes.c_void_p(-1).value
AF_UNSPEC_ADDRESS = bytes(16)  # struct sockaddr with sa_family 0: "disconnect" for connect(2)
RECEIVE_BYTES = 4096

_LIBC = ctypes.CDLL(None, use_errno=True)
_LIBC.shmat.restype = ctypes.c_void_p
_LIBC.shmat.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_int)
_LIBC.shmdt.argtypes = (ctypes.c_void_p,)
_LIBC.connect.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_uint)


def _checked(result: int, what: str) -> int:
    if result == -1:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")
    return result


def _abstract(name: str) -> bytes:
    return b"\0" + name.encode()


def _refused(what: str, errors: list[OSError]) -> OSError:
    """PermissionError when every way was refused by policy; otherwise the first other error."""
    other = [error for error in errors if not isinstance(error, PermissionError)]
    if other:
        return other[0]
    return PermissionError(f"{what}: " + "; ".join(str(error) for error in errors))


@server.tool
def add(a: int, b: int) -> int:
    """The call every test makes after an attack."""
    return a + b


@server.tool
def linger(marker: str, seconds: float = 1.0) -> str:
    """Named and waiting, so the host can look at the call's seccomp filters."""
    _require_confinement()
    _set_name(marker)
    time.sleep(seconds)
    return "lingered"


# --- Abstract Unix addresses (the network namespace) -------------------------------------------

def _bind_fresh_socket(name: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(_abstract(name))
    return sock


def _bind_disconnected_pair(name: str) -> socket.socket:
    """A socketpair's datagram end, disconnected with connect(AF_UNSPEC), then bound."""
    sock, other = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    other.close()
    _checked(_LIBC.connect(sock.fileno(), AF_UNSPEC_ADDRESS, len(AF_UNSPEC_ADDRESS)), "connect(AF_UNSPEC)")
    sock.bind(_abstract(name))
    return sock


def _autobind_orphaned_pair(name: str) -> socket.socket:
    """No bind at all: with credential passing on, a send autobinds an abstract name, and a send to
    the closed other end resets the peer, so anyone who finds the name can reach the socket."""
    sock, other = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    other.close()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    try:
        sock.send(b"x")
    except ConnectionRefusedError:
        pass  # expected: the peer is gone, and now forgotten
    if not sock.getsockname():
        raise PermissionError(f"no name was autobound for {name}")
    return sock


@server.tool
def abstract_listen(name: str, marker: str, wait_s: float = 3.0) -> str:
    """Get an abstract address every way the kernel offers, then wait `wait_s` for a datagram."""
    _require_confinement()
    _set_name(marker)
    listening: list[socket.socket] = []
    errors: list[OSError] = []
    for way in (_bind_fresh_socket, _bind_disconnected_pair, _autobind_orphaned_pair):
        try:
            listening.append(way(name))
        except OSError as exc:
            errors.append(exc)
    if not listening:
        raise _refused("no abstract address", errors)
    deadline = time.monotonic() + wait_s
    while (left := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select(listening, [], [], left)
        for sock in readable:
            return f"ESCAPED: {sock.getsockname()!r} received {sock.recv(RECEIVE_BYTES)!r}"
    return f"listened at {[sock.getsockname() for sock in listening]!r}; nothing arrived"


@server.tool
def abstract_send(name: str, secret: str, names: list[str] | None = None) -> str:
    """Send `secret` to the abstract `name` (and `names`, found for us by the host) every way."""
    _require_confinement()
    payload = secret.encode()
    errors: list[OSError] = []
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(payload, _abstract(name))
            return f"ESCAPED: sent to {name!r} from a fresh datagram socket"
    except OSError as exc:
        errors.append(exc)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(_abstract(name))
            sock.sendall(payload)
            return f"ESCAPED: connected to {name!r} and sent"
    except OSError as exc:
        errors.append(exc)
    # sendto with an address needs no bind or connect: only a socket that has a name, and no peer
    # but us, receives it. A refusal here is the kernel's (no such name), not the filter's.
    sender, _ = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    for target in [name, *(names or [])]:
        try:
            sender.sendto(payload, _abstract(target))
            return f"ESCAPED: sent to {target!r} from a socketpair"
        except OSError:
            continue
    raise _refused("nothing sent", errors)


# --- SysV shared memory (the IPC namespace) ----------------------------------------------------

@server.tool
def shm_write(key: int, secret: str) -> str:
    """Leave `secret` in a SysV segment under `key` for a later call; neutral: the reader judges."""
    _require_confinement()
    segment = _checked(_LIBC.shmget(key, SEGMENT_BYTES, IPC_CREAT | 0o666), "shmget")
    address = _LIBC.shmat(segment, None, 0)
    if address in (None, SHMAT_FAILED):
        _checked(-1, "shmat")
    data = secret.encode()[:SEGMENT_BYTES]
    ctypes.memmove(address, data, len(data))
    _LIBC.shmdt(address)
    return f"wrote {len(data)} bytes to segment {segment} under key {key:#x}"


@server.tool
def shm_read(key: int) -> str:
    """Read (then remove) the segment under `key`, left by an earlier call."""
    _require_confinement()
    segment = _checked(_LIBC.shmget(key, 0, 0), "shmget")
    address = _LIBC.shmat(segment, None, SHM_RDONLY)
    if address in (None, SHMAT_FAILED):
        _checked(-1, "shmat")
    data = ctypes.string_at(address, SEGMENT_BYTES).rstrip(b"\0")
    _LIBC.shmdt(address)
    _LIBC.shmctl(segment, IPC_RMID, None)
    return f"ESCAPED: segment {segment} under key {key:#x} held {data!r}"


# --- The zygote's scratch, below the call's own /tmp -------------------------------------------

@server.tool
def write_relative(name: str, content: str) -> str:
    """Create `name` relative to the working directory; neutral: the reader and the host judge."""
    _require_confinement()
    with open(name, "x") as handle:  # never overwrites
        handle.write(content)
    return f"wrote {name} in {os.getcwd()}"


@server.tool
def read_relative(name: str) -> str:
    """Read `name` relative to the working directory, as an earlier call left it."""
    _require_confinement()
    with open(name) as handle:
        return f"ESCAPED: {os.getcwd()}/{name} held {handle.read()!r}"
