"""What the zygote does once so that each call child copies fewer pages.

A forked child shares the zygote's memory copy-on-write: every page it writes costs a fault
and a copy. CPython writes wherever code first runs (specialized bytecode, caches, allocator
pools), so the zygote runs the request path once itself, and it skips after-fork hooks that
only matter in a process that had other threads. The module's own at-fork hooks run neither in
the zygote nor in a child waiting for work: only when a call starts.
"""

from __future__ import annotations

import gc
import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
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


@dataclass
class ForkHooks:
    """What os.register_at_fork held in the zygote, taken out of the interpreter's lists."""

    before: list[Callable[[], object]] = field(default_factory=list)
    after_in_parent: list[Callable[[], object]] = field(default_factory=list)
    # threading's and logging's: they re-create locks other threads might have held; the zygote
    # has no other thread, and running them costs every child about a hundred copied pages.
    thread_after_in_child: list[Callable[[], object]] = field(default_factory=list)
    after_in_child: list[Callable[[], object]] = field(default_factory=list)  # everyone else's

    def start_call(self) -> None:
        """In a call child, once its request arrived: the hooks the module registered run now,
        inside the call (under its wall time), never in a child waiting for work."""
        for hook in self.after_in_child:
            try:
                hook()
            except Exception:  # noqa: BLE001 - os.fork ignores a failing hook too, and so must the call
                logging.getLogger("sandgate.sandbox").exception("an after-fork hook raised")

    def reattach(self) -> None:
        """In a call child: forks the tool itself makes see every hook, as without the zygote."""
        for hook in reversed(self.before):  # the interpreter calls these last registered first
            os.register_at_fork(before=hook)
        for hook in self.after_in_parent:
            os.register_at_fork(after_in_parent=hook)
        for hook in (*self.thread_after_in_child, *self.after_in_child):
            os.register_at_fork(after_in_child=hook)


def detach_fork_hooks() -> ForkHooks:
    """Empties the interpreter's at-fork lists (this process must be single-threaded).

    No Python may run in the zygote per call, and a prespawned child runs no module code while it
    waits: a module's `before` hooks would run in the zygote at every fork and its
    `after_in_child` hooks in each child at once. CPython keeps the registered callables in plain
    lists only it refers to: a sentinel registered in each shows which.
    """
    sentinels = (_sentinel_before, _sentinel_parent, _sentinel_child)
    os.register_at_fork(before=_sentinel_before, after_in_parent=_sentinel_parent,
                        after_in_child=_sentinel_child)
    taken: list[list[Callable[[], object]]] = []
    for sentinel in sentinels:
        # A tuple: the search below looks for lists, and must not find (and edit) its own.
        holders = tuple(holder for holder in gc.get_referrers(sentinel)
                        if type(holder) is list and holder is not taken and sentinel in holder)
        if len(holders) != 1:
            raise RuntimeError("cannot find the interpreter's at-fork list")
        (holder,) = holders
        taken.append([hook for hook in holder if hook is not sentinel])
        holder.clear()
    before, parent, in_child = taken
    thread_hooks = {id(hook) for hook in (getattr(threading, "_after_fork", None),
                                          getattr(logging, "_after_at_fork_child_reinit_locks", None))}
    return ForkHooks(before, parent, [hook for hook in in_child if id(hook) in thread_hooks],
                     [hook for hook in in_child if id(hook) not in thread_hooks])


def _sentinel_before() -> None:
    """Registered only to find the interpreter's list; removed at once."""


def _sentinel_parent() -> None:
    """Registered only to find the interpreter's list; removed at once."""


def _sentinel_child() -> None:
    """Registered only to find the interpreter's list; removed at once."""


class StartCallDispatcher:
    """The zygote's dispatcher as a call child uses it: the module's after-fork hooks run before
    the first request is handled, not when the child is forked."""

    __slots__ = ("_dispatcher", "_hooks")

    def __init__(self, dispatcher: Any, hooks: ForkHooks) -> None:
        self._dispatcher = dispatcher
        self._hooks: ForkHooks | None = hooks

    def call(self, *args: Any, **kwargs: Any) -> Any:
        if self._hooks is not None:
            hooks, self._hooks = self._hooks, None
            hooks.start_call()
        return self._dispatcher.call(*args, **kwargs)
