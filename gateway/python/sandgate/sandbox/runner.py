"""Gateway side of the sandbox: starts the zygote, sends it calls, enforces limits, reports outcomes.

Everything here runs on the gateway's asyncio loop; no thread ever blocks on a child.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

import pydantic_core

from sandgate.sandbox import framing
from sandgate.sandbox.limits import Sandbox
from sandgate.sandbox.outcome import reason_for_signal, signal_name, stopped_result

logger = logging.getLogger("sandgate.sandbox")

CONTROL_MESSAGE_BYTES = 64 * 1024
ZYGOTE_START_TIMEOUT_S = 30.0
EXIT_REPORT_TIMEOUT_S = 5.0
RESPAWN_BACKOFF_S = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
UNPRIVILEGED_ID = 65534
# Everything else in the gateway's environment stays out of the sandbox.
ENVIRONMENT_ALLOWLIST = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "PYTHONHASHSEED")
SINGLE_THREADED_ENVIRONMENT = {
    "MALLOC_ARENA_MAX": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1", "NUMEXPR_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONNOUSERSITE": "1",
}


class OutputTooLarge(Exception):
    pass


@dataclass
class ZygoteConfig:
    target: str  # path/to/module.py:variable
    readonly_paths: list[str]
    scratch_bytes: int
    # Root runs the zygote without one and gives each call its own unprivileged uid; anyone else
    # needs a user namespace to build the sandbox at all.
    user_namespace: bool = field(default_factory=lambda: os.geteuid() != 0)


@dataclass
class _Worker:
    """A per_session child: spawned on the session's first call, serving its calls one at a time."""

    call: _Call
    sock: socket.socket
    lock: asyncio.Lock


@dataclass
class _Call:
    spawned: asyncio.Future[tuple[int, int]]
    exited: asyncio.Future[dict[str, Any]]
    pidfd: int | None = None
    done: bool = field(default=False)


class SandboxRunner:
    def __init__(self, config: ZygoteConfig, loop: asyncio.AbstractEventLoop) -> None:
        self.config = config
        self.loop = loop
        self._ids = itertools.count(1)
        self._calls: dict[int, _Call] = {}
        self._workers: dict[str, _Worker] = {}
        self._control: socket.socket | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._handshake: asyncio.Future[dict[str, Any]] | None = None
        self._restarts = 0
        self._closing = False
        self.zygote_pid: int | None = None

    @property
    def ready(self) -> bool:
        return self._control is not None and self.zygote_pid is not None

    async def start(self) -> None:
        """Starts the zygote and waits until it has entered its sandbox."""
        gateway_end, zygote_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        command = [sys.executable, "-m", "sandgate.sandbox.zygote", "--control-fd",
                   str(zygote_end.fileno()), "--target", self.config.target,
                   "--scratch", str(self.config.scratch_bytes),
                   "--user-namespace" if self.config.user_namespace else "--no-user-namespace"]
        for path in self.config.readonly_paths:
            command += ["--readonly", path]
        environment = {k: os.environ[k] for k in ENVIRONMENT_ALLOWLIST if k in os.environ}
        environment.update(SINGLE_THREADED_ENVIRONMENT)
        # fork+exec happens in C (_posixsubprocess): no Python runs in the forked gateway.
        self._process = subprocess.Popen(command, pass_fds=[zygote_end.fileno()], env=environment,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        zygote_end.close()
        gateway_end.setblocking(False)
        self._control = gateway_end
        self._handshake = self.loop.create_future()
        self.loop.add_reader(gateway_end.fileno(), self._on_control)
        try:
            ready = await asyncio.wait_for(self._handshake, ZYGOTE_START_TIMEOUT_S)
        except BaseException:
            self._drop_zygote("the zygote did not start")
            raise
        self.zygote_pid = ready["pid"]
        self._restarts = 0
        logger.info("sandbox zygote %d ready", self.zygote_pid)

    async def close(self) -> None:
        self._closing = True
        for session in list(self._workers):
            self.end_session(session)
        self._drop_zygote("the gateway is shutting down")

    async def run(self, request: dict[str, Any], limits: Sandbox) -> tuple[int, str]:
        """One sandboxed call: (status, body) as the Dispatcher contract has it."""
        if not self.ready:
            return 0, stopped_result("sandbox_unavailable")
        call_id = next(self._ids)
        call = _Call(self.loop.create_future(), self.loop.create_future())
        self._calls[call_id] = call
        gateway_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._send({"op": "call", "id": call_id, "limits": limits.native(), "scratch": limits.scratch},
                       [child_end.fileno()])
        except OSError:
            self._calls.pop(call_id, None)
            gateway_end.close()
            return 0, stopped_result("sandbox_unavailable")
        finally:
            child_end.close()
        gateway_end.setblocking(False)
        try:
            async with asyncio.timeout(limits.wall_time):
                _, call.pidfd = await call.spawned
                await self.loop.sock_sendall(gateway_end, framing.encode(request))
                reply = await self._read_frame(gateway_end, limits.max_output)
        except TimeoutError:
            return self._kill(call, "timeout", wall_time=limits.wall_time)
        except OutputTooLarge:
            return self._kill(call, "output_too_large", max_output=limits.max_output)
        except _Unavailable:
            return 0, stopped_result("sandbox_unavailable")
        except asyncio.CancelledError:
            self._kill(call, "cancelled")
            raise
        finally:
            gateway_end.close()
        if reply is not None:
            # Answer now: the child exits by itself, and its exit report only matters when it sent nothing.
            self._close_pidfd(call)
            return self._reply(reply, request)
        return await self._outcome(call, limits)

    async def run_in_session(self, session: str, request: dict[str, Any],
                             limits: Sandbox) -> tuple[int, str]:
        """A call on the session's own worker: state persists across the session's calls only."""
        worker = self._workers.get(session)
        if worker is not None and worker.call.done:  # it died between calls: start afresh
            del self._workers[session]
            worker.sock.close()
            worker = None
        if worker is None:
            worker = await self._spawn_worker(session, limits)
            if worker is None:
                return 0, stopped_result("sandbox_unavailable")
        async with worker.lock:
            if worker.call.done:  # died while this call waited its turn
                self.end_session(session)
                return 0, stopped_result("crashed", detail="the session's worker exited")
            try:
                async with asyncio.timeout(limits.wall_time):
                    await self.loop.sock_sendall(worker.sock, framing.encode(request))
                    reply = await self._read_frame(worker.sock, limits.max_output)
            except TimeoutError:
                return self._end_worker(session, "timeout", wall_time=limits.wall_time)
            except OutputTooLarge:
                return self._end_worker(session, "output_too_large", max_output=limits.max_output)
            except asyncio.CancelledError:
                self._end_worker(session, "cancelled")
                raise
            if reply is None:  # the worker died mid-call: what killed it is the outcome
                self._workers.pop(session, None)
                worker.sock.close()
                return await self._outcome(worker.call, limits)
        return self._reply(reply, request)

    def end_session(self, session: str) -> None:
        """Kills the session's worker, if it has one."""
        if session in self._workers:
            self._end_worker(session, "cancelled")

    async def _spawn_worker(self, session: str, limits: Sandbox) -> _Worker | None:
        if not self.ready:
            return None
        call_id = next(self._ids)
        call = _Call(self.loop.create_future(), self.loop.create_future())
        self._calls[call_id] = call
        gateway_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._send({"op": "call", "id": call_id, "limits": limits.native(), "scratch": limits.scratch,
                        "persistent": True}, [child_end.fileno()])
            _, call.pidfd = await asyncio.wait_for(call.spawned, limits.wall_time)
        except (OSError, TimeoutError, _Unavailable):
            self._calls.pop(call_id, None)
            gateway_end.close()
            return None
        finally:
            child_end.close()
        gateway_end.setblocking(False)
        worker = _Worker(call, gateway_end, asyncio.Lock())
        self._workers[session] = worker
        return worker

    def _end_worker(self, session: str, reason: Any, **detail: Any) -> tuple[int, str]:
        worker = self._workers.pop(session)
        worker.sock.close()
        return self._kill(worker.call, reason, **detail)

    async def _read_frame(self, sock: socket.socket, limit: int) -> dict[str, Any] | None:
        """One reply frame from a worker, or None when it closed the socket first."""
        header = await self._read_exactly(sock, framing.HEADER.size)
        if header is None:
            return None
        (size,) = framing.HEADER.unpack(header)
        if size > limit:
            raise OutputTooLarge
        body = await self._read_exactly(sock, size)
        return None if body is None else pydantic_core.from_json(body)

    async def _read_exactly(self, sock: socket.socket, size: int) -> bytes | None:
        data = bytearray()
        while len(data) < size:
            chunk = await self.loop.sock_recv(sock, min(1 << 16, size - len(data)))
            if not chunk:
                return None
            data += chunk
        return bytes(data)

    async def _outcome(self, call: _Call, limits: Sandbox) -> tuple[int, str]:
        """Why a call ended without a reply, from the zygote's report of its exit."""
        zygote_lost = False
        try:
            exited = await asyncio.wait_for(asyncio.shield(call.exited), EXIT_REPORT_TIMEOUT_S)
        except TimeoutError:
            exited = {}
        except _Unavailable:  # the zygote died, and its children with it
            exited, zygote_lost = {}, True
        finally:
            self._close_pidfd(call)
        if zygote_lost:
            return 0, stopped_result("sandbox_unavailable")
        number = exited.get("signal")
        if number:
            reason = reason_for_signal(number, exited.get("cpu", 0.0), limits.cpu_time)
            return 0, stopped_result(reason, signal=signal_name(number))
        return 0, stopped_result("crashed", exit_code=exited.get("code"))

    @staticmethod
    def _reply(reply: dict[str, Any], request: dict[str, Any]) -> tuple[int, str]:
        if reply.get("log"):
            logger.warning("sandboxed %s %r logged:\n%s", request["kind"], request["name"], reply["log"])
        return int(reply["status"]), reply["body"]

    def _kill(self, call: _Call, reason: Any, **detail: Any) -> tuple[int, str]:
        if call.pidfd is not None and not call.done:
            try:
                # PID 1 of the call's own PID namespace: its whole tree dies with it.
                signal.pidfd_send_signal(call.pidfd, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._close_pidfd(call)
        return 0, stopped_result(reason, **detail)

    def _close_pidfd(self, call: _Call) -> None:
        if call.pidfd is not None:
            os.close(call.pidfd)
            call.pidfd = None

    def _send(self, message: dict[str, Any], fds: list[int] | None = None) -> None:
        if self._control is None:
            raise OSError("no zygote")
        socket.send_fds(self._control, [pydantic_core.to_json(message)], fds or [])

    def _on_control(self) -> None:
        assert self._control is not None
        try:
            data, fds, _, _ = socket.recv_fds(self._control, CONTROL_MESSAGE_BYTES, 4)
        except BlockingIOError:
            return
        except OSError:
            data, fds = b"", []
        if not data:
            self._drop_zygote("the zygote exited")
            return
        self._handle(pydantic_core.from_json(data), fds)

    def _handle(self, message: dict[str, Any], fds: list[int]) -> None:
        op = message.get("op")
        if op == "need_maps":
            self._write_id_maps(message["pid"])
            self._send({"op": "maps_written"})
        elif op in ("ready", "failed") and self._handshake is not None and not self._handshake.done():
            if op == "ready":
                self._handshake.set_result(message)
            else:
                self._handshake.set_exception(RuntimeError(message.get("message", "zygote failed")))
        elif op == "spawned" and (call := self._calls.get(message["id"])) is not None and fds:
            if call.spawned.done():
                os.close(fds[0])
            else:
                call.spawned.set_result((message["pid"], fds[0]))
        elif op == "spawn_failed" and (call := self._calls.pop(message["id"], None)) is not None:
            call.spawned.set_exception(_Unavailable(message.get("message", "")))
            call.exited.set_exception(_Unavailable("not spawned"))
        elif op == "exited" and (call := self._calls.pop(message["id"], None)) is not None:
            call.done = True
            if not call.exited.done():
                call.exited.set_result(message)
        else:
            for fd in fds:
                os.close(fd)

    def _write_id_maps(self, pid: int) -> None:
        # Root maps the zygote's root to nobody; anyone else can map only itself.
        outside_uid = UNPRIVILEGED_ID if os.geteuid() == 0 else os.geteuid()
        outside_gid = UNPRIVILEGED_ID if os.getegid() == 0 else os.getegid()
        with open(f"/proc/{pid}/setgroups", "w") as f:
            f.write("deny")
        with open(f"/proc/{pid}/uid_map", "w") as f:
            f.write(f"0 {outside_uid} 1")
        with open(f"/proc/{pid}/gid_map", "w") as f:
            f.write(f"0 {outside_gid} 1")

    def _drop_zygote(self, why: str) -> None:
        if self._control is not None:
            self.loop.remove_reader(self._control.fileno())
            self._control.close()
            self._control = None
        self.zygote_pid = None
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
            self._process.wait()
            self._process = None
        for worker in self._workers.values():
            worker.sock.close()
        self._workers.clear()
        for call in self._calls.values():
            call.done = True
            for future in (call.spawned, call.exited):
                if not future.done():
                    future.set_exception(_Unavailable(why))
                    future.exception()  # retrieved: a call may never await both
        self._calls.clear()
        if self._handshake is not None and not self._handshake.done():
            self._handshake.set_exception(RuntimeError(why))
        if not self._closing:
            logger.error("sandbox zygote lost (%s); restarting", why)
            self.loop.create_task(self._respawn())

    async def _respawn(self) -> None:
        delay = RESPAWN_BACKOFF_S[min(self._restarts, len(RESPAWN_BACKOFF_S) - 1)]
        self._restarts += 1
        await asyncio.sleep(delay)
        if self._closing or self._control is not None:
            return
        try:
            await self.start()
        except Exception:
            logger.exception("sandbox zygote restart failed")
            if not self._closing and self._control is None:
                self.loop.create_task(self._respawn())


class _Unavailable(Exception):
    pass
