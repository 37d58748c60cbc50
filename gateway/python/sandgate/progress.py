"""Progress from handlers to the client: the checks on reported values, and the params sent.

The core hands the Dispatcher a notifier for a request that carried `_meta.progressToken`; it
takes the `notifications/progress` params as JSON and sends them on that request's stream
(bounded and counted in the core). A handler reports through its `Context`; a sandboxed one's
reports cross the call socket and are checked again here, since the child is not trusted.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from sandgate.errors import InvalidProgress
from sandgate.results import json_text

# The core's, for one request: sends one params object, returns whether it was delivered.
Notifier = Callable[[str], object]
# Where a Context's checked reports go: (progress, total, message).
ProgressSink = Callable[[float, "float | None", "str | None"], None]
Values = tuple[float, float | None, str | None]


def check(progress: Any, total: Any = None, message: Any = None) -> Values:
    """The values as sent, or InvalidProgress: finite numbers (not booleans) and a string message."""
    if not _is_number(progress):
        raise InvalidProgress(f"progress must be a finite number, not {_shown(progress)}")
    if total is not None and not _is_number(total):
        raise InvalidProgress(f"total must be a finite number or None, not {_shown(total)}")
    if message is not None and not isinstance(message, str):
        raise InvalidProgress(f"message must be a string or None, not {type(message).__name__}")
    return progress, total, message


def params_json(token: str | int, progress: float, total: float | None, message: str | None) -> str:
    params: dict[str, Any] = {"progressToken": token, "progress": progress}
    if total is not None:
        params["total"] = total
    if message is not None:
        params["message"] = message
    return json_text(params)


def sink(token: str | int, notifier: Notifier) -> ProgressSink:
    """What a Context reports to: checked values become one notification of the request `token` names."""

    def report(progress: float, total: float | None, message: str | None) -> None:
        notifier(params_json(token, progress, total, message))

    return report


def token_of(meta: dict[str, Any]) -> str | int | None:
    """The request's progress token, when it is one the protocol allows (a string or an integer)."""
    token = meta.get("progressToken")
    return token if isinstance(token, str | int) and not isinstance(token, bool) else None


def forward_untrusted(report: ProgressSink, values: Any) -> bool:
    """A sandboxed child's progress frame: forwarded when well-formed, else dropped (False)."""
    if not isinstance(values, dict):
        return False
    try:
        checked = check(values.get("progress"), values.get("total"), values.get("message"))
    except InvalidProgress:
        return False
    report(*checked)
    return True


def _is_number(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)  # JSON has no NaN or infinities
    return isinstance(value, int) and not isinstance(value, bool)


def _shown(value: Any) -> str:
    return repr(value) if isinstance(value, float) else type(value).__name__
