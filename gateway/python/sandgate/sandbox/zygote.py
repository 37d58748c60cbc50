"""The zygote: a fresh single-threaded Python that imports the tools once, enters its
namespaces, drops privileges, then forks one sandboxed child per call.

Run by the gateway as `python -m sandgate.sandbox.zygote`; never by users.
"""

from __future__ import annotations

import argparse
import gc
import os
import selectors
import socket
import sys
from collections.abc import Callable
from typing import Any

import pydantic_core

from sandgate.sandbox import prefork

CONTROL_MESSAGE_BYTES = 64 * 1024
# Calls run as CALL_UID_BASE + slot (a zygote started as root); beyond the slots they share a uid.
CALL_UID_BASE = 200_000
CALL_UID_SLOTS = 1024


class Zygote:
    def __init__(self, control: socket.socket, dispatcher: Any, seccomp_bpf: bytes,
                 baseline_address_space: int, fork_hooks: list[Callable[[], None]]) -> None:
        self.control = control
        self.fork_hooks = fork_hooks  # detached in the zygote, registered again in each child
        # A child starts with the zygote's mappings: its memory limit comes on top of them.
        self.baseline_address_space = baseline_address_space
        self.dispatcher = dispatcher
        self.seccomp_bpf = seccomp_bpf
        self.selector = selectors.DefaultSelector()
        self.children: dict[int, tuple[int, int, int]] = {}  # pidfd -> (call id, pid, uid slot)
        self.free_slots = list(range(CALL_UID_SLOTS - 1, -1, -1))
        self.uid_base = -1

    def serve(self) -> None:
        self.selector.register(self.control, selectors.EVENT_READ)
        while True:
            for key, _ in self.selector.select():
                if key.fileobj is self.control:
                    if not self.on_control():
                        return
                else:
                    self.on_child_exit(key.fd)

    def on_control(self) -> bool:
        data, fds, _, _ = socket.recv_fds(self.control, CONTROL_MESSAGE_BYTES, 4)
        if not data:
            return False  # the gateway is gone; our children die with us (PDEATHSIG)
        message = pydantic_core.from_json(data)
        if message.get("op") != "call" or len(fds) != 1:
            for fd in fds:
                os.close(fd)
            return True
        self.spawn(message, fds[0])
        return True

    def spawn(self, message: dict[str, Any], call_fd: int) -> None:
        from sandgate import _sandbox

        call_id = message["id"]
        limits = dict(message["limits"])
        if limits.get("address_space"):
            limits["address_space"] += self.baseline_address_space
        # A uid per concurrent call: RLIMIT_NPROC and signals are per uid, so calls cannot reach each other.
        slot = self.free_slots.pop() if self.free_slots and self.uid_base >= 0 else -1
        uid = self.uid_base + slot if slot >= 0 else -1
        try:
            pid = _sandbox.spawn_call(limits, [call_fd], self.seccomp_bpf, True, uid, uid,
                                      int(message.get("scratch", 0)))
        except (OSError, ValueError) as exc:
            if slot >= 0:
                self.free_slots.append(slot)
            os.close(call_fd)
            send(self.control, {"op": "spawn_failed", "id": call_id, "message": str(exc)})
            return
        if pid == 0:
            from sandgate.sandbox.child import serve_call, serve_session

            prefork.reattach(self.fork_hooks)
            serve = serve_session if message.get("persistent") else serve_call
            serve(call_fd, self.dispatcher)  # never returns
        os.close(call_fd)
        pidfd = os.pidfd_open(pid)
        self.children[pidfd] = (call_id, pid, slot)
        self.selector.register(pidfd, selectors.EVENT_READ)
        send(self.control, {"op": "spawned", "id": call_id, "pid": pid}, [pidfd])

    def on_child_exit(self, pidfd: int) -> None:
        call_id, pid, slot = self.children.pop(pidfd)
        self.selector.unregister(pidfd)
        os.close(pidfd)
        _, status, usage = os.wait4(pid, 0)
        if slot >= 0:
            self.free_slots.append(slot)
        send(self.control, {
            "op": "exited", "id": call_id,
            "code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
            "cpu": usage.ru_utime + usage.ru_stime,
            "maxrss_kib": usage.ru_maxrss,
            "minor_faults": usage.ru_minflt,
        })


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
    from sandgate.sandbox.child import install_call_log

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
    prefork.warm_up(child._run, dispatcher)
    gc.collect()
    gc.freeze()  # keep the imported heap shared copy-on-write with every child
    send(control, {"op": "ready", "pid": os.getpid()})
    zygote = Zygote(control, dispatcher, seccomp_bpf, baseline, fork_hooks)
    if not args.user_namespace:
        zygote.uid_base = CALL_UID_BASE
    zygote.serve()
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
    parser.add_argument("--readonly", action="append", default=[])
    parser.add_argument("--profile", default="default")
    parser.add_argument("--user-namespace", action=argparse.BooleanOptionalAction, default=True)
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
