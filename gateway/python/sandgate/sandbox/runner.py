"""Gateway side of the sandbox: sends calls to the zygote's children, enforces limits, reports outcomes.

Everything here runs on the gateway's asyncio loop; no thread ever blocks on a child.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import pydantic_core

from sandgate.sandbox import framing
from sandgate.sandbox.channel import ZygoteChannel, ZygoteConfig, _Call, _Unavailable
from sandgate.sandbox.limits import Sandbox
from sandgate.sandbox.outcome import reason_for_signal, reported_syscall, signal_name, stopped_result

logger = logging.getLogger("sandgate.sandbox")

EXIT_REPORT_TIMEOUT_S = 5.0
# Waiting children found dead when handed a call (killed, or their spawn failed) before giving up.
DEAD_CHILDREN_SKIPPED_PER_CALL = 2
MAX_STATUS = 4  # the Dispatcher's statuses, 0 (ok) to 4


class OutputTooLarge(Exception):
    pass


@dataclass
class _Worker:
    """A per_session child: spawned on the session's first call, serving its calls one at a time."""

    call: _Call
    sock: socket.socket
    lock: asyncio.Lock


@dataclass
class _Child:
    """A call child the zygote forks and contains ahead of the call; it waits reading its socket."""

    call: _Call
    sock: socket.socket


class SandboxRunner(ZygoteChannel):
    """Runs calls in the zygote's children: per call, or on a per-session worker."""

    def __init__(self, config: ZygoteConfig, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(config, loop)
        self._workers: dict[str, _Worker] = {}
        # Children spawned ahead of demand, per distinct set of limits: forking is off the call's path.
        self._prespawned: dict[Sandbox, deque[_Child]] = {}  # frozen limits: hashable, equal when alike
        self.session_workers_refused = 0
        self.prespawned_lost = 0  # died while waiting for a call

    def _on_zygote_lost(self) -> None:
        children: list[_Worker | _Child] = [*self._workers.values(),
                                            *(c for waiting in self._prespawned.values() for c in waiting)]
        for child in children:
            child.sock.close()
            self._release(child.call, kill=False)  # they die with the zygote
        self._workers.clear()
        self._prespawned.clear()

    async def close(self) -> None:
        self._closing = True
        for session in list(self._workers):
            self.end_session(session)
        self._drop_zygote("the gateway is shutting down")

    async def run(self, request: dict[str, Any], limits: Sandbox, *,
                  progress: Callable[[Any], object] | None = None) -> tuple[int, str]:
        """One sandboxed call: (status, body) as the Dispatcher contract has it; `progress` gets
        the child's progress frames."""
        payload = framing.encode(request)
        taken = self._take_live_child(limits, payload)
        if taken is None:
            return 0, stopped_result("sandbox_unavailable")
        (call, sock), sent = taken
        try:
            async with asyncio.timeout(limits.wall_time):
                if sent < len(payload):
                    await self.loop.sock_sendall(sock, memoryview(payload)[sent:])
                reply = await self._read_frame(sock, limits.max_output, call, progress)
        except (BrokenPipeError, ConnectionResetError):  # died with the call read in part: its exit says why
            reply = None
        except TimeoutError:
            return self._kill(call, "timeout", wall_time=limits.wall_time)
        except OutputTooLarge:
            return self._kill(call, "output_too_large", max_output=limits.max_output)
        except asyncio.CancelledError:
            self._kill(call, "cancelled")
            raise
        finally:
            sock.close()
        if reply is not None:
            # Answer now: the child exits by itself, and its exit report only matters when it sent nothing.
            self._release(call, kill=False)
            return self._reply(reply, request)
        return await self._outcome(call, limits)

    def _take_live_child(self, limits: Sandbox, payload: bytes) -> tuple[tuple[_Call, socket.socket], int] | None:
        """A child that accepted the request's first bytes, and how many; one found dead is replaced.

        Sent at once: a child whose spawn the zygote has yet to report reads it when it starts.
        """
        for _ in range(DEAD_CHILDREN_SKIPPED_PER_CALL + 1):
            child = self._take_child(limits) if self.ready else None
            if child is None:
                return None
            try:
                return (child.call, child.sock), child.sock.send(payload)
            except (BrokenPipeError, ConnectionResetError):  # died waiting, its exit not yet reported
                child.sock.close()
                self._release(child.call, kill=False)
                self.prespawned_lost += 1
        return None

    def _take_child(self, limits: Sandbox) -> _Child | None:
        """A prespawned child with these limits (or a new one), topping the reserve up again."""
        waiting = self._prespawned.setdefault(limits, deque())
        child = None
        while waiting and child is None:
            child = waiting.popleft()
            if child.call.done or _failed(child.call.spawned):
                child.sock.close()
                self._release(child.call, kill=False)
                self.prespawned_lost += 1
                child = None
        if child is None:
            child = self._spawn(limits)
        while child is not None and len(waiting) < self.config.prespawned_children:
            spare = self._spawn(limits)
            if spare is None:
                break
            waiting.append(spare)
        return child

    def _spawn(self, limits: Sandbox, persistent: bool = False) -> _Child | None:
        """Asks the zygote for a child; its pid and pidfd arrive later (`_on_spawned`)."""
        call_id = next(self._ids)
        call = _Call(self.loop.create_future(), self.loop.create_future())
        gateway_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        message: dict[str, Any] = {"op": "call", "id": call_id, "limits": limits.native(),
                                   "scratch": limits.scratch}
        if persistent:
            message["persistent"] = True
        try:
            self._send(message, [child_end.fileno()])
        except OSError:
            gateway_end.close()
            return None
        finally:
            child_end.close()
        self._calls[call_id] = call
        call.spawned.add_done_callback(partial(self._on_spawned, call))
        call.exited.add_done_callback(_failed)  # nobody may await it: mark its error as seen
        gateway_end.setblocking(False)
        return _Child(call, gateway_end)

    def _on_spawned(self, call: _Call, spawned: asyncio.Future[tuple[int, int]]) -> None:
        if _failed(spawned):
            return
        call.pidfd = spawned.result()[1]
        if call.released:  # finished with before the zygote's report came
            self._release(call, kill=call.kill_on_spawn)

    async def run_in_session(self, session: str, request: dict[str, Any], limits: Sandbox, *,
                             progress: Callable[[Any], object] | None = None) -> tuple[int, str]:
        """A call on the session's own worker: state persists across the session's calls only."""
        worker = self._workers.get(session)
        if worker is not None and worker.call.done:  # it died between calls: start afresh
            del self._workers[session]
            worker.sock.close()
            worker = None
        if worker is None:
            if len(self._workers) >= self.config.max_session_workers:
                # Bounded: a flood of sessions cannot pin a process each; the call still runs, per call.
                self.session_workers_refused += 1
                return await self.run(request, limits, progress=progress)
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
                    reply = await self._read_frame(worker.sock, limits.max_output, worker.call, progress)
            except (BrokenPipeError, ConnectionResetError):
                reply = None
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
        child = self._spawn(limits, persistent=True) if self.ready else None
        if child is None:
            return None
        try:
            await asyncio.wait_for(asyncio.shield(child.call.spawned), limits.wall_time)
        except (TimeoutError, _Unavailable):
            child.sock.close()
            self._release(child.call, kill=True)
            return None
        worker = _Worker(child.call, child.sock, asyncio.Lock())
        self._workers[session] = worker
        return worker

    def _end_worker(self, session: str, reason: Any, **detail: Any) -> tuple[int, str]:
        worker = self._workers.pop(session)
        worker.sock.close()
        return self._kill(worker.call, reason, **detail)

    async def _read_frame(self, sock: socket.socket, limit: int, call: _Call,
                          progress: Callable[[Any], object] | None = None) -> dict[str, Any] | None:
        """The reply frame (the one with "status") from a worker, or None when it closed the socket first.

        Progress frames before it go to `progress`; a violation report (from the child's SIGSYS
        handler) is kept on `call`, and reading goes on to the EOF that follows. Every frame's bytes
        count against `limit`.
        """
        call.violation = None
        while True:
            header = await self._read_exactly(sock, framing.HEADER.size)
            if header is None:
                return None
            (size,) = framing.HEADER.unpack(header)
            if size > limit:
                raise OutputTooLarge
            limit -= size
            body = await self._read_exactly(sock, size)
            if body is None:
                return None
            frame = pydantic_core.from_json(body)
            if not isinstance(frame, dict):
                continue  # not ours to interpret; it still counted against the limit
            if "status" in frame:
                return frame
            if "violation" in frame:
                call.violation = frame["violation"]
            elif progress is not None and "progress" in frame:
                progress(frame["progress"])

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
            self._release(call, kill=False)
        if zygote_lost:
            return 0, stopped_result("sandbox_unavailable")
        number = exited.get("signal")
        if number:
            reason = reason_for_signal(number, exited.get("cpu", 0.0), limits.cpu_time)
            # The child's word on the syscall counts only when the kernel's SIGSYS agrees.
            syscall = reported_syscall(call.violation) if number == signal.SIGSYS else None
            return 0, stopped_result(reason, signal=signal_name(number), syscall=syscall)
        return 0, stopped_result("crashed", exit_code=exited.get("code"))

    @staticmethod
    def _reply(reply: dict[str, Any], request: dict[str, Any]) -> tuple[int, str]:
        if reply.get("log"):
            logger.warning("sandboxed %s %r logged:\n%s", request["kind"], request["name"], reply["log"])
        status, body = reply.get("status"), reply.get("body")
        if type(status) is not int or not 0 <= status <= MAX_STATUS or type(body) is not str:
            return 0, stopped_result("crashed", detail="the call's reply was malformed")  # the child is untrusted
        return status, body

    def _kill(self, call: _Call, reason: Any, **detail: Any) -> tuple[int, str]:
        self._release(call, kill=True)
        return 0, stopped_result(reason, **detail)

    def _release(self, call: _Call, kill: bool) -> None:
        """Done with this child: SIGKILL it if asked (its pidfd may still be on its way), drop the pidfd."""
        call.released = True
        if call.pidfd is None:
            call.kill_on_spawn = kill
            return
        if kill and not call.done:
            try:
                # PID 1 of the call's own PID namespace: its whole tree dies with it.
                signal.pidfd_send_signal(call.pidfd, signal.SIGKILL)
            except ProcessLookupError:
                pass
        os.close(call.pidfd)
        call.pidfd = None


def _failed(future: asyncio.Future[Any]) -> bool:
    """Whether the future ended in an error (which this marks as retrieved)."""
    return future.done() and (future.cancelled() or future.exception() is not None)
