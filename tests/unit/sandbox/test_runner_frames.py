"""The gateway reading a call socket: progress frames ahead of the reply, all within max_output."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from sandgate.sandbox import framing
from sandgate.sandbox.channel import _Call
from sandgate.sandbox.runner import OutputTooLarge, SandboxRunner, ZygoteConfig

REPLY = {"status": 0, "body": '{"content":[]}'}


def read(frames: list[bytes], limit: int, progress: Any = None, call: list[_Call] | None = None) -> Any:
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
            return await runner._read_frame(gateway_end, limit, reading, progress)

    return asyncio.run(main())


def progress_frame(value: Any) -> bytes:
    return framing.encode({"progress": value})


def test_progress_frames_go_to_the_callback_then_the_reply_returns():
    seen: list[Any] = []
    frames = [progress_frame({"progress": 1}), progress_frame({"progress": 2, "total": 2}), framing.encode(REPLY),
              progress_frame({"progress": 3})]  # after the reply: not read
    assert read(frames, 1 << 20, seen.append) == REPLY
    assert seen == [{"progress": 1}, {"progress": 2, "total": 2}]


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
    assert seen == [{"progress": 1}]


def test_frames_that_are_not_objects_are_skipped_but_counted():
    junk = framing.encode([1, 2, 3])
    assert read([junk, framing.encode(REPLY)], 1 << 20) == REPLY
    with pytest.raises(OutputTooLarge):
        read([junk] * 4 + [framing.encode(REPLY)], 4 * (len(junk) - framing.HEADER.size))


@pytest.mark.parametrize("reply", [{"status": "0", "body": "{}"}, {"status": 9, "body": "{}"},
                                   {"status": 0, "body": {"content": []}}, {"status": 0}])
def test_a_malformed_reply_is_a_crash_not_an_exception(reply):
    status, body = SandboxRunner._reply(reply, {"kind": "tools/call", "name": "t"})
    assert status == 0
    assert '"reason":"crashed"' in body.replace(" ", "")
