"""The gateway reading a call socket: progress frames ahead of the reply, all within max_output, any
other frame a protocol error; and what becomes of the child: killed after its reply or on a
protocol error, a session's worker kept between calls, a waiting child recycled when idle."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from collections.abc import Iterator
from typing import Any

import pytest

from sandgate.sandbox import framing
from sandgate.sandbox import runner as runner_module
from sandgate.sandbox.channel import _Call
from sandgate.sandbox.limits import Sandbox
from sandgate.sandbox.replies import ProtocolError
from sandgate.sandbox.runner import PRESPAWN_IDLE_S, OutputTooLarge, SandboxRunner, ZygoteConfig, _Child

REPLY = {"status": 0, "body": '{"content":[]}'}


def read(frames: list[bytes], limit: int, relay: Any = None, call: list[_Call] | None = None) -> Any:
    """What `_read_frame` makes of `frames` written by a child, on a runner that never started;
    the call it read for is appended to `call` when given."""

    async def main() -> Any:
        loop = asyncio.get_running_loop()
        runner = SandboxRunner(ZygoteConfig(target="x.py:server", readonly_paths=[], scratch_bytes=0), loop)
        reading = _Call(loop.create_future(), loop.create_future())
        if call is not None:
            call.append(reading)
        gateway_end, child_end = socket.socketpair()
        with gateway_end, child_end:
            gateway_end.setblocking(False)
            child_end.sendall(b"".join(frames))
            child_end.shutdown(socket.SHUT_WR)
            return await runner._read_frame(gateway_end, limit, reading, relay)

    return asyncio.run(main())


def progress_frame(value: Any) -> bytes:
    return framing.encode({"progress": value})


def test_frames_for_the_client_go_to_the_relay_then_the_reply_returns():
    seen: list[Any] = []
    log = {"level": "info", "data": {"msg": "hi"}}
    frames = [progress_frame({"progress": 1}), framing.encode({"log_message": log}),
              progress_frame({"progress": 2, "total": 2}), framing.encode(REPLY),
              progress_frame({"progress": 3})]  # after the reply: not read
    assert read(frames, 1 << 20, seen.append) == REPLY
    assert seen == [{"progress": {"progress": 1}}, {"log_message": log}, {"progress": {"progress": 2, "total": 2}}]


def test_progress_frames_count_against_max_output():
    frames = [progress_frame({"progress": 1, "message": "x" * 100})] * 3 + [framing.encode(REPLY)]
    body_sizes = [len(frame) - framing.HEADER.size for frame in frames]
    assert read(frames, sum(body_sizes), lambda _: None) == REPLY  # exactly at the limit
    with pytest.raises(OutputTooLarge):
        read(frames, sum(body_sizes) - 1, lambda _: None)


def test_without_a_callback_progress_frames_are_skipped():
    assert read([progress_frame({"progress": 1}), framing.encode(REPLY)], 1 << 20) == REPLY


def test_a_child_that_closes_after_progress_sent_no_reply():
    seen: list[Any] = []
    assert read([progress_frame({"progress": 1})], 1 << 20, seen.append) is None
    assert seen == [{"progress": {"progress": 1}}]


@pytest.mark.parametrize("body", [
    b"\xff\xfe{}",  # invalid UTF-8
    b"[" * 100_000,  # nested beyond any parser's depth
    b'{"status":' + b"7" * 5_000 + b',"body":"{}"}',  # a number too long to convert
    b'{"status":0,"body":"{}"',  # cut short
    b'{"status":NaN,"body":"{}"}',  # not JSON
    b"[1,2,3]", b'"reply"', b"null", b"42",  # not objects
    b'{"status":0,"body":"{}","verdict":"ok"}',  # a key no reply has
    b'{"status":0}', b'{"body":"{}"}',  # half a reply
    b'{"progress":{"progress":1},"status":0,"body":"{}"}',  # progress and reply at once
    b'{"progress":{"progress":1},"violation":{}}',
    b'{"log_message":{"level":"info","data":1},"progress":{"progress":1}}',
    b'{"log_message":{"level":"info","data":1},"status":0,"body":"{}"}',
    b"{}",
])
def test_a_frame_that_breaks_the_protocol_is_a_protocol_error(body):
    with pytest.raises(ProtocolError):
        read([framing.encode_json(body), framing.encode(REPLY)], 1 << 20)


def test_a_bad_frame_after_progress_is_a_protocol_error_and_progress_came_first():
    seen: list[Any] = []
    with pytest.raises(ProtocolError):
        read([progress_frame({"progress": 1}), framing.encode([1]), framing.encode(REPLY)], 1 << 20, seen.append)
    assert seen == [{"progress": {"progress": 1}}]


def test_output_limit_is_checked_before_a_frame_is_parsed():
    junk = framing.encode_json(b"\xff" * 100)
    with pytest.raises(OutputTooLarge):
        read([junk], 99)
    with pytest.raises(ProtocolError):
        read([junk], 100)


# --- The runner's children: gone after their reply, killed on a protocol error, recycled when idle ---

REQUEST = {"kind": "tools/call", "name": "t", "args": "{}", "meta": "{}"}
LIMITS = Sandbox(wall_time=5)
IDLE_S = 0.2
EXIT_WAIT_S = 5.0


@dataclass
class FakeChild:
    """A `sleep` standing in for a call child: its pidfd is the runner's; the test writes its frames."""

    process: subprocess.Popen[bytes]
    call: _Call
    sock: socket.socket  # the child's end


class FakeChildren(SandboxRunner):
    """A runner whose zygote is this test: every spawn is a `sleep` process and a socketpair."""

    ready = True  # type: ignore[assignment]

    def __init__(self, loop: asyncio.AbstractEventLoop, **config: Any) -> None:
        super().__init__(ZygoteConfig(target="x.py:server", readonly_paths=[], scratch_bytes=0, **config), loop)
        self.children: list[FakeChild] = []

    def _spawn(self, limits: Sandbox, persistent: bool = False) -> _Child | None:
        process = subprocess.Popen(["sleep", "60"])
        call = _Call(self.loop.create_future(), self.loop.create_future())
        call.pidfd = os.pidfd_open(process.pid)
        call.spawned.set_result((process.pid, call.pidfd))
        gateway_end, child_end = socket.socketpair()
        gateway_end.setblocking(False)
        self.children.append(FakeChild(process, call, child_end))
        return _Child(call, gateway_end)

    def reap(self) -> None:
        for child in self.children:
            child.process.kill()
            child.process.wait()
            child.sock.close()


def killed(child: FakeChild) -> bool:
    return child.process.wait(EXIT_WAIT_S) == -signal.SIGKILL


@pytest.fixture
def fakes() -> Iterator[list[FakeChildren]]:
    """Runners a test made; their processes are reaped only after the test looked at them."""
    made: list[FakeChildren] = []
    yield made
    for runner in made:
        runner.reap()


def per_call(fakes: list[FakeChildren], frames: list[bytes], close: bool = False,
             **config: Any) -> tuple[tuple[int, str], FakeChild, FakeChildren]:
    """`run` on a child that wrote `frames` (and closed its end when `close`)."""

    async def main() -> tuple[tuple[int, str], FakeChild, FakeChildren]:
        runner = FakeChildren(asyncio.get_running_loop(), prespawned_children=0, **config)
        fakes.append(runner)
        child = runner._take_child(LIMITS)
        assert child is not None
        runner._prespawned[LIMITS].appendleft(child)  # the one `run` takes
        fake = runner.children[-1]
        fake.sock.sendall(b"".join(frames))
        running = asyncio.create_task(runner.run(REQUEST, LIMITS))
        if close:  # once the request came: closed earlier, the child would count as dead before its call
            fake.sock.setblocking(False)
            assert await runner.loop.sock_recv(fake.sock, 1 << 16)
            fake.sock.close()
        return await running, fake, runner

    return asyncio.run(main())


def reason(outcome: tuple[int, str]) -> str:
    result = json.loads(outcome[1])
    return result.get("_meta", {}).get("io.sandgate/sandbox", {}).get("reason", "ok")


def test_a_child_that_lingers_after_its_reply_is_killed_and_its_pidfd_closed(fakes):
    outcome, child, runner = per_call(fakes, [framing.encode(REPLY)])
    assert outcome[:2] == (0, REPLY["body"])
    assert outcome[2]["isolation"] == "per_call" and outcome[2]["duration_s"] > 0 and "reason" not in outcome[2]
    assert child.call.pidfd is None and child.call.released
    assert killed(child)
    assert runner.protocol_errors == 0


def test_a_protocol_error_kills_the_call_and_is_counted(fakes):
    outcome, child, runner = per_call(fakes, [framing.encode_json(b"\xff")])
    assert reason(outcome) == "protocol_error"
    assert json.loads(outcome[1])["_meta"]["io.sandgate/sandbox"]["problem"] == "a frame is not valid JSON"
    assert child.call.pidfd is None
    assert killed(child)
    assert runner.protocol_errors == 1


def test_a_bad_reply_is_a_protocol_error_too(fakes):
    outcome, child, runner = per_call(fakes, [framing.encode({"status": 0, "body": "{}"})])  # no content list
    assert reason(outcome) == "protocol_error"
    assert killed(child)
    assert runner.protocol_errors == 1


def test_output_too_large_still_wins_over_parsing(fakes):
    outcome, child, _ = per_call(fakes, [framing.HEADER.pack(LIMITS.max_output + 1) + b"\xff" * 64])
    assert reason(outcome) == "output_too_large"
    assert killed(child)


def test_a_child_that_closed_its_socket_and_lives_on_is_killed_at_wall_time(fakes, monkeypatch):
    monkeypatch.setattr(runner_module, "EXIT_REPORT_GRACE_S", 0.05)
    monkeypatch.setattr(sys.modules[__name__], "LIMITS", Sandbox(wall_time=0.3))
    began = time.monotonic()
    outcome, child, _ = per_call(fakes, [], close=True)
    assert reason(outcome) == "timeout"
    assert 0.25 < time.monotonic() - began < 3.0
    assert child.call.pidfd is None
    assert killed(child)


async def answered_session_call(runner: FakeChildren, workers_before: int = 0) -> FakeChild:
    """A call on session "s", answered by the worker it spawned (the runner's next fake child)."""
    call = asyncio.create_task(runner.run_in_session("s", REQUEST, LIMITS))
    while len(runner.children) <= workers_before:
        await asyncio.sleep(0.01)
    worker = runner.children[workers_before]
    worker.sock.sendall(framing.encode(REPLY))
    status, body, facts = await call
    assert (status, body, facts["isolation"]) == (0, REPLY["body"], "per_session")
    return worker


def test_a_session_worker_lives_between_calls_and_dies_on_a_protocol_error():
    async def main() -> None:
        runner = FakeChildren(asyncio.get_running_loop())
        try:
            worker = await answered_session_call(runner)
            assert len(runner.children) == 1
            assert worker.process.poll() is None, "a session's worker must outlive its calls"
            assert runner._workers["s"].call is worker.call

            worker.sock.sendall(framing.encode({"status": 0, "body": "[]"}))
            assert reason(await runner.run_in_session("s", REQUEST, LIMITS)) == "protocol_error"
            assert "s" not in runner._workers
            assert worker.call.pidfd is None
            assert killed(worker)
            assert runner.protocol_errors == 1
        finally:
            runner.reap()

    asyncio.run(main())


def test_a_session_worker_that_died_between_calls_is_replaced_and_its_pidfd_closed():
    async def main() -> None:
        runner = FakeChildren(asyncio.get_running_loop())
        try:
            dead = await answered_session_call(runner)
            dead.process.kill()
            dead.call.done = True  # as the zygote's exit report would have it

            await answered_session_call(runner, workers_before=1)
            assert dead.call.pidfd is None, "the dead worker's pidfd was kept"
            assert runner._workers["s"].call is runner.children[1].call
        finally:
            runner.reap()

    asyncio.run(main())


def test_waiting_children_are_recycled_after_the_idle_time():
    async def main() -> None:
        runner = FakeChildren(asyncio.get_running_loop(), prespawned_children=2, prespawn_idle_s=IDLE_S)
        try:
            taken = runner._take_child(LIMITS)
            assert taken is not None
            first_spares = runner.children[1:3]
            assert [c.call for c in runner._prespawned[LIMITS]] == [c.call for c in first_spares]
            await asyncio.sleep(IDLE_S * 0.5)
            assert runner.prespawned_recycled == 0
            await asyncio.sleep(IDLE_S)
            assert runner.prespawned_recycled >= 2  # more only if the loop ran late
            for spare in first_spares:
                assert spare.call.pidfd is None and spare.call.released
                assert killed(spare)
            replacements = list(runner._prespawned[LIMITS])
            assert len(replacements) == 2
            assert not {id(c.call) for c in replacements} & {id(c.call) for c in first_spares}
            assert taken.call.pidfd is not None, "the child handed to a call is not the reserve's"
            # A child taken for a call is no longer on the clock; those still waiting are.
            second = runner._take_child(LIMITS)
            assert second is not None and second.call is replacements[0].call
            await asyncio.sleep(IDLE_S * 2)
            assert runner.prespawned_recycled >= 4
            assert second.call.pidfd is not None and not second.call.released
            assert runner.children[3].process.poll() is None, "the child taken for a call was recycled"
            for child in (taken, second):
                child.sock.close()
                runner._release(child.call, kill=True)
        finally:
            runner.reap()

    asyncio.run(main())


def test_the_idle_time_defaults_to_the_named_bound():
    config = ZygoteConfig(target="x.py:server", readonly_paths=[])
    assert config.prespawn_idle_s == PRESPAWN_IDLE_S

    async def main() -> float:
        runner = SandboxRunner(config, asyncio.get_running_loop())
        return runner._prespawn_idle_s

    assert asyncio.run(main()) == PRESPAWN_IDLE_S


def test_losing_the_zygote_cancels_the_idle_clocks():
    async def main() -> None:
        runner = FakeChildren(asyncio.get_running_loop(), prespawned_children=2, prespawn_idle_s=IDLE_S)
        try:
            taken = runner._take_child(LIMITS)
            assert taken is not None
            runner._on_zygote_lost()
            await asyncio.sleep(IDLE_S * 1.5)
            assert runner.prespawned_recycled == 0
            assert all(c.call.pidfd is None for c in runner.children[1:])
            taken.sock.close()
            runner._release(taken.call, kill=True)
        finally:
            runner.reap()

    asyncio.run(main())
