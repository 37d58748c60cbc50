"""The zygote: a fresh single-threaded Python that confines itself FIRST (namespaces, read-only
view, no host capability, seccomp, import limits), THEN imports the tool module, sends the
catalog, and hands over to the native loop that forks one sandboxed child per call
(`_sandbox.serve_zygote`); the child comes back here to run the handler.

Run by the gateway as `python -m sandgate.sandbox.zygote`; never by users. Nothing of the tool
module runs before `confine` returns; everything after the import may be tampered with by it,
and stays inside what `confine` set up.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import socket
import sys
from typing import Any

import pydantic_core

from sandgate.sandbox import prefork

CONTROL_MESSAGE_BYTES = 64 * 1024
ZYGOTE_HOSTNAME = "sandgate"
# Inside the zygote's user namespace: uid 0 is the zygote, 1.. are the call slots (root gateways).
CALL_UID_BASE_INSIDE = 1


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

    # Taken before the module exists, so that nothing it patches can reach them.
    call_bpf = _sandbox.compile_seccomp(args.profile)
    zygote_bpf = _sandbox.compile_seccomp("zygote")
    serve_zygote = _sandbox.serve_zygote
    own_status = confine(args, control, _sandbox, zygote_bpf)

    from sandgate.sandbox import child
    from sandgate.sandbox.catalog import export_catalog
    from sandgate.sandbox.child import install_call_log, serve_call, serve_session

    # Bound before the import too: a module that replaces these attributes changes nothing we run.
    detach_fork_hooks, warm_up, run_request = prefork.detach_fork_hooks, prefork.warm_up, child._run
    start_call_dispatcher, rebinds = prefork.StartCallDispatcher, scratch_rebinds(args.readonly)
    try:
        server = import_server(args.target)
        catalog = export_catalog(server)
    except BaseException as exc:  # noqa: BLE001 - whatever the module does, the gateway hears why
        send(control, {"op": "failed", "message": describe_import_failure(args.target, exc)})
        return 1
    # Forking a threaded process copies locks held by threads that do not exist in the child.
    if status_field(own_status, "Threads") != 1:
        send(control, {"op": "failed", "message": f"{module_path(args.target)} started threads at import"})
        return 1
    write_catalog(args.catalog_fd, catalog)
    if any(tool.is_async for tool in server.registry.tools):
        import asyncio  # noqa: F401 - children run coroutine tools with asyncio.run: load it once, here
    install_call_log()
    dispatcher = server.dispatcher(loop=None)
    fork_hooks = detach_fork_hooks()  # single-threaded, checked above
    # The request path once, here: JSON caches, specialized bytecode and allocator pools that every
    # child would otherwise build in pages of its own.
    warm_up(run_request, dispatcher)
    gc.collect()
    gc.freeze()  # keep the imported heap shared copy-on-write with every child
    baseline = status_field(own_status, "VmSize") * 1024
    os.close(own_status)
    # Import is over: calls may now use up to the hard limit set in `confine`.
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
    own_pidfd = os.pidfd_open(os.getpid())  # the gateway learns our host pid from it
    send(control, {"op": "ready"}, [own_pidfd])
    os.close(own_pidfd)
    # From here on no Python runs per call in the zygote: the native loop forks, reaps and reports.
    uid_base = CALL_UID_BASE_INSIDE if args.user_namespace == "range" else -1
    call = serve_zygote(control.fileno(), call_bpf, uid_base, baseline, rebinds)
    if call is None:
        return 0  # the gateway is gone; our children die with us (PDEATHSIG, PID namespace)
    control.detach()  # a call child: the steps closed it already, and its number may be reused
    fork_hooks.reattach()
    call_fd, persistent = call
    serve = serve_session if persistent else serve_call
    serve(call_fd, start_call_dispatcher(dispatcher, fork_hooks))  # never returns
    return 0


def confine(args: argparse.Namespace, control: socket.socket, sandbox: Any, zygote_bpf: bytes) -> int:
    """Namespaces, PID 1 of its own PID namespace, read-only view, no host capability, seccomp.

    A root gateway's zygote builds its mount tree with host privileges (it can reach a 0700
    /root) and only then enters a user namespace whose ids map to unprivileged host uids; anyone
    else enters the user namespace first, as nothing else can be done without it. Returns a
    descriptor of our /proc/self/status, for reading after the import, when /proc is gone (a
    status file leads nowhere else).
    """
    if args.user_namespace == "range":
        sandbox.unshare_namespaces(user=False, pid=True)
        become_pid_one(args)
        own_status = os.open("/proc/self/status", os.O_RDONLY | os.O_CLOEXEC)
        sandbox.setup_filesystem(args.scratch, args.readonly, ZYGOTE_HOSTNAME)
        sandbox.enter_user_namespace()
        request_id_maps(control)
    else:
        sandbox.unshare_namespaces(user=True, pid=True)
        request_id_maps(control)
        become_pid_one(args)
        own_status = os.open("/proc/self/status", os.O_RDONLY | os.O_CLOEXEC)
        sandbox.setup_filesystem(args.scratch, args.readonly, ZYGOTE_HOSTNAME)
    # Root inside the user namespace is an unprivileged host uid, with capabilities only there.
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)
    # After the id change, which clears it: the zygote and its PID namespace die with the waiter.
    sandbox.die_with_parent()
    # The import's memory; calls later get up to the hard limit, which the module cannot raise.
    resource.setrlimit(resource.RLIMIT_AS, (args.import_memory, args.import_memory + args.max_call_memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    sandbox.install_seccomp(zygote_bpf)
    return own_status


def become_pid_one(args: argparse.Namespace) -> None:
    """Forks into the new PID namespace: the child goes on as its PID 1, so everything the module
    starts dies with the zygote; the parent only waits and passes the exit status on."""
    pid = os.fork()
    if pid == 0:
        return
    for fd in (args.control_fd, args.catalog_fd):
        os.close(fd)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            os._exit(1)
        if os.WIFEXITED(status) or os.WIFSIGNALED(status):
            break
    code = os.waitstatus_to_exitcode(status)
    os._exit(code if code >= 0 else 128 - code)


def request_id_maps(control: socket.socket) -> None:
    """The gateway writes our uid/gid maps; it finds us by a pidfd (our pid may be 1 in here)."""
    pidfd = os.pidfd_open(os.getpid())
    try:
        send(control, {"op": "need_maps"}, [pidfd])
    finally:
        os.close(pidfd)
    if receive(control).get("op") != "maps_written":
        raise SystemExit(1)


def scratch_rebinds(readonly: list[str]) -> list[str]:
    """The directories right under /tmp that hold read-only paths: a call's own /tmp would hide them."""
    return sorted({"/tmp/" + path.split("/")[2] for path in readonly if path.startswith("/tmp/")})


def import_server(target: str) -> Any:
    from sandgate.cli import load_server

    return load_server(target)


def module_path(target: str) -> str:
    from sandgate.cli import split_target

    return split_target(target)[0]


def describe_import_failure(target: str, exc: BaseException) -> str:
    text = str(exc)
    kind = type(exc).__name__
    detail = f"{kind}: {text}" if text else kind
    if isinstance(exc, MemoryError):
        detail += " (the import exceeded --import-memory)"
    return f"importing {module_path(target)} failed: {detail[:2000]}"


def status_field(fd: int, name: str) -> int:
    """A number from /proc/self/status, read through the descriptor opened before the pivot."""
    text = os.pread(fd, 16 * 1024, 0).decode(errors="replace")
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key == name:
            return int(value.split()[0])
    raise RuntimeError(f"/proc/self/status has no {name}")


def write_catalog(fd: int, catalog: bytes) -> None:
    """The whole catalog, then EOF: the gateway reads up to its bound and no further."""
    view = memoryview(catalog)
    while view:
        view = view[os.write(fd, view):]
    os.close(fd)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="sandgate-zygote")
    parser.add_argument("--control-fd", type=int, required=True)
    parser.add_argument("--catalog-fd", type=int, required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--scratch", type=int, required=True)
    parser.add_argument("--import-memory", type=int, required=True)
    parser.add_argument("--max-call-memory", type=int, required=True)
    parser.add_argument("--readonly", action="append", default=[])
    parser.add_argument("--profile", default="default")
    # "range": a root gateway maps uid 0 and one uid per call slot; "self": only the gateway's own uid.
    parser.add_argument("--user-namespace", choices=("range", "self"), required=True)
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main())
