"""Gateway side of the sandbox: sends calls to the zygote's children, enforces limits, reports outcomes.

Everything here runs on the gateway's asyncio loop; no thread ever blocks on a child.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pydantic_core

from sandgate.sandbox import framing
from sandgate.sandbox.channel import ZygoteChannel, ZygoteConfig, _Call, _Unavailable
from sandgate.sandbox.limits import Sandbox
from sandgate.sandbox.outcome import reason_for_signal, signal_name, stopped_result

logger = logging.getLogger("sandgate.sandbox")

EXIT_REPORT_TIMEOUT_S = 5.0


class OutputTooLarge(Exception):
    pass


@dataclass
class _Worker:
    """A per_session child: spawned on the session's first call, serving its calls one at a time."""

    call: _Call
    sock: socket.socket
    lock: asyncio.Lock


class SandboxRunner(ZygoteChannel):
    """Runs calls in the zygote's children: per call, or on a per-session worker."""

    def __init__(self, config: ZygoteConfig, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(config, loop)
        self._workers: dict[str, _Worker] = {}
        self.session_workers_refused = 0

    def _on_zygote_lost(self) -> None:
        for worker in self._workers.values():
            worker.sock.close()
        self._workers.clear()

    async def close(self) -> None:
        self._closing = True
        for session in list(self._workers):
            self.end_session(session)
        self._drop_zygote("the gateway is shutting down")

    async def run(self, request: dict[str, Any], limits: Sandbox, *,
                  progress: Callable[[Any], object] | None = None) -> tuple[int, str]:
        """One sandboxed call: (status, body) as the Dispatcher contract has it; `progress` gets
        the child's progress frames."""
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
                reply = await self._read_frame(gateway_end, limits.max_output, progress)
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
                    reply = await self._read_frame(worker.sock, limits.max_output, progress)
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

    async def _read_frame(self, sock: socket.socket, limit: int,
                          progress: Callable[[Any], object] | None = None) -> dict[str, Any] | None:
        """The reply frame (the one with "status") from a worker, or None when it closed the socket
        first. Progress frames before it go to `progress`; every frame's bytes count against `limit`."""
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
            if not isinstance(frame, dict) or "status" in frame:
                return frame
            if progress is not None and "progress" in frame:
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
