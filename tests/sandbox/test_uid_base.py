"""As root (how the suite runs), each concurrent call runs as host uid call_uid_base + slot and the
zygote as call_uid_base + CALL_UID_SLOTS, all unprivileged: the base is the operator's setting, so
two gateways on one machine need not share uids (and with them RLIMIT_NPROC counts)."""

from __future__ import annotations

import contextlib
from pathlib import Path

from sandgate import _sandbox

from . import uid_base
from .harness import Gateway, Watch
from .host import named, status, wait_until

SLOTS = _sandbox.CALL_UID_SLOTS


def host_ids(pid: int) -> tuple[int, int]:
    fields = status(pid)
    return int(fields["Uid"].split()[0]), int(fields["Gid"].split()[0])


def running_ids(marker: str, seen: list[tuple[int, int]]) -> bool:
    """Appends the ids of a process named `marker`; the previous call's may vanish while it is read."""
    for pid in named(marker):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            seen.append(host_ids(pid))
            return True
    return False


def test_calls_run_in_the_configured_uid_range(marker: str) -> None:
    base = uid_base.CALL_UID_BASE
    gateway = Gateway(Path(uid_base.__file__), ["--set", f"call_uid_base={base}"]).start()
    try:
        for zygote in gateway.zygote_pids():
            assert host_ids(zygote) == (base + SLOTS, base + SLOTS)
        for _ in range(3):
            watch = Watch(lambda: gateway.call("hold", marker=marker, seconds=1.0))
            seen: list[tuple[int, int]] = []
            assert wait_until(lambda: running_ids(marker, seen), 5.0), "the call never showed up on the host"
            uid, gid = seen[0]
            assert base <= uid < base + SLOTS and gid == uid, uid
            assert watch.result().value == "held"
        inside_uid, inside_gid = gateway.call("ids").value
        assert 1 <= inside_uid <= SLOTS and inside_gid == inside_uid  # ids inside the user namespace
    finally:
        gateway.stop()
