"""Gateway side of the sandbox: sends calls to the zygote's children, enforces limits, reports outcomes.

Everything here runs on the gateway's asyncio loop; no thread ever blocks on a child.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from sandgate.sandbox import framing, replies
from sandgate.sandbox.channel import ZygoteChannel, ZygoteConfig, _Call, _Unavailable
from sandgate.sandbox.limits import Sandbox
from sandgate.sandbox.outcome import Ended, reason_for_signal, reported_syscall, signal_name, stopped
from sandgate.sandbox.replies import ProtocolError

if TYPE_CHECKING:
    from sandgate._core import Counters

logger = logging.getLogger("sandgate.sandbox")

# A call that closed its socket without a reply gets its remaining wall time to exit, and at
# least this: its exit report may come a little after a death close to the deadline.
EXIT_REPORT_GRACE_S = 1.0
# Waiting children found dead when handed a call (killed, or their spawn failed) before giving up.
DEAD_CHILDREN_SKIPPED_PER_CALL = 2
PRESPAWN_IDLE_S = 60.0  # a child forked ahead of demand that waits longer is killed and replaced


class OutputTooLarge(Exception):
    pass


@dataclass(eq=False)
class _Worker:
    """A per_session child: spawned on the session's first call, serving its calls one at a time."""

    call: _Call
    sock: socket.socket
    lock: asyncio.Lock


@dataclass(eq=False)
class _Child:
    """A call child the zygote forks and contains ahead of the call; it waits reading its socket."""

    call: _Call
    sock: socket.socket
    recycle: asyncio.TimerHandle | None = None  # while it waits: replaced once idle too long


class SandboxRunner(ZygoteChannel):
    """Runs calls in the zygote's children: per call, or on a per-session worker.

    A call ends when its reply is complete and its process is gone: a per_call child is killed
    after its reply, a per_session worker on any protocol error; the gateway, not the child,
    decides how a call ended (replies.settle).
    """

    def __init__(self, config: ZygoteConfig, loop: asyncio.AbstractEventLoop, counters: Counters | None = None) -> None:
        super().__init__(config, loop, counters)
        self._workers: dict[str, _Worker] = {}
        # Children spawned ahead of demand, per distinct set of limits: forking is off the call's path.
        self._prespawned: dict[Sandbox, deque[_Child]] = {}  # frozen limits: hashable, equal when alike
        self._prespawn_idle_s: float = getattr(config, "prespawn_idle_s", PRESPAWN_IDLE_S)
        self._answers: set[asyncio.Task[None]] = set()  # clients' answers being written to their children

    @property
    def protocol_errors(self) -> int:
        """Calls killed for a frame the gateway could not accept."""
        return self.counters.get("sandbox_protocol_errors")

    @property
    def prespawned_recycled(self) -> int:
        """Children that waited longer than prespawn_idle_s: killed and replaced."""
        return self.counters.get("sandbox_prespawned_recycled")

    def _on_zygote_lost(self) -> None:
        for worker in self._workers.values():
            worker.sock.close()
            self._release(worker.call, kill=False)  # they die with the zygote
        for waiting in self._prespawned.values():
            for child in waiting:
                self._discard(child, kill=False)
        self._workers.clear()
        self._prespawned.clear()

    async def close(self) -> None:
        self._closing = True
        for session in list(self._workers):
            self.end_session(session)
        self._drop_zygote("the gateway is shutting down")

    async def run(self, request: dict[str, Any], limits: Sandbox, *,
                  relay: Callable[[dict[str, Any]], object] | None = None) -> Ended:
        """One sandboxed call: (status, body, facts) as the Dispatcher contract has it; `relay`
        gets the frames the child writes for its client (progress, log messages)."""
        started = self.loop.time()
        ended = await self._run_per_call(request, limits, relay)
        return _timed(ended, "per_call", self.loop.time() - started)

    async def _run_per_call(self, request: dict[str, Any], limits: Sandbox,
                            relay: Callable[[dict[str, Any]], object] | None) -> Ended:
        payload = framing.encode(request)
        taken = self._take_live_child(limits, payload)
        if taken is None:
            return stopped("sandbox_unavailable")
        (call, sock), sent = taken
        deadline = self.loop.time() + limits.wall_time
        try:
            async with asyncio.timeout_at(deadline):
                if sent < len(payload):
                    await self.loop.sock_sendall(sock, memoryview(payload)[sent:])
                frame = await self._read_frame(sock, limits.max_output, call, relay)
                outcome = None if frame is None else self._settle(frame, request)
        except (BrokenPipeError, ConnectionResetError):  # died with the call read in part: its exit says why
            outcome = None
        except TimeoutError:
            return self._kill(call, "timeout", wall_time=limits.wall_time)
        except OutputTooLarge:
            return self._kill(call, "output_too_large", max_output=limits.max_output)
        except ProtocolError as error:
            return self._broke_protocol(call, request, error)
        except BaseException:  # cancelled, or the gateway failed: the call's process goes either way
            self._release(call, kill=True)
            raise
        finally:
            sock.close()
        if outcome is None:
            return await self._outcome(call, limits, deadline)
        self._release(call, kill=True)  # the reply is complete: nothing of the call may run on
        return outcome

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
                self._discard(child, kill=False)
                self.counters.add("sandbox_prespawned_lost")
        return None

    def _take_child(self, limits: Sandbox) -> _Child | None:
        """A prespawned child with these limits (or a new one), topping the reserve up again."""
        waiting = self._prespawned.setdefault(limits, deque())
        child = None
        while waiting and child is None:
            child = waiting.popleft()
            if child.recycle is not None:
                child.recycle.cancel()
                child.recycle = None
            if child.call.done or _failed(child.call.spawned):
                self._discard(child, kill=False)
                self.counters.add("sandbox_prespawned_lost")
                child = None
        if child is None:
            child = self._spawn(limits)
        if child is not None:
            self._top_up(limits, waiting)
        return child

    def _top_up(self, limits: Sandbox, waiting: deque[_Child]) -> None:
        while len(waiting) < self.config.prespawned_children:
            spare = self._spawn(limits)
            if spare is None:
                break
            spare.recycle = self.loop.call_later(self._prespawn_idle_s, self._recycle, limits, spare)
            waiting.append(spare)

    def _recycle(self, limits: Sandbox, child: _Child) -> None:
        """A child that waited prespawn_idle_s for a call: killed, and another takes its place."""
        child.recycle = None
        waiting = self._prespawned.get(limits)
        if waiting is None or child not in waiting:
            return
        waiting.remove(child)
        self._discard(child, kill=True)
        self.counters.add("sandbox_prespawned_recycled")
        if self.ready:
            self._top_up(limits, waiting)

    def _discard(self, child: _Child, kill: bool) -> None:
        if child.recycle is not None:
            child.recycle.cancel()
            child.recycle = None
        child.sock.close()
        self._release(child.call, kill=kill)

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
        call.spawned.add_done_callback(partial(self._on_spawned, call, self.loop.time()))
        call.exited.add_done_callback(_failed)  # nobody may await it: mark its error as seen
        gateway_end.setblocking(False)
        return _Child(call, gateway_end)

    def _on_spawned(self, call: _Call, asked_at: float, spawned: asyncio.Future[tuple[int, int]]) -> None:
        if _failed(spawned):
            return
        self.counters.observe_spawn(self.loop.time() - asked_at)  # the zygote's fork and confinement, seen from here
        call.pidfd = spawned.result()[1]
        if call.released:  # finished with before the zygote's report came
            self._release(call, kill=call.kill_on_spawn)

    async def run_in_session(self, session: str, request: dict[str, Any], limits: Sandbox, *,
                             relay: Callable[[dict[str, Any]], object] | None = None) -> Ended:
        """A call on the session's own worker: state persists across the session's calls only."""
        started = self.loop.time()
        ended = await self._run_on_worker(session, request, limits, relay)
        if ended[2].get("isolation") == "per_call":  # refused a worker: it ran per call
            return ended
        return _timed(ended, "per_session", self.loop.time() - started)

    async def _run_on_worker(self, session: str, request: dict[str, Any], limits: Sandbox,
                             relay: Callable[[dict[str, Any]], object] | None) -> Ended:
        worker = self._workers.get(session)
        if worker is not None and worker.call.done:  # it died between calls: start afresh
            self._release(self._drop_worker(session, worker), kill=False)
            worker = None
        if worker is None:
            if len(self._workers) >= self.config.max_session_workers:
                # Bounded: a flood of sessions cannot pin a process each; the call still runs, per call.
                self.counters.add("sandbox_session_workers_refused")
                return await self.run(request, limits, relay=relay)
            worker = await self._spawn_worker(session, limits)
            if worker is None:
                return stopped("sandbox_unavailable")
        async with worker.lock:
            if worker.call.done:  # died while this call waited its turn
                self._release(self._drop_worker(session, worker), kill=False)
                return stopped("crashed", detail="the session's worker exited")
            deadline = self.loop.time() + limits.wall_time
            try:
                async with asyncio.timeout_at(deadline):
                    await self.loop.sock_sendall(worker.sock, framing.encode(request))
                    frame = await self._read_frame(worker.sock, limits.max_output, worker.call, relay)
                    outcome = None if frame is None else self._settle(frame, request)
            except (BrokenPipeError, ConnectionResetError):
                outcome = None
            except TimeoutError:
                return self._kill(self._drop_worker(session, worker), "timeout", wall_time=limits.wall_time)
            except OutputTooLarge:
                return self._kill(self._drop_worker(session, worker), "output_too_large",
                                  max_output=limits.max_output)
            except ProtocolError as error:
                return self._broke_protocol(self._drop_worker(session, worker), request, error)
            except BaseException:
                self._release(self._drop_worker(session, worker), kill=True)
                raise
            if outcome is None:  # the worker died mid-call: what killed it is the outcome
                return await self._outcome(self._drop_worker(session, worker), limits, deadline)
        return outcome

    def end_session(self, session: str) -> None:
        """Kills the session's worker, if it has one."""
        worker = self._workers.get(session)
        if worker is not None:
            self._release(self._drop_worker(session, worker), kill=True)

    async def _spawn_worker(self, session: str, limits: Sandbox) -> _Worker | None:
        child = self._spawn(limits, persistent=True) if self.ready else None
        if child is None:
            return None
        try:
            await asyncio.wait_for(asyncio.shield(child.call.spawned), limits.wall_time)
        except (TimeoutError, _Unavailable):
            self._discard(child, kill=True)
            return None
        except BaseException:
            self._discard(child, kill=True)
            raise
        worker = _Worker(child.call, child.sock, asyncio.Lock())
        self._workers[session] = worker
        return worker

    def _drop_worker(self, session: str, worker: _Worker) -> _Call:
        """Forgets the session's worker (unless another replaced it) and closes its socket."""
        if self._workers.get(session) is worker:
            del self._workers[session]
        worker.sock.close()
        return worker.call

    async def _read_frame(self, sock: socket.socket, limit: int, call: _Call,
                          relay: Callable[[dict[str, Any]], object] | None = None) -> dict[str, Any] | None:
        """The reply frame from a child, or None when it closed the socket first.

        Frames for the client before it (progress, log messages) go to `relay`; a violation report (from the child's SIGSYS
        handler) is kept on `call`, and reading goes on to the EOF that follows. Every frame's bytes
        count against `limit`; a frame that is not one of these is a ProtocolError.
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
            frame = replies.parse_frame(body)
            if replies.is_reply(frame):
                return frame
            if "violation" in frame:
                call.violation = frame["violation"]
            elif "ask" in frame:
                self._relay_ask(sock, relay, frame["ask"])
            elif relay is not None:
                relay(frame)

    def _relay_ask(self, sock: socket.socket, relay: Any, request: Any) -> None:
        """A child's request to its client: the relay checks and sends it; its answer (or the refusal) is
        written back to the same child, which waits for exactly one."""
        loop = self.loop

        def answer(value: dict[str, Any]) -> None:  # on any thread, once
            data = framing.encode({"answer": value})
            with contextlib.suppress(RuntimeError):  # the loop closed: the child is gone with it
                loop.call_soon_threadsafe(self._write_to_child, sock, data)

        if relay is None or not hasattr(relay, "ask"):
            answer({"is_error": True, "refused": "this request cannot reach its client",
                    "json": '{"code":-32603,"message":"this request cannot reach its client"}'})
            return
        relay.ask(request, answer)

    def _write_to_child(self, sock: socket.socket, data: bytes) -> None:
        if sock.fileno() < 0:
            return  # the call ended before its client answered
        task = self.loop.create_task(self._send_quietly(sock, data))
        self._answers.add(task)
        task.add_done_callback(self._answers.discard)

    async def _send_quietly(self, sock: socket.socket, data: bytes) -> None:
        with contextlib.suppress(OSError):
            await self.loop.sock_sendall(sock, data)

    async def _read_exactly(self, sock: socket.socket, size: int) -> bytes | None:
        data = bytearray()
        while len(data) < size:
            chunk = await self.loop.sock_recv(sock, min(1 << 16, size - len(data)))
            if not chunk:
                return None
            data += chunk
        return bytes(data)

    async def _outcome(self, call: _Call, limits: Sandbox, deadline: float | None = None) -> Ended:
        """Why a call ended without a reply, from the zygote's report of its exit.

        One that closed its socket and lives on past its wall time (and the grace) is killed.
        """
        remaining = deadline - self.loop.time() if deadline is not None else 0.0
        try:
            exited = await asyncio.wait_for(asyncio.shield(call.exited), max(remaining, EXIT_REPORT_GRACE_S))
        except TimeoutError:
            return self._kill(call, "timeout", wall_time=limits.wall_time)
        except _Unavailable:  # the zygote died, and its children with it
            self._release(call, kill=False)
            return stopped("sandbox_unavailable")
        except BaseException:
            self._release(call, kill=True)
            raise
        self._release(call, kill=False)
        number = exited.get("signal")
        if number:
            reason = reason_for_signal(number, exited.get("cpu", 0.0), limits.cpu_time)
            # The child's word on the syscall counts only when the kernel's SIGSYS agrees.
            syscall = reported_syscall(call.violation) if number == signal.SIGSYS else None
            return _measured(stopped(reason, signal=signal_name(number), syscall=syscall), exited)
        return _measured(stopped("crashed", exit_code=exited.get("code")), exited)

    @staticmethod
    def _settle(frame: dict[str, Any], request: dict[str, Any]) -> Ended:
        """The gateway's verdict on a reply frame; its log goes to the gateway's log, escaped and tagged."""
        log = replies.child_log(frame)
        if log:
            logger.warning("sandboxed %s %r logged: %s", request["kind"], request["name"], log)
        return replies.settle(frame, request["kind"])

    def _broke_protocol(self, call: _Call, request: dict[str, Any], error: ProtocolError) -> Ended:
        self.counters.add("sandbox_protocol_errors")
        logger.warning("sandboxed %s %r broke the call protocol (%s): killed", request["kind"], request["name"], error)
        return self._kill(call, "protocol_error", problem=str(error))

    def _kill(self, call: _Call, reason: Any, **detail: Any) -> Ended:
        self._release(call, kill=True)
        return stopped(reason, **detail)

    def _release(self, call: _Call, kill: bool) -> None:
        """Done with this child: SIGKILL it if asked (its pidfd may still be on its way), drop the pidfd."""
        if call.released and call.pidfd is None:  # released already; a later kill still reaches it
            call.kill_on_spawn = call.kill_on_spawn or kill
            return
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


def _timed(ended: Ended, isolation: str, duration_s: float) -> Ended:
    status, body, facts = ended
    return status, body, {**facts, "isolation": isolation, "duration_s": duration_s}


def _measured(ended: Ended, exited: dict[str, Any]) -> Ended:
    """With what the kernel counted for the call's process, from the zygote's report of its exit."""
    status, body, facts = ended
    return status, body, {**facts, "cpu_time_s": exited.get("cpu", 0.0),
                          "peak_memory_bytes": exited.get("maxrss_kib", 0) * 1024}


def _failed(future: asyncio.Future[Any]) -> bool:
    """Whether the future ended in an error (which this marks as retrieved)."""
    return future.done() and (future.cancelled() or future.exception() is not None)
