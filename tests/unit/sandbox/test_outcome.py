"""Stopped calls become isError tool results with a stable reason."""

from __future__ import annotations

import json
import os
import signal
import typing

import pytest

from sandgate.sandbox import framing
from sandgate.sandbox.outcome import _EXPLANATIONS, Reason, reason_for_signal, signal_name, stopped_result


def test_stopped_result_carries_reason_and_detail():
    result = json.loads(stopped_result("timeout", wall_time=2.0))
    assert result["isError"] is True
    assert result["_meta"]["io.sandgate/sandbox"] == {"reason": "timeout", "wall_time": 2.0}
    assert "timeout" in result["content"][0]["text"]


@pytest.mark.parametrize(("number", "cpu", "reason"), [
    (signal.SIGSYS, 0.0, "seccomp"),
    (signal.SIGXCPU, 2.0, "cpu_time"),
    (signal.SIGKILL, 2.0, "cpu_time"),
    (signal.SIGKILL, 0.5, "crashed"),
    (signal.SIGSEGV, 0.0, "crashed"),
])
def test_signals_map_to_reasons(number, cpu, reason):
    assert reason_for_signal(number, cpu, cpu_limit=1.0) == reason


def test_signal_names():
    assert signal_name(signal.SIGSEGV) == "SIGSEGV"
    assert signal_name(200) == "signal 200"


def test_every_reason_has_a_human_text():
    reasons = set(typing.get_args(Reason))
    assert "protocol_error" in reasons
    assert set(_EXPLANATIONS) == reasons
    assert all(_EXPLANATIONS[reason].strip() for reason in reasons)


def test_protocol_error_is_a_stop_with_its_problem():
    result = json.loads(stopped_result("protocol_error", problem="a frame is not valid JSON"))
    assert result["isError"] is True
    assert result["_meta"]["io.sandgate/sandbox"] == {"reason": "protocol_error", "problem": "a frame is not valid JSON"}
    text = result["content"][0]["text"]
    assert text.startswith("Sandbox stopped the call (protocol_error): ")
    assert "killed" in text and "a frame is not valid JSON" in text


def _pipe_with(data: bytes, close_writer: bool) -> int:
    read_end, write_end = os.pipe()
    framing.write_all(write_end, data)
    if close_writer:
        os.close(write_end)
    return read_end


def test_frames_round_trip():
    read_end = _pipe_with(framing.encode({"status": 0, "body": "{}"}), close_writer=True)
    assert framing.read_frame(read_end) == {"status": 0, "body": "{}"}
    os.close(read_end)


def test_oversized_frame_is_refused_before_reading_it():
    read_end = _pipe_with(framing.encode({"x": "y" * 100}), close_writer=True)
    with pytest.raises(ValueError):
        framing.read_frame(read_end, limit=10)
    os.close(read_end)


def test_truncated_frame_is_an_eof():
    read_end = _pipe_with(framing.encode({"x": 1})[:-1], close_writer=True)
    with pytest.raises(EOFError):
        framing.read_frame(read_end)
    os.close(read_end)
