"""What a call child writes on its call socket, checked before the gateway believes any of it.

The child is untrusted: its frames may be anything. A frame the gateway cannot parse, or one that
breaks the protocol, is a ProtocolError (the runner kills the call). A well-formed reply says
what the tool returned; the verdict on it (`tool_error`, `memory`) is the gateway's, never the
child's: whatever the child wrote under `_meta["io.sandgate/sandbox"]` is dropped.
"""

from __future__ import annotations

from typing import Any

import pydantic_core

from sandgate.results import ERROR_META_KEY
from sandgate.sandbox.outcome import SANDBOX_META_KEY, Ended, stopped

# The Dispatcher's statuses a child may reply with: 0 (ok) to 4, and 7 (a URL elicitation needed); 5 and 6
# (cancelled, shutting down) are the gateway's own.
CHILD_STATUSES = frozenset({0, 1, 2, 3, 4, 7})
REPLY_KEYS = frozenset({"status", "body", "log"})
REQUIRED_REPLY_KEYS = frozenset({"status", "body"})
# The frames a child writes before its reply, each with exactly one key.
ASIDE_KEYS = frozenset({"progress", "log_message", "ask", "announce", "violation"})
ERROR_BODY_KEYS = frozenset({"message", "data"})
MAX_ERROR_TYPE_CHARS = 200
MAX_CHILD_LOG_CHARS = 16 * 1024  # per call, escaped: what one call may add to the gateway's log
TRUNCATED_MARK = " [truncated]"


class ProtocolError(Exception):
    """A child's frame the gateway cannot parse, or one that breaks the call protocol."""


def parse_frame(data: bytes) -> dict[str, Any]:
    """One frame: a reply ({status, body, log?}), or progress, a log message, an ask, an announcement or a violation
    report (one key each)."""
    frame = _object(data, "a frame")
    if len(frame) == 1 and frame.keys() <= ASIDE_KEYS:
        return frame
    if REQUIRED_REPLY_KEYS <= frame.keys() <= REPLY_KEYS:
        return frame
    raise ProtocolError("a frame is neither a reply nor one of progress, log_message, ask, announce, violation")


def is_reply(frame: dict[str, Any]) -> bool:
    return "status" in frame


def child_log(reply: dict[str, Any]) -> str | None:
    """The reply's log text, on one line and bounded: it must not forge or flood the gateway's log."""
    if "log" not in reply:
        return None
    text = reply["log"]
    if type(text) is not str:
        raise ProtocolError("the reply's log is not a string")
    escaped = _one_line(text[:MAX_CHILD_LOG_CHARS])
    if len(text) > MAX_CHILD_LOG_CHARS or len(escaped) > MAX_CHILD_LOG_CHARS:
        return escaped[:MAX_CHILD_LOG_CHARS] + TRUNCATED_MARK
    return escaped


def settle(reply: dict[str, Any], kind: str) -> Ended:
    """The reply's (status, body) as the Dispatcher contract has it, with the gateway's verdict and its facts.

    The body passes unchanged unless the gateway changed something in it.
    """
    status, body = reply["status"], reply["body"]
    if type(status) is not int or status not in CHILD_STATUSES:
        raise ProtocolError(f"the reply's status is not one of {sorted(CHILD_STATUSES)}")
    if type(body) is not str:
        raise ProtocolError("the reply's body is not a string")
    result = _object(body, "the reply's body")
    if status != 0:
        if not result.keys() <= ERROR_BODY_KEYS or type(result.get("message")) is not str:
            raise ProtocolError("an error reply's body is not {message, data?}")
        return status, body, {}
    meta = result.get("_meta")
    if "_meta" in result and type(meta) is not dict:
        raise ProtocolError("the result's _meta is not an object")
    changed = False
    facts: dict[str, Any] = {}
    if meta is not None and SANDBOX_META_KEY in meta:
        del meta[SANDBOX_META_KEY]  # the child's claim: only the gateway says how a call ended
        changed = True
    # An input_required result has no content: the core checks its requests and seals its state.
    if kind == "tools/call" and result.get("resultType") != "input_required":
        error_type = _raised(result, meta)
        if error_type == "MemoryError":
            return stopped("memory")
        if error_type is not None:
            assert meta is not None  # _raised found the type there
            printable = _one_line(error_type[:MAX_ERROR_TYPE_CHARS])[:MAX_ERROR_TYPE_CHARS]
            meta[SANDBOX_META_KEY] = {"reason": "tool_error", "type": printable}
            facts = {"reason": "tool_error", "sandbox": {"type": printable}}
            changed = True
    # inf_nan_mode: a number too large for a float parsed as infinity must stay valid JSON.
    return 0, pydantic_core.to_json(result, inf_nan_mode="null").decode() if changed else body, facts


def _raised(result: dict[str, Any], meta: dict[str, Any] | None) -> str | None:
    """The exception type an isError CallToolResult names (the in-child Dispatcher writes it), if any."""
    if type(result.get("content")) is not list:
        raise ProtocolError("the tool result's content is not a list")
    if "isError" in result and type(result["isError"]) is not bool:
        raise ProtocolError("the tool result's isError is not a boolean")
    if result.get("isError") is not True or meta is None:
        return None
    error = meta.get(ERROR_META_KEY)
    error_type = error.get("type") if isinstance(error, dict) else None
    return error_type if isinstance(error_type, str) else None


def _object(data: bytes | str, what: str) -> dict[str, Any]:
    try:
        value = pydantic_core.from_json(data, allow_inf_nan=False)  # NaN is not JSON: the core would refuse it
    except ValueError:  # invalid UTF-8, too deep, a number too long, anything else malformed
        raise ProtocolError(f"{what} is not valid JSON") from None
    if type(value) is not dict:
        raise ProtocolError(f"{what} is not a JSON object")
    return value


def _one_line(text: str) -> str:
    """`text` as printable characters on one line: newlines and control characters escaped as repr does."""
    return repr(text)[1:-1]
