"""The zygote's binary control messages: layout agreed with the native build, strict decoding."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap

import pytest

from sandgate import _sandbox
from sandgate.sandbox import control

NATIVE = _sandbox.CONTROL_PROTOCOL


def header(op: int, *, magic: int = control.MAGIC, version: int = control.VERSION) -> tuple[int, ...]:
    return magic, version, op, 0


def test_layout_matches_the_native_build():
    assert NATIVE["magic"] == control.MAGIC
    assert NATIVE["version"] == control.VERSION
    assert NATIVE["sizes"] == {"header": control.HEADER.size, "call": control.CALL.size,
                               "spawned": control.SPAWNED.size, "spawn_failed": control.SPAWN_FAILED.size,
                               "exited": control.EXITED.size}
    assert NATIVE["ops"] == {"call": control.OP_CALL, "spawned": control.OP_SPAWNED,
                             "spawn_failed": control.OP_SPAWN_FAILED, "exited": control.OP_EXITED}
    assert max(NATIVE["sizes"].values()) <= NATIVE["max_message_bytes"]


def test_call_carries_every_field_in_place():
    limits = {"address_space": 256 << 20, "cpu_seconds": 2, "open_files": 64, "processes": 16,
              "file_size": 8 << 20}
    data = control.encode_call(2**64 - 1, limits, scratch=16 << 20, persistent=True)
    assert len(data) == 72
    fields = control.CALL.unpack(data)
    assert fields[:4] == header(control.OP_CALL)
    assert fields[4] == 2**64 - 1
    assert fields[5] == 0b11111
    assert fields[6] == control.CALL_PERSISTENT
    assert fields[7:12] == (256 << 20, 2, 64, 16, 8 << 20)
    assert fields[12] == 16 << 20


def test_an_absent_limit_is_not_a_zero_limit():
    absent = control.CALL.unpack(control.encode_call(1, {"cpu_seconds": 3}))
    zero = control.CALL.unpack(control.encode_call(1, {"cpu_seconds": 3, "file_size": 0}))
    assert absent[5] == 0b00010
    assert zero[5] == 0b10010  # present, and refused by the zygote: 0 never means "unlimited"
    assert absent[6] == 0 and absent[12] == 0  # not persistent, shared scratch


@pytest.mark.parametrize(("limits", "error"), [
    ({"memory": 1}, ValueError),
    ({"address_space": True}, TypeError),
    ({"address_space": 1.5}, TypeError),
    ({"address_space": 2**63}, ValueError),
])
def test_bad_limits_are_refused_before_sending(limits, error):
    with pytest.raises(error):
        control.encode_call(1, limits)


@pytest.mark.parametrize(("call_id", "scratch"), [(-1, 0), (2**64, 0), (1, -1)])
def test_ids_and_scratch_out_of_range_are_refused(call_id, scratch):
    with pytest.raises(ValueError):
        control.encode_call(call_id, {}, scratch=scratch)


def test_the_runners_call_dict_translates():
    message = {"op": "call", "id": 5, "limits": {"processes": 4}, "scratch": 4096, "persistent": True}
    fields = control.CALL.unpack(control.encode_call_message(message))
    assert (fields[4], fields[5], fields[6], fields[10], fields[12]) == (5, 0b01000, 1, 4, 4096)
    plain = control.CALL.unpack(control.encode_call_message({"op": "call", "id": 6, "limits": {}}))
    assert (plain[6], plain[12]) == (0, 0)


@pytest.mark.parametrize("message", [
    {"op": "call", "id": 1, "limits": {}, "scratch": 0, "timeout": 3},  # a field the layout has no room for
    {"op": "maps_written"},
])
def test_anything_but_a_known_call_dict_is_refused(message):
    with pytest.raises(ValueError):
        control.encode_call_message(message)


def test_reports_decode_to_the_runners_dicts():
    spawned = control.SPAWNED.pack(*header(control.OP_SPAWNED), 9, 1234, 0)
    assert control.decode_report(spawned) == {"op": "spawned", "id": 9, "pid": 1234}
    failed = control.SPAWN_FAILED.pack(*header(control.OP_SPAWN_FAILED), 9, 11, 0, b"every call slot is in use")
    assert control.decode_report(failed) == {"op": "spawn_failed", "id": 9, "errno": 11,
                                             "message": "every call slot is in use"}
    exited = control.EXITED.pack(*header(control.OP_EXITED), 9, 3, control.NONE, 1_500_000, 2048, 77)
    assert control.decode_report(exited) == {"op": "exited", "id": 9, "code": 3, "signal": None, "cpu": 1.5,
                                             "maxrss_kib": 2048, "minor_faults": 77}
    killed = control.EXITED.pack(*header(control.OP_EXITED), 9, control.NONE, 9, 0, 0, 0)
    assert control.decode_report(killed)["code"] is None
    assert control.decode_report(killed)["signal"] == 9


def test_a_full_failure_text_needs_no_terminator():
    failed = control.SPAWN_FAILED.pack(*header(control.OP_SPAWN_FAILED), 1, 1, 0, b"x" * 104)
    assert control.decode_report(failed)["message"] == "x" * 104


GOOD_SPAWNED = control.SPAWNED.pack(*header(control.OP_SPAWNED), 1, 2, 0)


@pytest.mark.parametrize("data", [
    b"",
    b"SGZC",
    GOOD_SPAWNED[:-1],
    GOOD_SPAWNED + b"\0",
    control.SPAWNED.pack(*header(control.OP_SPAWNED, magic=control.MAGIC ^ 1), 1, 2, 0),
    control.SPAWNED.pack(*header(control.OP_SPAWNED, version=control.VERSION + 1), 1, 2, 0),
    control.SPAWNED.pack(control.MAGIC, control.VERSION, control.OP_SPAWNED, 1, 1, 2, 0),  # reserved set
    control.SPAWNED.pack(*header(99), 1, 2, 0),
    control.encode_call(1, {}),  # a call is no report
    control.EXITED.pack(*header(control.OP_SPAWNED), 1, 0, 0, 0, 0, 0),  # op and size disagree
])
def test_anything_else_is_no_report(data):
    with pytest.raises(control.ControlProtocolError):
        control.decode_report(data)


def test_reports_and_handshake_json_tell_apart():
    assert control.is_report(GOOD_SPAWNED)
    assert not control.is_report(b'{"op":"ready","pid":5}')
    assert not control.is_report(b"")


ZYGOTE = textwrap.dedent("""
    import os, sys
    from sandgate import _sandbox
    call = _sandbox.serve_zygote(int(sys.argv[1]), b"", -1, 0)
    if call is None:
        sys.exit(0)
    call_fd, persistent = call
    os.write(call_fd, b"persistent=%d" % persistent)
    os._exit(5)
""")


@pytest.mark.skipif(os.geteuid() != 0, reason="each call is PID 1 of a new PID namespace: needs root")
def test_a_call_round_trips_through_the_native_loop():
    gateway, zygote_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    process = subprocess.Popen([sys.executable, "-c", ZYGOTE, str(zygote_end.fileno())],
                               pass_fds=[zygote_end.fileno()])
    zygote_end.close()
    gateway.settimeout(10)
    try:
        call_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        socket.send_fds(gateway, [control.encode_call(42, {"open_files": 32}, persistent=True)],
                        [child_end.fileno()])
        child_end.close()
        data, fds, _, _ = socket.recv_fds(gateway, 256, 4)
        spawned = control.decode_report(data)
        assert spawned["op"] == "spawned" and spawned["id"] == 42 and spawned["pid"] > 0
        assert len(fds) == 1
        os.close(fds[0])
        call_end.settimeout(10)
        assert call_end.recv(64) == b"persistent=1"
        data, fds, _, _ = socket.recv_fds(gateway, 256, 4)
        exited = control.decode_report(data)
        assert (exited["op"], exited["id"], exited["code"], exited["signal"]) == ("exited", 42, 5, None)
        assert exited["maxrss_kib"] > 0 and fds == []
        call_end.close()
    finally:
        gateway.close()
        assert process.wait(timeout=10) == 0  # EOF: serve_zygote returned None
