"""The gateway's control channel keeps the runner's dict API over the binary per-call messages."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterator

import pytest

from sandgate.sandbox import control
from sandgate.sandbox.channel import ZygoteChannel, ZygoteConfig, _Call, _Unavailable


@pytest.fixture
def wired() -> Iterator[tuple[ZygoteChannel, socket.socket, asyncio.AbstractEventLoop]]:
    """A channel whose control socket is connected to a fake zygote end, without a process."""
    loop = asyncio.new_event_loop()
    channel = ZygoteChannel(ZygoteConfig(target="unused.py:server", readonly_paths=[], scratch_bytes=1), loop)
    gateway_end, zygote_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    gateway_end.setblocking(False)
    zygote_end.settimeout(5)
    channel._control = gateway_end
    yield channel, zygote_end, loop
    channel._control = None
    gateway_end.close()
    zygote_end.close()
    loop.close()


def read_from_start(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, 64)


def test_a_call_dict_goes_out_binary_with_its_fd(wired, tmp_path):
    channel, zygote_end, _ = wired
    marker = tmp_path / "marker"
    marker.write_bytes(b"child end")
    with open(marker, "rb") as child_end:
        channel._send({"op": "call", "id": 3, "limits": {"open_files": 64}, "scratch": 4096, "persistent": True},
                      [child_end.fileno()])
    data, fds, _, _ = socket.recv_fds(zygote_end, 4096, 4)
    assert data == control.encode_call(3, {"open_files": 64}, scratch=4096, persistent=True)
    assert len(fds) == 1
    assert read_from_start(fds[0]) == b"child end"
    os.close(fds[0])


def test_handshake_messages_stay_json(wired):
    channel, zygote_end, _ = wired
    channel._send({"op": "maps_written"})
    assert zygote_end.recv(4096) == b'{"op":"maps_written"}'


def test_reports_resolve_the_calls_futures(wired):
    channel, zygote_end, loop = wired
    call = _Call(loop.create_future(), loop.create_future())
    channel._calls[5] = call
    pidfd_stand_in, other = socket.socketpair()
    socket.send_fds(zygote_end, [control.SPAWNED.pack(control.MAGIC, control.VERSION, control.OP_SPAWNED, 0,
                                                      5, 4321, 0)], [pidfd_stand_in.fileno()])
    pidfd_stand_in.close()
    channel._on_control()
    pid, pidfd = call.spawned.result()
    assert pid == 4321
    os.close(pidfd)
    other.close()
    zygote_end.send(control.EXITED.pack(control.MAGIC, control.VERSION, control.OP_EXITED, 0,
                                        5, control.NONE, 9, 250_000, 4096, 12))
    channel._on_control()
    assert call.exited.result() == {"op": "exited", "id": 5, "code": None, "signal": 9, "cpu": 0.25,
                                    "maxrss_kib": 4096, "minor_faults": 12}
    assert call.done and 5 not in channel._calls


def test_spawn_failure_fails_both_futures(wired):
    channel, zygote_end, loop = wired
    call = _Call(loop.create_future(), loop.create_future())
    channel._calls[6] = call
    zygote_end.send(control.SPAWN_FAILED.pack(control.MAGIC, control.VERSION, control.OP_SPAWN_FAILED, 0,
                                              6, 11, 0, b"every call slot is in use"))
    channel._on_control()
    with pytest.raises(_Unavailable, match="every call slot"):
        call.spawned.result()
    with pytest.raises(_Unavailable):
        call.exited.result()


def test_a_malformed_report_is_dropped_with_its_fds(wired):
    channel, zygote_end, loop = wired
    call = _Call(loop.create_future(), loop.create_future())
    channel._calls[7] = call
    sent, kept = socket.socketpair()
    bad = control.SPAWNED.pack(control.MAGIC, control.VERSION + 1, control.OP_SPAWNED, 0, 7, 1, 0)
    socket.send_fds(zygote_end, [bad], [sent.fileno()])
    sent.close()
    channel._on_control()
    assert not call.spawned.done()
    kept.settimeout(5)
    assert kept.recv(1) == b""  # the channel closed the only other end
    kept.close()
