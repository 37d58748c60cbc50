"""The body of one call child: read the request, run the handler, write one reply, exit."""

from __future__ import annotations

import logging
import os
from functools import partial
from typing import Any, NoReturn

import pydantic_core

from sandgate.results import error_result
from sandgate.sandbox import framing

# Encoded before the tool runs: when memory is exhausted, nothing new can be built. It names the
# exception only: the gateway decides what that means (the `memory` stop).
_MEMORY_REPLY = framing.encode({"status": 0, "body": error_result("MemoryError", "MemoryError")})
# What handlers log (tracebacks included) travels back in the reply, bounded, for the gateway's log.
MAX_LOG_BYTES = 64 * 1024


class CallLog(logging.Handler):
    """Collects the call's log records; the child's own stderr goes nowhere."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.parts: list[str] = []
        self.size = 0

    def emit(self, record: logging.LogRecord) -> None:
        if self.size >= MAX_LOG_BYTES:
            return
        text = self.format(record)[: MAX_LOG_BYTES - self.size]
        self.parts.append(text)
        self.size += len(text)

    def text(self) -> str:
        return "\n".join(self.parts)

    def reset(self) -> None:
        self.parts.clear()
        self.size = 0


CALL_LOG = CallLog()


def install_call_log() -> None:
    """In the zygote: every child inherits a handler that starts empty."""
    logging.getLogger().addHandler(CALL_LOG)


def serve_call(call_fd: int, dispatcher: Any) -> NoReturn:
    """Runs in the child after its sandbox steps; never returns."""
    try:
        reply = framing.encode(_run(call_fd, dispatcher))
    except MemoryError:
        reply = _MEMORY_REPLY
    except BaseException as exc:  # noqa: BLE001 - the gateway must get a reply, whatever happened
        reply = framing.encode({"status": 3, "body": pydantic_core.to_json(
            {"message": f"Sandboxed call failed: {type(exc).__name__}"}).decode()})
    try:
        framing.write_all(call_fd, reply)
    finally:
        os._exit(0)


def serve_session(call_fd: int, dispatcher: Any) -> NoReturn:
    """A per_session worker: one reply per request until the gateway closes the socket."""
    try:
        while True:
            try:
                reply = framing.encode(_run(call_fd, dispatcher))
            except EOFError:
                break
            except MemoryError:
                reply = _MEMORY_REPLY
            framing.write_all(call_fd, reply)
            CALL_LOG.reset()
    finally:
        os._exit(0)


def _run(call_fd: int, dispatcher: Any) -> dict[str, Any]:
    request = framing.read_frame(call_fd)
    notifier = partial(_send_progress, call_fd) if request.get("progress") else None
    log_notifier = partial(_send_log, call_fd) if request.get("log") else None
    asker = partial(_ask_client, call_fd) if request.get("ask") else None
    announce = partial(_announce, call_fd) if request.get("announce") else None
    status, body = dispatcher.call(request["kind"], request["name"], request["args"],
                                   request["meta"], None, progress=notifier, log=log_notifier, ask=asker,
                                   round_trip=request.get("round_trip"), request_id=request.get("request_id"),
                                   client_id=request.get("client_id"), announce=announce,
                                   session_id=request.get("session_id"))
    reply: dict[str, Any] = {"status": status, "body": body}
    if CALL_LOG.parts:
        reply["log"] = CALL_LOG.text()
    return reply


def _send_log(call_fd: int, level: str, params_json: str) -> bool:
    """The Context's log message, as a frame ahead of the reply: {"log_message": {level, data, logger?}}; the
    gateway checks it again and drops what is below the client's level."""
    framing.write_all(call_fd, framing.encode_json(b'{"log_message":' + params_json.encode() + b"}"))
    return True


def _ask_client(call_fd: int, method: str, params_json: str, on_answer: Any) -> str:
    """The Context's request to the client, as a frame ({"ask": {method, params}}); the gateway writes one
    {"answer": {is_error, json}} frame back, which this waits for (the call's wall time still runs)."""
    framing.write_all(call_fd, framing.encode_json(
        b'{"ask":{"method":' + pydantic_core.to_json(method) + b',"params":' + params_json.encode() + b"}}"))
    answer = framing.read_frame(call_fd).get("answer")
    if not isinstance(answer, dict) or not isinstance(answer.get("json"), str):
        return "the gateway's answer frame is malformed"
    if answer.get("refused"):
        return str(answer["refused"])
    on_answer(bool(answer.get("is_error")), answer["json"])
    return ""


def _announce(call_fd: int, kind: str, uri: str) -> bool:
    """The Context's resource update or list change, as a frame ({"announce": {kind, uri}}); the gateway checks
    it again and holds the call to its bound."""
    framing.write_all(call_fd, framing.encode_json(
        b'{"announce":{"kind":' + pydantic_core.to_json(kind) + b',"uri":' + pydantic_core.to_json(uri) + b"}}"))
    return True


def _send_progress(call_fd: int, params_json: str) -> bool:
    """The Context's report, as a frame ahead of the reply: {"progress": {progress, total?, message?, ...}}."""
    framing.write_all(call_fd, framing.encode_json(b'{"progress":' + params_json.encode() + b"}"))
    return True

