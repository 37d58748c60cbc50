"""The gateway's end of the zygote: starting it, its control messages, losing and restarting it.

Runs on the gateway's asyncio loop; the calls themselves are the runner's business.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

import pydantic_core

from sandgate.sandbox import control
from sandgate.settings import ServerSettings

logger = logging.getLogger("sandgate.sandbox")

CONTROL_MESSAGE_BYTES = 64 * 1024
ZYGOTE_START_TIMEOUT_S = 30.0
RESPAWN_BACKOFF_S = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
UNPRIVILEGED_ID = 65534
# Everything else in the gateway's environment stays out of the sandbox.
ENVIRONMENT_ALLOWLIST = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "PYTHONHASHSEED")
SINGLE_THREADED_ENVIRONMENT = {
    "MALLOC_ARENA_MAX": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1", "NUMEXPR_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONNOUSERSITE": "1",
    # Symbols bound once in the zygote: lazy binding would write (copy) GOT pages in every child.
    "LD_BIND_NOW": "1",
}


@dataclass
class ZygoteConfig:
    target: str  # path/to/module.py:variable
    readonly_paths: list[str]
    scratch_bytes: int
    max_session_workers: int = 64
    prespawned_children: int = 2  # per distinct set of limits
    # A root zygote's calls run as call_uid_base + slot.
    call_uid_base: int = ServerSettings.model_fields["call_uid_base"].default
    # Root runs the zygote without one and gives each call its own unprivileged uid; anyone else
    # needs a user namespace to build the sandbox at all.
    user_namespace: bool = field(default_factory=lambda: os.geteuid() != 0)


@dataclass
class _Call:
    spawned: asyncio.Future[tuple[int, int]]
    exited: asyncio.Future[dict[str, Any]]
    pidfd: int | None = None
    done: bool = field(default=False)  # its exit was reported
    released: bool = False  # the runner is finished with it
    kill_on_spawn: bool = False  # released for killing before its pidfd arrived
    violation: Any = None  # what the child's SIGSYS handler reported, unchecked


class ZygoteChannel:
    """Owns the zygote process and its control socket; calls register in `_calls` by id."""

    def __init__(self, config: ZygoteConfig, loop: asyncio.AbstractEventLoop) -> None:
        self.config = config
        self.loop = loop
        self._ids = itertools.count(1)
        self._calls: dict[int, _Call] = {}
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
                   "--call-uid-base", str(self.config.call_uid_base),
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

    def _on_zygote_lost(self) -> None:
        """Hook: what else dies with the zygote."""

    def _send(self, message: dict[str, Any], fds: list[int] | None = None) -> None:
        """A call goes in the zygote loop's binary layout, the start-up handshake as JSON."""
        if self._control is None:
            raise OSError("no zygote")
        if message.get("op") == "call":
            data = control.encode_call_message(message)
        else:
            data = pydantic_core.to_json(message)
        socket.send_fds(self._control, [data], fds or [])

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
        try:
            message = control.decode_report(data) if control.is_report(data) else pydantic_core.from_json(data)
        except ValueError:
            logger.error("dropped a malformed message from the sandbox zygote (%d bytes)", len(data))
            message = {}
        if not isinstance(message, dict):
            message = {}
        self._handle(message, fds)

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
        self._on_zygote_lost()
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
