"""Calls are islands. Every call of a zygote shares its network namespace, its IPC namespace and,
hidden below the call's own /tmp, the zygote's scratch; none of them may become a place where two
calls meet (a call of one session leaving something for a call of another). islands.py makes
each attempt for real; the host judges where it can, and a normal call follows every attempt."""

from __future__ import annotations

import contextlib
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .harness import Gateway, Watch, expect
from .host import named, status, wait_until

ISLANDS = Path(__file__).resolve().parent / "islands.py"
REFUSED = {"tool_error": {"PermissionError"}}
LISTEN_S = 3.0  # the listener's wait for a datagram, with the sender running meanwhile
SEEN_TIMEOUT_S = 5.0
SETTLE_S = 0.3  # once the listener shows up on the host: time to try its addresses
LINGER_S = 1.0
HOST_READ_TIMEOUT_S = 10.0
CLONE_NEWIPC = 0x08000000
MAX_SYSV_KEY = 0x7FFFFFFF

# Run in a fresh interpreter: it joins the IPC namespace given as argv[1] and prints
# /proc/sysvipc/shm, which lists the segments of the reader's own IPC namespace.
_READ_SEGMENTS = """
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.setns(os.open(sys.argv[1], os.O_RDONLY), int(sys.argv[2])) != 0:
    sys.exit(f"setns: errno {ctypes.get_errno()}")
sys.stdout.write(open("/proc/sysvipc/shm").read())
"""


@pytest.fixture(scope="module")
def islands() -> Iterator[Gateway]:
    with Gateway(ISLANDS).serving() as served:
        yield served


def abstract_names(pids: list[int]) -> list[str]:
    """The abstract Unix addresses in the network namespaces of `pids` (an oracle no call has)."""
    found: set[str] = set()
    for pid in pids:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            for line in Path(f"/proc/{pid}/net/unix").read_text().splitlines()[1:]:
                fields = line.split()
                if len(fields) == 8 and fields[7].startswith("@"):
                    found.add(fields[7][1:])
    return sorted(found)


def sysv_segment_keys(pid: int) -> set[int]:
    """The keys of the SysV shared-memory segments in the IPC namespace of `pid`."""
    done = subprocess.run([sys.executable, "-c", _READ_SEGMENTS, f"/proc/{pid}/ns/ipc", str(CLONE_NEWIPC)],
                          capture_output=True, text=True, timeout=HOST_READ_TIMEOUT_S, check=True)
    return {int(line.split()[0]) for line in done.stdout.splitlines()[1:] if line.strip()}


def test_calls_inherit_the_zygote_filter_under_their_own(islands: Gateway, marker: str) -> None:
    """The premise of the rest: the zygote's profile constrains every call, the call's stacked on it."""
    zygote_filters = {int(status(pid)["Seccomp_filters"]) for pid in islands.zygotes}
    assert all(status(pid)["Seccomp"] == "2" for pid in islands.zygotes), "a zygote runs without seccomp"
    call = Watch(lambda: islands.call("linger", marker=marker, seconds=LINGER_S))
    assert wait_until(lambda: bool(named(marker)), SEEN_TIMEOUT_S), "the call never showed up on the host"
    call_filters = int(status(named(marker)[0])["Seccomp_filters"])
    expect(call.result(), {"ok": None})
    assert zygote_filters == {call_filters - 1}, (zygote_filters, call_filters)


def test_two_calls_cannot_meet_on_an_abstract_socket(islands: Gateway, marker: str, token: str) -> None:
    name = f"sandgate-island-{token}"
    secret = f"secret-{secrets.token_hex(8)}"
    listener = Watch(lambda: islands.call("abstract_listen", name=name, marker=marker, wait_s=LISTEN_S))
    assert wait_until(lambda: bool(named(marker)) or not listener.running, SEEN_TIMEOUT_S), \
        "the listener neither showed up on the host nor returned"
    time.sleep(SETTLE_S)
    # Whatever name the listener got, bound or autobound, the sender is told: stronger than a scan.
    names = abstract_names(named(marker))
    sender = expect(islands.attack("abstract_send", name=name, secret=secret, names=names), REFUSED)
    listened = expect(listener.result(), REFUSED)
    islands.assert_serving()
    assert secret not in listened.text + sender.text


def test_a_sysv_segment_does_not_reach_the_next_call(islands: Gateway, token: str) -> None:
    key = int(token, 16) % MAX_SYSV_KEY + 1  # IPC_PRIVATE is 0
    secret = f"secret-{secrets.token_hex(8)}"
    expect(islands.attack("shm_write", key=key, secret=secret), REFUSED)
    for zygote in islands.zygotes:
        assert key not in sysv_segment_keys(zygote), f"a segment under {key:#x} exists in the zygote's IPC namespace"
    read = expect(islands.attack("shm_read", key=key), REFUSED)
    assert secret not in read.text


def test_a_relative_scratch_file_does_not_reach_the_next_call(islands: Gateway, token: str) -> None:
    name = f"sandgate-relative-{token}"
    secret = f"secret-{secrets.token_hex(8)}"
    expect(islands.attack("write_relative", name=name, content=secret), {"ok": None})
    for zygote in islands.zygotes:  # the zygote's shared scratch, seen from the host as root
        assert not Path(f"/proc/{zygote}/root/tmp/{name}").exists(), "the file landed in the zygote's scratch"
    read = expect(islands.attack("read_relative", name=name), {"tool_error": {"FileNotFoundError"}})
    assert secret not in read.text
