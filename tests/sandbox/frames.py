"""Hostile call children: tools that write raw frames on their own call socket, bypassing the
child's serializer, then exit or linger. The gateway must parse none of it on trust.

`sandgate serve tests/sandbox/frames.py` serves them and tests/sandbox/test_protocol.py judges.
The call socket is the child's only descriptor besides 0-2; a frame is a 4-byte big-endian
length and that many bytes. The conventions are attacks.py's: `NotSandboxed` instead of running
outside a confined call (these tools exit or never return), `ESCAPED` never expected.
"""

from __future__ import annotations

import base64
import os
import stat
import struct
import time
from typing import NoReturn

from attacks import _require_confinement, _set_name  # served as a file: its directory is on sys.path
from sandgate import MCPServer, Sandbox

server = MCPServer(
    "sandgate-frames",
    version="1.0.0",
    sandbox=Sandbox(wall_time=2, cpu_time=2, memory="256Mi", max_output="1Mi", max_processes=16,
                    max_open_files=64, scratch="4Mi"),
)

HEADER = struct.Struct(">I")
FIRST_FD, LAST_FD = 3, 64
LINGER_NAP_S = 3600.0
AFTER = ("exit", "linger")


def _call_socket() -> int:
    """The descriptor the zygote handed this call: the only socket past stdio."""
    found = []
    for fd in range(FIRST_FD, LAST_FD + 1):
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                found.append(fd)
        except OSError:
            continue
    if len(found) != 1:
        raise RuntimeError(f"expected exactly one call socket, found descriptors {found}")
    return found[0]


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _frame(payload: bytes) -> bytes:
    return HEADER.pack(len(payload)) + payload


def _finish(after: str) -> NoReturn:
    """Never returns to the child's own code: it would write a proper reply."""
    if after == "linger":
        while True:
            time.sleep(LINGER_NAP_S)
    os._exit(0)


def _start(after: str, marker: str) -> int:
    if after not in AFTER:
        raise ValueError(f"after is one of {AFTER}")
    _require_confinement()
    if marker:
        _set_name(marker)
    return _call_socket()


@server.tool
def add(a: int, b: int) -> int:
    """The call every test makes after an attack."""
    return a + b


@server.tool
def raw(frames: list[str], after: str = "exit", marker: str = "", delay: float = 0.0,
        fork: bool = False) -> str:
    """Writes each base64 payload as one frame after `delay` s, then exits or lingers; named `marker`,
    with a forked child of the same name when `fork`."""
    fd = _start(after, marker)
    if fork and os.fork() == 0:
        _finish("linger")
    time.sleep(delay)
    for payload in frames:
        _write_all(fd, _frame(base64.b64decode(payload)))
    _finish(after)


@server.tool
def nested(depth: int, after: str = "exit") -> str:
    """One frame of `depth` opening brackets: deeper than any parser goes."""
    fd = _start(after, "")
    _write_all(fd, _frame(b"[" * depth))
    _finish(after)


@server.tool
def long_number(digits: int, after: str = "exit") -> str:
    """A reply whose status is a number of `digits` digits."""
    fd = _start(after, "")
    _write_all(fd, _frame(b'{"status":' + b"7" * digits + b',"body":"{\\"content\\":[]}"}'))
    _finish(after)


@server.tool
def claim_size(size: int, marker: str = "") -> str:
    """A frame header announcing `size` bytes, then a few of them, then lingering."""
    fd = _start("linger", marker)
    _write_all(fd, HEADER.pack(size) + b"{" * 64)
    _finish("linger")


@server.tool
def close_and_linger(marker: str) -> str:
    """Closes the call socket without a reply and lives on: only the wall time ends it."""
    fd = _start("linger", marker)
    os.close(fd)
    _finish("linger")


@server.tool(isolation="per_session")
def session_count(marker: str = "") -> int:
    """How many calls this session's worker has served, itself included."""
    _require_confinement()
    if marker:
        _set_name(marker)
    global _served  # noqa: PLW0603 - the worker's state is the point of per_session
    _served += 1
    return _served


_served = 0


@server.tool(isolation="per_session")
def session_raw(frames: list[str], after: str = "linger") -> str:
    """`raw` on the session's worker."""
    fd = _start(after, "")
    for payload in frames:
        _write_all(fd, _frame(base64.b64decode(payload)))
    _finish(after)
