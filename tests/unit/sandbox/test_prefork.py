"""The zygote's one-time preparations: detached at-fork hooks and the request path warm-up."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from sandgate import MCPServer
from sandgate.sandbox import child, prefork

REPO = Path(__file__).resolve().parents[3]

# Run in a fresh interpreter: detaching hooks must not leak into the test process.
FORK_PROBE = textwrap.dedent("""
    import logging, os, threading
    from sandgate.sandbox import prefork

    class Probe(logging.Handler):
        def _at_fork_reinit(self):  # called by logging's after-fork hook, in the child
            os.write(PIPE[1], b"L")

    PIPE = os.pipe()
    HANDLER = Probe()

    def hooks_run_in_child():
        before = id(threading._active_limbo_lock)  # threading's hook replaces this lock
        pid = os.fork()
        if pid == 0:
            os.write(PIPE[1], b"T" if id(threading._active_limbo_lock) != before else b"-")
            os._exit(0)
        os.waitpid(pid, 0)
        return sorted(os.read(PIPE[0], 8).decode())

    MODULE_HOOKS = []
    os.register_at_fork(before=lambda: MODULE_HOOKS.append("before"),
                        after_in_parent=lambda: MODULE_HOOKS.append("parent"),
                        after_in_child=lambda: os.write(PIPE[1], b"M"))
    assert hooks_run_in_child() == ["L", "M", "T"], "the hooks did not run to begin with"
    assert MODULE_HOOKS == ["before", "parent"]
    hooks = prefork.detach_fork_hooks()
    assert {hook.__module__ for hook in hooks.thread_after_in_child} == {"threading", "logging"}, hooks
    assert len(hooks.thread_after_in_child) == 2, hooks
    # Beside the module's lambdas: logging's lock pair, and random's reseed of each child.
    assert [hook.__name__ for hook in hooks.after_in_child] == ["seed", "<lambda>"], hooks
    assert [hook.__name__ for hook in hooks.before] == ["_acquireLock", "<lambda>"], hooks
    assert hooks_run_in_child() == ["-"], "a detached hook still ran"
    assert MODULE_HOOKS == ["before", "parent"], "a detached hook ran in the parent"
    hooks.start_call()
    assert os.read(PIPE[0], 8) == b"M", "the module's after-fork hook did not run at the call's start"
    hooks.reattach()
    assert hooks_run_in_child() == ["L", "M", "T"], "a reattached hook did not run"
    assert MODULE_HOOKS == ["before", "parent"] * 2
    print("ok")
""")


def test_fork_hooks_detach_run_at_call_start_and_reattach() -> None:
    done = subprocess.run([sys.executable, "-c", FORK_PROBE], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_warm_up_runs_the_request_path_without_running_a_tool() -> None:
    server = MCPServer("warm")
    ran: list[int] = []

    @server.tool
    def record(a: int) -> int:
        ran.append(a)
        return a

    seen: list[dict[str, object]] = []

    def run(fd: int, dispatcher: object) -> dict[str, object]:
        reply = child._run(fd, dispatcher)
        seen.append(reply)
        return reply

    prefork.warm_up(run, server.dispatcher(loop=None))
    assert not ran
    assert len(seen) == 1 and seen[0]["status"] == 1, seen  # unknown tool: invalid params


def test_start_call_dispatcher_runs_the_hooks_once_before_the_first_request() -> None:
    events: list[str] = []
    hooks = prefork.ForkHooks(after_in_child=[lambda: events.append("hook")])

    class Recording:
        def call(self, *args: object) -> str:
            events.append(f"call {args[0]}")
            return "done"

    dispatcher = prefork.StartCallDispatcher(Recording(), hooks)
    assert dispatcher.call("first") == "done" and dispatcher.call("second") == "done"
    assert events == ["hook", "call first", "call second"]


HEAVY_FOR_ZYGOTE = textwrap.dedent("""
    import sys
    from sandgate.cli import load_server
    import sandgate.sandbox.child, sandgate.sandbox.zygote
    load_server("benchmarks/servers/sandgate_isolation.py:server")
    print(",".join(m for m in ("asyncio", "ssl") if m in sys.modules))
""")


def test_a_zygote_of_plain_functions_does_not_load_asyncio() -> None:
    # asyncio pulls in ssl: megabytes of heap every call child would copy page tables for.
    done = subprocess.run([sys.executable, "-c", HEAVY_FOR_ZYGOTE], capture_output=True, text=True,
                          timeout=60, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
