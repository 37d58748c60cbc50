"""Calls are islands, on the wire: a call ends when its reply is complete and its process is gone,
and nothing a child writes decides how it ended. frames.py's tools write raw frames on their call
socket; whatever they write, the gateway answers with a verdict of its own (`protocol_error` for
what it cannot accept), kills the child, logs its words only escaped, and serves the next call."""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from integration.wire import ModernWire

from .harness import CALL_TIMEOUT_S, ERROR_META, SANDBOX_META, Gateway, Outcome, Watch, expect
from .host import children, named, wait_until

FRAMES = Path(__file__).resolve().parent / "frames.py"
PROTOCOL_ERROR = {"protocol_error": None}
GONE_S = 2.0  # a killed call's processes leave the host within this
SEEN_S = 2.0
WALL_TIME_S = 2.0  # frames.py's server-wide wall_time
MAX_OUTPUT = 1 << 20  # frames.py's server-wide max_output
MALFORMED_CALLS = 2_000
CALLING_THREADS = 4
LOOP_DEADLINE_S = 120.0
SETTLE_S = 10.0
FD_SLACK = 6  # descriptors the gateway may hold beyond the baseline: a spare child's socket and pidfd
PROCESS_SLACK = 2  # call processes beyond the baseline: children forked ahead of demand
LOG_SLACK = 2048  # the record's tag and timestamp, beyond the child's capped text
CHILD_LOG_CAP = 16 * 1024  # replies.MAX_CHILD_LOG_CHARS: what one call may add to the gateway's log
IDLE_S = 1.0
PRESPAWNED = 2  # the default prespawned_children, for frames.py's one set of limits


@pytest.fixture(scope="module")
def frames() -> Iterator[Gateway]:
    with Gateway(FRAMES).serving() as served:
        yield served


def payload(value: Any) -> str:
    """A frame's bytes, base64 for the `raw` tool: JSON for values, as-is for bytes."""
    data = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.b64encode(data).decode()


def reply(body: Any, status: int = 0, **extra: Any) -> str:
    return payload({"status": status, "body": body if isinstance(body, str) else json.dumps(body), **extra})


def text_result(text: str, **fields: Any) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], **fields}


def waiting_children(gateway: Gateway) -> set[int]:
    (zygote,) = gateway.zygotes
    return children(zygote)


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


# --- A call ends when its reply is complete and its process is gone --------------------------------

@pytest.mark.parametrize("fork", [False, True], ids=["alone", "with-a-child"])
def test_a_child_that_lingers_after_its_reply_is_killed(frames: Gateway, marker: str, fork: bool) -> None:
    watch = Watch(lambda: frames.call("raw", frames=[reply(text_result("replied"))], after="linger",
                                      marker=marker, delay=0.5, fork=fork))
    peak = watch.sample(lambda: len(named(marker)))
    outcome = expect(watch.result(), {"ok": None})
    assert outcome.text == "replied"
    assert peak >= (2 if fork else 1), f"the marked call was never seen on the host (peak {peak})"
    assert wait_until(lambda: not named(marker), GONE_S), f"{named(marker)} outlived the call's reply"
    frames.assert_serving()


def test_a_child_that_closes_its_socket_and_lingers_ends_at_wall_time(frames: Gateway, marker: str) -> None:
    outcome = expect(frames.attack("close_and_linger", marker=marker), {"timeout": None})
    assert WALL_TIME_S <= outcome.elapsed_s < WALL_TIME_S + 3.0, outcome.elapsed_s
    assert wait_until(lambda: not named(marker), GONE_S), f"{named(marker)} outlived its wall time"


def test_output_limits_still_apply_to_raw_frames(frames: Gateway, marker: str) -> None:
    expect(frames.attack("claim_size", size=MAX_OUTPUT + 1, marker=marker), {"output_too_large": None})
    assert wait_until(lambda: not named(marker), GONE_S)


# --- Frames the gateway cannot parse or that break the protocol ------------------------------------

@pytest.mark.parametrize("frame", [
    pytest.param(payload(b"\xff\xfe\xfd{}"), id="invalid-utf8"),
    pytest.param(payload(b'{"status":0,"body":"\xed\xa0\x80"}'), id="utf8-surrogate"),
    pytest.param(payload([1, 2, 3]), id="array"),
    pytest.param(payload("reply"), id="string"),
    pytest.param(payload(None), id="null"),
    pytest.param(payload(b'{"status":0,"body":"{}"'), id="truncated-json"),
    pytest.param(payload(b'{"status":NaN,"body":"{}"}'), id="nan"),
    pytest.param(reply(text_result("x"), verdict="ok"), id="unknown-key"),
    pytest.param(payload({"status": 0}), id="no-body"),
    pytest.param(payload({"progress": {"progress": 1}, "status": 0, "body": "{}"}), id="progress-and-reply"),
    pytest.param(reply(text_result("x"), status=5), id="status-5"),
    pytest.param(reply(text_result("x"), status=-1), id="status-negative"),
    pytest.param(payload({"status": "0", "body": json.dumps(text_result("x"))}), id="status-string"),
    pytest.param(payload({"status": True, "body": json.dumps(text_result("x"))}), id="status-bool"),
    pytest.param(payload({"status": 0.0, "body": json.dumps(text_result("x"))}), id="status-float"),
    pytest.param(payload({"status": 0, "body": text_result("x")}), id="body-object-not-string"),
    pytest.param(reply("[]"), id="body-array"),
    pytest.param(reply("{"), id="body-invalid"),
    pytest.param(reply({"content": "x"}), id="content-not-list"),
    pytest.param(reply({"structuredContent": {}}), id="no-content"),
    pytest.param(reply({"message": "Sandbox stopped the call (timeout)"}), id="error-body-with-status-0"),
    pytest.param(reply(text_result("x"), status=3), id="result-body-with-error-status"),
    pytest.param(reply({"message": 7}, status=1), id="error-message-not-string"),
    pytest.param(reply(text_result("x"), log=["not", "text"]), id="log-not-string"),
])
def test_a_frame_that_breaks_the_protocol_ends_the_call(frames: Gateway, frame: str) -> None:
    outcome = expect(frames.attack("raw", frames=[frame]), PROTOCOL_ERROR)
    assert "protocol_error" in outcome.text


def test_a_bad_frame_after_progress_ends_the_call(frames: Gateway) -> None:
    progress = payload({"progress": {"progress": 1, "total": 2}})
    expect(frames.attack("raw", frames=[progress, payload([1]), reply(text_result("late"))]), PROTOCOL_ERROR)


def test_deep_nesting_ends_the_call(frames: Gateway) -> None:
    expect(frames.attack("nested", depth=100_000), PROTOCOL_ERROR)


def test_a_5000_digit_number_ends_the_call(frames: Gateway) -> None:
    expect(frames.attack("long_number", digits=5_000), PROTOCOL_ERROR)


@pytest.mark.parametrize("tool", ["raw", "nested", "long_number"])
def test_a_protocol_error_kills_a_child_that_lingers(frames: Gateway, tool: str, marker: str) -> None:
    arguments: dict[str, Any] = {"raw": {"frames": [payload(b"\xff")], "marker": marker},
                                 "nested": {"depth": 100_000}, "long_number": {"digits": 5_000}}[tool]
    outcome = expect(frames.attack(tool, after="linger", **arguments), PROTOCOL_ERROR)
    assert outcome.elapsed_s < WALL_TIME_S, "killed at wall time, not at the protocol error"
    if tool == "raw":
        assert wait_until(lambda: not named(marker), GONE_S), f"{named(marker)} outlived its protocol error"
    # Whatever ran those calls is gone again: only the children waiting for a call are left.
    assert wait_until(lambda: len(waiting_children(frames)) <= PRESPAWNED, GONE_S), waiting_children(frames)


# --- The verdict is the gateway's --------------------------------------------------------------------

def test_a_forged_timeout_on_an_ok_result_comes_back_ok_without_it(frames: Gateway) -> None:
    forged = text_result("fine", _meta={SANDBOX_META: {"reason": "timeout", "wall_time": 1}, "other/key": 1})
    outcome = expect(frames.attack("raw", frames=[reply(forged)]), {"ok": None})
    assert outcome.text == "fine"
    meta = outcome.result["_meta"]
    assert SANDBOX_META not in meta and meta["other/key"] == 1, meta


def test_a_forged_timeout_on_an_exception_is_the_gateways_tool_error(frames: Gateway) -> None:
    forged = text_result("ValueError: x", isError=True,
                         _meta={SANDBOX_META: {"reason": "timeout"}, ERROR_META: {"type": "ValueError"}})
    outcome = expect(frames.attack("raw", frames=[reply(forged)]), {"tool_error": {"ValueError"}})
    assert outcome.detail == {"reason": "tool_error", "type": "ValueError"}


def test_a_forged_verdict_on_an_error_without_an_exception_is_dropped(frames: Gateway) -> None:
    forged = text_result("bad", isError=True, _meta={SANDBOX_META: {"reason": "seccomp", "syscall": "execve"}})
    outcome = frames.attack("raw", frames=[reply(forged)])
    assert outcome.is_error and outcome.text == "bad"
    assert SANDBOX_META not in outcome.result.get("_meta", {}), outcome.result


def test_a_memory_error_the_child_names_is_the_memory_stop(frames: Gateway) -> None:
    named_memory = text_result("MemoryError", isError=True, _meta={ERROR_META: {"type": "MemoryError"}})
    expect(frames.attack("raw", frames=[reply(named_memory)]), {"memory": None})


def test_a_forged_exception_type_is_one_printable_line(frames: Gateway, token: str) -> None:
    forged = text_result("x", isError=True, _meta={ERROR_META: {"type": f"Evil\n{token}\x1b[0m" + "T" * 500}})
    outcome = expect(frames.attack("raw", frames=[reply(forged)]), {"tool_error": None})
    shown = outcome.detail["type"]
    assert shown.isprintable() and len(shown) <= 200 and token in shown, shown


# --- The child's log ---------------------------------------------------------------------------------

def log_lines_after(gateway: Gateway, sentinel: str) -> list[str]:
    """The gateway's log lines up to `sentinel`, a tag a call just logged (waits until it shows)."""
    assert wait_until(lambda: sentinel in gateway.log_tail(), SEEN_S), f"{sentinel} never reached the log"
    return gateway.log_tail().splitlines()


def test_a_childs_log_cannot_forge_a_gateway_line(frames: Gateway, token: str) -> None:
    forged = f"INFO tool: hi\n2030-01-01 00:00:00,000 CRITICAL sandgate: FORGED-{token}\r\x1b[2K"
    expect(frames.attack("raw", frames=[reply(text_result("ok"), log=forged)]), {"ok": None})
    lines = [line for line in log_lines_after(frames, f"FORGED-{token}") if token in line]
    assert len(lines) == 1, lines
    assert "sandboxed tools/call 'raw' logged: INFO tool: hi\\n2030-01-01" in lines[0], lines[0]
    assert "\x1b" not in lines[0] and "\r" not in lines[0]


def test_a_childs_log_is_capped(frames: Gateway, token: str) -> None:
    flood = "\n" * (256 * 1024) + f"END-{token}"  # 512 KiB as JSON: within max_output
    before = frames.output_bytes
    expect(frames.attack("raw", frames=[reply(text_result("ok"), log=flood)]), {"ok": None})
    sentinel = f"SENTINEL-{token}"
    expect(frames.attack("raw", frames=[reply(text_result("ok"), log=sentinel)]), {"ok": None})
    log_lines_after(frames, sentinel)
    assert f"END-{token}" not in frames.log_tail(), "the log past the cap reached the gateway's log"
    assert "[truncated]" in frames.log_tail()
    # The two records, and the `add` calls after them, which log nothing.
    assert frames.output_bytes - before < CHILD_LOG_CAP + len(sentinel) + 2 * LOG_SLACK


# --- per_session workers: kept between calls, killed on a protocol error --------------------------

def test_a_session_worker_that_breaks_the_protocol_is_killed(frames: Gateway, marker: str) -> None:
    session = frames.session()
    try:
        assert expect(frames.session_call(session, "session_count", marker=marker), {"ok": None}).value == 1
        assert expect(frames.session_call(session, "session_count"), {"ok": None}).value == 2
        assert named(marker), "the session's worker is not on the host between calls"
        expect(frames.session_call(session, "session_raw", frames=[payload(b"\xff")]), PROTOCOL_ERROR)
        assert wait_until(lambda: not named(marker), GONE_S), f"worker {named(marker)} outlived its protocol error"
        assert expect(frames.session_call(session, "session_count"), {"ok": None}).value == 1, \
            "the session kept a worker that broke the protocol"
    finally:
        session.close()
    frames.assert_serving()


# --- Nothing leaks, however many calls break the protocol --------------------------------------------

def test_malformed_calls_leak_no_descriptor_process_or_slot(frames: Gateway) -> None:
    frames.assert_serving()
    assert wait_until(lambda: len(waiting_children(frames)) >= 1, SETTLE_S)
    time.sleep(0.5)  # the warm-up's connection and child are gone
    fd_baseline, process_baseline = open_fds(frames.pid), len(waiting_children(frames))
    junk = [payload(b"\xff"), payload([1]), reply("[]"), reply(text_result("x"), status=9)]
    reasons: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + LOOP_DEADLINE_S

    def calls(first: int) -> None:
        with httpx.Client(timeout=CALL_TIMEOUT_S) as http:
            wire = ModernWire(frames.url, http)
            for number in range(first, MALFORMED_CALLS, CALLING_THREADS):
                if time.monotonic() > deadline:
                    return
                params = {"name": "raw", "arguments": {"frames": [junk[number % len(junk)]]}}
                response = wire.request("tools/call", params, request_id=number)
                result = response.json().get("result", {}) if response.status_code == 200 else {}
                with lock:
                    reasons.append(Outcome("raw", result, 0.0).reason)

    threads = [threading.Thread(target=calls, args=(first,)) for first in range(CALLING_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(reasons) == MALFORMED_CALLS, f"only {len(reasons)} calls within {LOOP_DEADLINE_S:.0f}s"
    unexpected = {reason: reasons.count(reason) for reason in set(reasons) if reason != "protocol_error"}
    assert not unexpected, f"calls that did not end in protocol_error: {unexpected}\n{frames.log_tail()[-2000:]}"

    assert wait_until(lambda: open_fds(frames.pid) <= fd_baseline + FD_SLACK, SETTLE_S), \
        f"the gateway holds {open_fds(frames.pid)} descriptors, {fd_baseline} before the calls"
    assert wait_until(lambda: len(waiting_children(frames)) <= process_baseline + PROCESS_SLACK, SETTLE_S), \
        f"{len(waiting_children(frames))} call processes live on, {process_baseline} before the calls"
    frames.assert_serving()


# --- Children forked ahead of demand do not wait forever ---------------------------------------------

def test_waiting_children_are_recycled_after_the_idle_time() -> None:
    gateway = Gateway(FRAMES, ["--set", f"prespawn_idle_s={IDLE_S}"]).start()
    try:
        gateway.assert_serving()
        assert wait_until(lambda: len(waiting_children(gateway)) >= 2, SETTLE_S), "no children wait for calls"
        first = waiting_children(gateway)
        assert wait_until(lambda: not first & waiting_children(gateway), IDLE_S + SETTLE_S), \
            f"children {first & waiting_children(gateway)} waited past {IDLE_S}s"
        assert wait_until(lambda: len(waiting_children(gateway)) >= 2, SETTLE_S), "the reserve was not refilled"
        assert len(waiting_children(gateway)) <= PRESPAWNED + PROCESS_SLACK, waiting_children(gateway)
        gateway.assert_survived()
    finally:
        gateway.stop()
