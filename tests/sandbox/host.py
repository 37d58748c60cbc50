"""The host's view of processes, through /proc: the suite runs as root, so it sees every pid,
including those inside a call's PID namespace, by their host numbers."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path


def start_time(pid: int) -> int:
    """Clock ticks after boot at which `pid` started: with the pid, a process's identity."""
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return -1
    return int(stat_line.rpartition(")")[2].split()[19])


def status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}


def children(pid: int) -> set[int]:
    found: set[int] = set()
    with contextlib.suppress(FileNotFoundError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(FileNotFoundError):
                listed = Path(f"/proc/{pid}/task/{task}/children").read_text()
                found.update(int(child) for child in listed.split())
    return found


def named(name: str) -> list[int]:
    """Pids of the processes with a thread called `name` (set by prctl(PR_SET_NAME))."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            for task in os.listdir(f"/proc/{entry}/task"):
                with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                    if Path(f"/proc/{entry}/task/{task}/comm").read_text().rstrip("\n") == name:
                        found.append(int(entry))
                        break
    return found


def thread_count(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except FileNotFoundError:
        return 0


def namespace(pid: int, kind: str) -> str:
    return os.readlink(f"/proc/{pid}/ns/{kind}")


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True
