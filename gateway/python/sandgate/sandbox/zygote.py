"""The zygote: a fresh single-threaded Python that imports the tools once, enters its
namespaces, drops privileges, then hands over to the native loop that forks one sandboxed
child per call (`_sandbox.serve_zygote`); the child comes back here to run the tool.

Run by the gateway as `python -m sandgate.sandbox.zygote`; never by users.
"""

from __future__ import annotations

import argparse
import gc
import os
import socket
import sys
from typing import Any

import pydantic_core

from sandgate.sandbox import prefork

CONTROL_MESSAGE_BYTES = 64 * 1024


def send(control: socket.socket, message: dict[str, Any], fds: list[int] | None = None) -> None:
    socket.send_fds(control, [pydantic_core.to_json(message)], fds or [])


def receive(control: socket.socket) -> dict[str, Any]:
    data = control.recv(CONTROL_MESSAGE_BYTES)
    if not data:
        raise SystemExit(0)
    return pydantic_core.from_json(data)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    control = socket.socket(fileno=args.control_fd)
    from sandgate import _sandbox
    from sandgate.cli import load_server

    from sandgate.sandbox import child
    from sandgate.sandbox.child import install_call_log, serve_call, serve_session

    server = load_server(args.target)
    if any(tool.is_async for tool in server.registry.tools):
        import asyncio  # noqa: F401 - children run coroutine tools with asyncio.run: load it once, here
    install_call_log()
    dispatcher = server.dispatcher(loop=None)
    # Forking a threaded process copies locks held by threads that do not exist in the child.
    if len(os.listdir("/proc/self/task")) != 1:
        send(control, {"op": "failed", "message": "tool modules started threads at import"})
        return 1
    _sandbox.unshare_namespaces(args.user_namespace)
    if args.user_namespace:
        send(control, {"op": "need_maps", "pid": os.getpid()})
        if receive(control).get("op") != "maps_written":
            return 1
    baseline = address_space_bytes()  # read while /proc is still there
    # Mounted while still the host's owner of the interpreter's directories (e.g. a 0700 /root).
    _sandbox.setup_filesystem(args.scratch, args.readonly, "sandgate")
    if args.user_namespace:
        # Root inside the user namespace is the unprivileged outside uid the gateway mapped.
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
    seccomp_bpf = _sandbox.compile_seccomp(args.profile)
    fork_hooks = prefork.detach_thread_fork_hooks()  # single-threaded, checked above
    # The request path once, here: JSON caches, specialized bytecode and allocator pools that every
    # child would otherwise build in pages of its own.
    prefork.warm_up(child._run, dispatcher)
    gc.collect()
    gc.freeze()  # keep the imported heap shared copy-on-write with every child
    send(control, {"op": "ready", "pid": os.getpid()})
    # From here on no Python runs per call in the zygote: the native loop forks, reaps and reports.
    uid_base = -1 if args.user_namespace else args.call_uid_base
    call = _sandbox.serve_zygote(control.fileno(), seccomp_bpf, uid_base, baseline)
    if call is None:
        return 0  # the gateway is gone; our children die with us (PDEATHSIG)
    control.detach()  # a call child: the steps closed it already, and its number may be reused
    prefork.reattach(fork_hooks)
    call_fd, persistent = call
    serve = serve_session if persistent else serve_call
    serve(call_fd, dispatcher)  # never returns
    return 0


def address_space_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="sandgate-zygote")
    parser.add_argument("--control-fd", type=int, required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--scratch", type=int, required=True)
    parser.add_argument("--call-uid-base", type=int, required=True)
    parser.add_argument("--readonly", action="append", default=[])
    parser.add_argument("--profile", default="default")
    parser.add_argument("--user-namespace", action=argparse.BooleanOptionalAction, default=True)
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
