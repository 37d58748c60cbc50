"""Stopped calls become isError tool results with a stable reason."""

from __future__ import annotations

import json
import signal

import pytest

from sandgate.sandbox import framing
from sandgate.sandbox.child import _mark_tool_error
from sandgate.sandbox.outcome import reason_for_signal, signal_name, stopped_result


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


def test_tool_exceptions_are_marked_tool_error_and_memory_errors_memory():
    raised = json.dumps({"content": [{"type": "text", "text": "ValueError: x"}], "isError": True,
                         "_meta": {"io.sandgate/error": {"type": "ValueError"}}})
    marked = json.loads(_mark_tool_error(raised))
    assert marked["_meta"]["io.sandgate/sandbox"] == {"reason": "tool_error", "type": "ValueError"}
    memory = raised.replace("ValueError", "MemoryError")
    assert json.loads(_mark_tool_error(memory))["_meta"]["io.sandgate/sandbox"]["reason"] == "memory"
    plain = json.dumps({"content": [{"type": "text", "text": "5"}]})
    assert _mark_tool_error(plain) == plain


def test_reply_frames_round_trip_and_truncation_is_detected():
    frame = framing.encode({"status": 0, "body": "{}"})
    assert framing.decode_reply(frame) == {"status": 0, "body": "{}"}
    assert framing.decode_reply(frame[:-1]) is None
    assert framing.decode_reply(b"") is None
