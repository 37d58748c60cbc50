"""What the zygote does once so that each call child copies fewer pages.

A forked child shares the zygote's memory copy-on-write: every page it writes costs a fault
and a copy. CPython writes wherever code first runs (specialized bytecode, caches, allocator
pools), so the zygote runs the request path once itself, and it skips after-fork hooks that
only matter in a process that had other threads.
"""

from __future__ import annotations

import gc
import logging
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

from sandgate.sandbox import framing

# A call to a tool name no module can register: it exercises framing, decoding, dispatch
# and the error result, with no handler code run.
_WARM_UP_REQUEST = {"kind": "tools/call", "name": "\x00sandgate-warm-up", "args": '{"a": 1}', "meta": "{}"}


def warm_up(run: Callable[[int, Any], dict[str, Any]], dispatcher: Any) -> None:
    """One framed round trip of a call through `run` (the child's request path), in the zygote."""
    gateway_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with gateway_end, child_end:
        gateway_end.sendall(framing.encode(_WARM_UP_REQUEST))
        framing.write_all(child_end.fileno(), framing.encode(run(child_end.fileno(), dispatcher)))
        framing.read_frame(gateway_end.fileno())


def detach_thread_fork_hooks() -> list[Callable[[], None]]:
    """Removes threading's and logging's after-fork hooks from this (single-threaded) process.

    They re-create locks that other threads might have held at the fork; the zygote has no other
    thread, and running them costs every child about a hundred copied pages. Returns what was
    removed, for the child to register again (its own forks then behave as usual).
    """
    # A tuple: the search below looks for lists, and must not find (and edit) its own.
    candidates = (getattr(threading, "_after_fork", None),
                  getattr(logging, "_after_at_fork_child_reinit_locks", None))
    removed: list[Callable[[], None]] = []
    for hook in candidates:
        if hook is None:
            continue
        # CPython keeps os.register_at_fork's callables in a plain list only it refers to.
        for holder in gc.get_referrers(hook):
            if type(holder) is list and holder is not removed and hook in holder:
                holder.remove(hook)
                removed.append(hook)
    return removed


def reattach(hooks: list[Callable[[], None]]) -> None:
    """In a call child: the hooks the zygote detached apply to forks the tool makes."""
    for hook in hooks:
        os.register_at_fork(after_in_child=hook)
