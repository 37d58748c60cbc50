"""The gateway's end of the zygote: starting it, its control messages, losing and restarting it.

Runs on the gateway's asyncio loop; the calls themselves are the runner's business.
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
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pydantic_core

from sandgate.sandbox import control
from sandgate.settings import ServerSettings

if TYPE_CHECKING:
    from sandgate._core import Counters

logger = logging.getLogger("sandgate.sandbox")

CONTROL_MESSAGE_BYTES = 64 * 1024
ZYGOTE_SCRATCH_BYTES = 16 * 1024 * 1024
CATALOG_READ_BYTES = 1 << 16
ZYGOTE_EXIT_GRACE_S = 0.5
RESPAWN_BACKOFF_S = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
# Everything else in the gateway's environment stays out of the sandbox.
ENVIRONMENT_ALLOWLIST = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "PYTHONHASHSEED")
SINGLE_THREADED_ENVIRONMENT = {
    "MALLOC_ARENA_MAX": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1", "NUMEXPR_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONNOUSERSITE": "1",
    # Symbols bound once in the zygote: lazy binding would write (copy) GOT pages in every child.
    "LD_BIND_NOW": "1",
}


def _setting(name: str) -> Any:
    return ServerSettings.model_fields[name].default


@dataclass
class ZygoteConfig:
    target: str  # path/to/module.py:variable
    readonly_paths: list[str]
    scratch_bytes: int = ZYGOTE_SCRATCH_BYTES  # the zygote's own /tmp; calls get one each
    max_session_workers: int = 64
    prespawned_children: int = 2  # per distinct set of limits
    prespawn_idle_s: float = _setting("prespawn_idle_s")
    # A root gateway maps the zygote's user namespace so that call slot k is host uid call_uid_base + k
    # and the zygote itself call_uid_base + _sandbox.CALL_UID_SLOTS; anyone else can map only its own uid.
    call_uid_base: int = _setting("call_uid_base")
    import_timeout_s: float = _setting("import_timeout_s")
    import_memory: int = _setting("import_memory")
    max_call_memory: int = 4 * 1024**3  # the ceiling's memory: the zygote's hard address-space limit adds it
    user_namespace: str = field(default_factory=lambda: "range" if os.geteuid() == 0 else "self")


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

    def __init__(self, config: ZygoteConfig, loop: asyncio.AbstractEventLoop, counters: Counters | None = None) -> None:
        from sandgate import _core

        self.config = config
        self.loop = loop
        # The gateway's one counter registry: the core reads what the runner counts with its own.
        self.counters = counters if counters is not None else _core.Counters()
        self._ids = itertools.count(1)
        self._calls: dict[int, _Call] = {}
        self._control: socket.socket | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._handshake: asyncio.Future[dict[str, Any]] | None = None
        self._restarts = 0
        self._closing = False
        self.zygote_pid: int | None = None
        self.catalog: bytes | None = None  # the first zygote's; a respawned one's is not believed anew
        # Told when calls can run again or no longer can (the gateway's /readyz follows it).
        self.readiness: Callable[[bool], None] = lambda ready: None

    @property
    def ready(self) -> bool:
        return self._control is not None and self.zygote_pid is not None

    async def start(self) -> None:
        """Starts the zygote; returns once it is confined, has imported the module and sent its catalog."""
        gateway_end, zygote_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        catalog_end, zygote_catalog_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        config = self.config
        command = [sys.executable, "-m", "sandgate.sandbox.zygote", "--control-fd",
                   str(zygote_end.fileno()), "--catalog-fd", str(zygote_catalog_end.fileno()),
                   "--target", config.target, "--scratch", str(config.scratch_bytes),
                   "--import-memory", str(config.import_memory),
                   "--max-call-memory", str(config.max_call_memory),
                   "--user-namespace", config.user_namespace]
        for path in config.readonly_paths:
            command += ["--readonly", path]
        environment = {k: os.environ[k] for k in ENVIRONMENT_ALLOWLIST if k in os.environ}
        environment.update(SINGLE_THREADED_ENVIRONMENT)
        # fork+exec happens in C (_posixsubprocess): no Python runs in the forked gateway.
        # No stdio: what the module prints must not reach (or forge) the gateway's log; failures come
        # back as a message, deaths as an exit status.
        self._process = subprocess.Popen(command, pass_fds=[zygote_end.fileno(), zygote_catalog_end.fileno()],
                                         env=environment, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, start_new_session=True)
        zygote_end.close()
        zygote_catalog_end.close()
        gateway_end.setblocking(False)
        catalog_end.setblocking(False)
        self._control = gateway_end
        self._handshake = self.loop.create_future()
        self.loop.add_reader(gateway_end.fileno(), self._on_control)
        try:
            async with asyncio.timeout(config.import_timeout_s):
                catalog = await self._read_catalog(catalog_end)
                ready = await self._handshake
        except BaseException as exc:
            self._drop_zygote("the zygote did not start")
            if self._handshake.done() and not self._handshake.cancelled():
                self._handshake.exception()  # retrieved: `exc` says it, or says more
            raise self._start_error(exc) from None
        finally:
            catalog_end.close()
        if self.catalog is None:
            self.catalog = catalog
        self.zygote_pid = ready["host_pid"]
        self._restarts = 0
        logger.info("sandbox zygote %d ready", self.zygote_pid)
        self.readiness(True)

    async def _read_catalog(self, sock: socket.socket) -> bytes:
        """Everything up to the zygote's EOF, refused past MAX_CATALOG_BYTES."""
        from sandgate.sandbox.catalog import MAX_CATALOG_BYTES

        data = bytearray()
        while chunk := await self.loop.sock_recv(sock, CATALOG_READ_BYTES):
            data += chunk
            if len(data) > MAX_CATALOG_BYTES:
                raise ZygoteStartError(f"{self.module} sent a catalog of more than {MAX_CATALOG_BYTES} bytes")
        if not data:
            # No catalog: the import failed (the handshake says why) or the zygote died.
            await self._handshake  # type: ignore[misc]
        return bytes(data)

    def _start_error(self, exc: BaseException) -> BaseException:
        if isinstance(exc, ZygoteStartError):
            return exc
        if isinstance(exc, TimeoutError):
            return ZygoteStartError(f"importing {self.module} did not finish within "
                                    f"{self.config.import_timeout_s:g} s (--import-timeout)")
        if isinstance(exc, RuntimeError | _Unavailable):
            return ZygoteStartError(str(exc))
        return exc

    @property
    def module(self) -> str:
        return self.config.target.rpartition(":")[0] or self.config.target

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
            self._drop_zygote("the zygote exited", exited=True)
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
        starting = self._handshake is not None and not self._handshake.done()
        if op == "need_maps" and starting and len(fds) == 1:
            try:
                self._write_id_maps(_pid_of(fds[0]))
            finally:
                os.close(fds[0])
            self._send({"op": "maps_written"})
        elif op == "ready" and starting and len(fds) == 1:
            assert self._handshake is not None
            try:
                self._handshake.set_result({"host_pid": _pid_of(fds[0])})
            except (OSError, ValueError) as exc:
                self._handshake.set_exception(RuntimeError(f"the zygote's pidfd is unusable: {exc}"))
            finally:
                os.close(fds[0])
        elif op == "failed" and starting:
            assert self._handshake is not None
            text = message.get("message")
            text = text if isinstance(text, str) else "the zygote failed"
            self._handshake.set_exception(ZygoteStartError(_printable(text)))
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
        """Root: inside 0 is the zygote's own host id and 1.. the call slots' (each unprivileged);
        anyone else can map only itself, and must deny setgroups to do so."""
        if self.config.user_namespace == "range":
            from sandgate import _sandbox  # the zygote loop's slot count, from the same build

            base, slots = self.config.call_uid_base, _sandbox.CALL_UID_SLOTS
            id_map = f"0 {base + slots} 1\n1 {base} {slots}\n"
            uid_map = gid_map = id_map
        else:
            uid_map, gid_map = f"0 {os.geteuid()} 1", f"0 {os.getegid()} 1"
            with open(f"/proc/{pid}/setgroups", "w") as f:
                f.write("deny")
        with open(f"/proc/{pid}/uid_map", "w") as f:
            f.write(uid_map)
        with open(f"/proc/{pid}/gid_map", "w") as f:
            f.write(gid_map)

    def _drop_zygote(self, why: str, exited: bool = False) -> None:
        if self._control is not None:
            self.loop.remove_reader(self._control.fileno())
            self._control.close()
            self._control = None
        self.zygote_pid = None
        self.readiness(False)
        if self._process is not None:
            try:
                # A zygote that closed its socket is exiting: its status says why.
                self._process.wait(ZYGOTE_EXIT_GRACE_S if exited else 0)
            except subprocess.TimeoutExpired:
                self._process.kill()
            why = f"{why} ({_exit_status(self._process.wait())})"
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
            self._handshake.set_exception(ZygoteStartError(
                f"the sandbox zygote for {self.module} died before it was ready: {why}"))
        if not self._closing and self.catalog is not None:  # restarted only once it has served
            logger.error("sandbox zygote lost (%s); restarting", why)
            self.loop.create_task(self._respawn())

    async def _respawn(self) -> None:
        delay = RESPAWN_BACKOFF_S[min(self._restarts, len(RESPAWN_BACKOFF_S) - 1)]
        self._restarts += 1
        self.counters.add("sandbox_zygote_restarts")
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


class ZygoteStartError(RuntimeError):
    """The zygote could not confine itself, import the module or send its catalog."""


def _pid_of(pidfd: int) -> int:
    """The host pid behind a pidfd the zygote sent (inside its own PID namespace it may be 1)."""
    with open(f"/proc/self/fdinfo/{pidfd}") as info:
        for line in info:
            if line.startswith("Pid:"):
                pid = int(line.split()[1])
                if pid > 0:
                    return pid
    raise ValueError("not a pidfd of a live process")


def _exit_status(code: int) -> str:
    """The waiter passes the zygote's death by signal N on as exit status 128 + N."""
    number = -code if code < 0 else code - 128 if code > 128 else 0
    if number:
        try:
            return f"exit status {code}, killed by {signal.Signals(number).name}"
        except ValueError:
            return f"exit status {code}, killed by signal {number}"
    return f"exit status {code}"


def _printable(text: str, limit: int = 2000) -> str:
    """The zygote's words, on one line: it may be the module talking."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[:limit])
