"""Log messages from handlers to their client (`notifications/message`): the levels, the params sent.

The core hands the Dispatcher a log notifier for a request whose client wants log messages (a legacy
session, by logging/setLevel or by default; a 2026-07-28 request by its `_meta` log level); it takes
a level and the params as JSON, drops what is below the client's level, and bounds and counts the
rest. A handler logs through its `Context`; a sandboxed one's messages cross the call socket and are
checked again here, since the child is not trusted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from sandgate.errors import InvalidLogMessage
from sandgate.results import json_text

LoggingLevel = Literal["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]
LEVELS: tuple[str, ...] = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")

# The core's, for one request: (level, params JSON) in, whether it was delivered out.
LogNotifier = Callable[[str, str], object]
# Where a Context's checked messages go: (level, params JSON).
LogSink = Callable[[str, str], None]


def data_of(message: Any, extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """The `data` of a Context's message, shaped as fastmcp's clients read it: {"msg", "extra"?}."""
    if not isinstance(message, str):
        raise InvalidLogMessage(f"a log message must be a string, not {type(message).__name__}")
    data: dict[str, Any] = {"msg": message}
    if extra is not None:
        data["extra"] = dict(extra)
    return data


def params_json(level: Any, data: Any, logger: Any = None) -> str:
    """The notifications/message params as JSON, or InvalidLogMessage naming what cannot be sent."""
    if level not in LEVELS:
        raise InvalidLogMessage(f"the log level must be one of {', '.join(LEVELS)}, not {level!r}")
    if logger is not None and not isinstance(logger, str):
        raise InvalidLogMessage(f"the logger name must be a string or None, not {type(logger).__name__}")
    params: dict[str, Any] = {"level": level, "data": data}
    if logger is not None:
        params["logger"] = logger
    return json_text(params)  # as a result's values: what JSON cannot hold becomes text or null


def sink(notifier: LogNotifier) -> LogSink:
    """What a Context logs to: checked params become one notification of the request."""

    def send(level: str, params: str) -> None:
        notifier(level, params)

    return send


def forward_untrusted(send: LogSink, values: Any) -> bool:
    """A sandboxed child's log frame ({level, data, logger?}): forwarded when well-formed, else dropped (False)."""
    if not isinstance(values, dict) or not values.keys() <= {"level", "data", "logger"} or "data" not in values:
        return False
    try:
        params = params_json(values.get("level"), values["data"], values.get("logger"))
    except InvalidLogMessage:
        return False
    send(values["level"], params)
    return True
