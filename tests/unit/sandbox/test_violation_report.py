"""A call child's violation report: read past like no reply, believed only when SIGSYS ended the call."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
from typing import Any

import pytest

from sandgate import _sandbox
from sandgate.sandbox import framing
from sandgate.sandbox.channel import ZygoteConfig, _Call
from sandgate.sandbox.limits import Sandbox
from sandgate.sandbox.outcome import reported_syscall
from sandgate.sandbox.runner import SandboxRunner

NATIVE = _sandbox.NATIVE_AUDIT_ARCH
NAME_OF_59 = _sandbox.syscall_name(59)  # execve on x86_64; whatever 59 is elsewhere
REPORT = {"syscall": 59, "arch": NATIVE}
REPLY = {"status": 0, "body": "{}"}


def test_native_report_is_named():
    assert NAME_OF_59
    assert reported_syscall(REPORT) == NAME_OF_59


def test_foreign_architecture_or_unknown_number_stays_a_number():
    assert reported_syscall({"syscall": 59, "arch": NATIVE ^ 1}) == 59
    assert reported_syscall({"syscall": 100_000, "arch": NATIVE}) == 100_000


@pytest.mark.parametrize("report", [
    None, "execve", [59, NATIVE], {"syscall": 59}, {"arch": NATIVE}, {"syscall": "59", "arch": NATIVE},
    {"syscall": True, "arch": NATIVE}, {"syscall": 59, "arch": float(NATIVE)}, {"syscall": 2**31, "arch": NATIVE},
    {"syscall": -2**31 - 1, "arch": NATIVE},
])
def test_malformed_report_names_nothing(report: Any):
    assert reported_syscall(report) is None


def _runner(loop: asyncio.AbstractEventLoop) -> SandboxRunner:
    return SandboxRunner(ZygoteConfig(target="tools.py:server", readonly_paths=[], scratch_bytes=0), loop)


async def _read(data: bytes) -> tuple[Any, _Call]:
    """What _read_frame makes of `data` written by a child that then closed its end."""
    loop = asyncio.get_running_loop()
    gateway_end, child_end = socket.socketpair()
    gateway_end.setblocking(False)
    with child_end:
        child_end.sendall(data)
    call = _Call(loop.create_future(), loop.create_future())
    with gateway_end:
        reply = await _runner(loop)._read_frame(gateway_end, 1 << 20, call)
    return reply, call


def test_report_is_no_reply_and_is_kept():
    reply, call = asyncio.run(_read(framing.encode({"violation": REPORT})))
    assert reply is None
    assert call.violation == REPORT


def test_reply_after_a_report_is_the_reply():
    reply, call = asyncio.run(_read(framing.encode({"violation": REPORT}) + framing.encode(REPLY)))
    assert reply == REPLY
    assert call.violation == REPORT


def test_each_read_starts_without_a_report():
    async def read_twice() -> tuple[Any, Any]:
        loop = asyncio.get_running_loop()
        gateway_end, child_end = socket.socketpair()
        gateway_end.setblocking(False)
        call = _Call(loop.create_future(), loop.create_future())
        runner = _runner(loop)
        with gateway_end, child_end:
            child_end.sendall(framing.encode({"violation": REPORT}) + framing.encode(REPLY) + framing.encode(REPLY))
            await runner._read_frame(gateway_end, 1 << 20, call)
            first = call.violation
            await runner._read_frame(gateway_end, 1 << 20, call)
        return first, call.violation

    assert asyncio.run(read_twice()) == (REPORT, None)


async def _outcome(exited: dict[str, Any], violation: Any) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    call = _Call(loop.create_future(), loop.create_future())
    call.exited.set_result(exited)
    call.violation = violation
    _, body, facts = await _runner(loop)._outcome(call, Sandbox())
    meta: dict[str, Any] = json.loads(body)["_meta"]["io.sandgate/sandbox"]
    # The facts the core records say what the client's result says, and what the kernel counted.
    assert {"reason": facts["reason"], **facts.get("sandbox", {})} == meta
    assert facts["cpu_time_s"] == exited["cpu"] and facts["peak_memory_bytes"] == exited.get("maxrss_kib", 0) * 1024
    return meta


def test_death_by_sigsys_names_the_reported_syscall():
    meta = asyncio.run(_outcome({"signal": int(signal.SIGSYS), "cpu": 0.5, "maxrss_kib": 2048}, REPORT))
    assert meta == {"reason": "seccomp", "signal": "SIGSYS", "syscall": NAME_OF_59}


def test_sigsys_without_a_report_names_nothing():
    meta = asyncio.run(_outcome({"signal": int(signal.SIGSYS), "cpu": 0.0}, None))
    assert meta == {"reason": "seccomp", "signal": "SIGSYS"}


@pytest.mark.parametrize("exited", [{"signal": int(signal.SIGSEGV), "cpu": 0.0}, {"code": 0, "cpu": 0.0}])
def test_report_without_death_by_sigsys_is_ignored(exited: dict[str, Any]):
    meta = asyncio.run(_outcome(exited, REPORT))
    assert "syscall" not in meta
