"""The per-call `Context` a handler receives when it declares a parameter of that type."""

from __future__ import annotations

from collections.abc import Coroutine, Generator, Mapping
from typing import Any, NoReturn

from sandgate import client_log
from sandgate.client_log import LoggingLevel, LogSink
from sandgate.progress import ProgressSink, check


class _Sent(Coroutine[Any, Any, None]):
    """What report_progress returns: a coroutine that is already done. Awaiting it, or running
    it as a task, changes nothing; dropping it un-awaited (a synchronous handler) warns of nothing."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        yield from ()

    def send(self, value: Any) -> NoReturn:
        raise StopIteration

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> NoReturn:
        raise typ if val is None else val

    def close(self) -> None:
        return None


class Context:
    """What a handler may know about the request it serves.

    `request_meta` is the request's `params._meta` object. Progress reaches the client only
    when the request carried a progress token (the gateway then attaches a sink); otherwise
    `report_progress` checks its values and does nothing else. Log messages (`debug` ... `error`,
    `log`) reach it only when it wants them, at or above the level it chose; the same names and
    call shapes as fastmcp's Context.
    """

    __slots__ = ("request_meta", "_progress_sink", "_log_sink")

    def __init__(
        self,
        request_meta: dict[str, Any] | None = None,
        progress_sink: ProgressSink | None = None,
        log_sink: LogSink | None = None,
    ) -> None:
        self.request_meta: dict[str, Any] = request_meta if request_meta is not None else {}
        self._progress_sink = progress_sink
        self._log_sink = log_sink

    @property
    def progress_token(self) -> str | int | None:
        return self.request_meta.get("progressToken")

    def report_progress(
        self, progress: float, total: float | None = None, message: str | None = None
    ) -> Coroutine[Any, Any, None]:
        """Send `notifications/progress` for this request; raises InvalidProgress for bad values.

        Sent at the call, so a synchronous handler calls it plainly and a coroutine may
        `await ctx.report_progress(...)` as with fastmcp.
        """
        values = check(progress, total, message)
        if self._progress_sink is not None:
            self._progress_sink(*values)
        return _Sent()

    def log(self, message: str, level: LoggingLevel | None = None, logger_name: str | None = None,
            extra: Mapping[str, Any] | None = None) -> Coroutine[Any, Any, None]:
        """Send `notifications/message` (level "info" unless given); raises InvalidLogMessage for bad values.

        `data` is {"msg": message, "extra": extra} as fastmcp sends it. Sent at the call, so a
        synchronous handler calls it plainly and a coroutine may await it.
        """
        params = client_log.params_json(level or "info", client_log.data_of(message, extra), logger_name)
        if self._log_sink is not None:
            self._log_sink(level or "info", params)
        return _Sent()

    def debug(self, message: str, logger_name: str | None = None,
              extra: Mapping[str, Any] | None = None) -> Coroutine[Any, Any, None]:
        return self.log(message, "debug", logger_name, extra)

    def info(self, message: str, logger_name: str | None = None,
             extra: Mapping[str, Any] | None = None) -> Coroutine[Any, Any, None]:
        return self.log(message, "info", logger_name, extra)

    def warning(self, message: str, logger_name: str | None = None,
                extra: Mapping[str, Any] | None = None) -> Coroutine[Any, Any, None]:
        return self.log(message, "warning", logger_name, extra)

    def error(self, message: str, logger_name: str | None = None,
              extra: Mapping[str, Any] | None = None) -> Coroutine[Any, Any, None]:
        return self.log(message, "error", logger_name, extra)

    def __repr__(self) -> str:
        return f"Context(request_meta={self.request_meta!r})"
