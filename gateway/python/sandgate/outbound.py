"""What one request may send its client before its reply, as the core offers it for that request.

The core passes a progress notifier only for a request with a progress token, and a log notifier
only when the client wants log messages of it; a handler's Context reaches both through here, in
process directly, from a sandboxed child through the frames the runner relays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandgate import client_log, progress
from sandgate.client_log import LogNotifier, LogSink
from sandgate.progress import Notifier, ProgressSink


@dataclass(frozen=True, slots=True)
class Outbound:
    progress: Notifier | None = None
    log: LogNotifier | None = None

    def sinks(self, meta: dict[str, Any]) -> tuple[ProgressSink | None, LogSink | None]:
        """Where a Context of the request with `_meta` `meta` reports and logs; None where it may not."""
        token = progress.token_of(meta) if self.progress is not None else None
        progress_sink = progress.sink(token, self.progress) if token is not None and self.progress else None
        log_sink = client_log.sink(self.log) if self.log is not None else None
        return progress_sink, log_sink


def outbound(progress_notifier: Notifier | None, log_notifier: LogNotifier | None) -> Outbound | None:
    """None when the core offered neither: the common call carries nothing."""
    if progress_notifier is None and log_notifier is None:
        return None
    return Outbound(progress_notifier, log_notifier)


# The frames a sandboxed child writes for its client, before its reply, each with one key.
PROGRESS_FRAME = "progress"
LOG_FRAME = "log_message"


def relay(meta: dict[str, Any], channels: Outbound | None) -> Any:
    """What the runner calls with each such frame of a sandboxed call, or None when nothing may reach the
    client; its `wants` names the frames the child should write."""
    if channels is None:
        return None
    progress_sink, log_sink = channels.sinks(meta)
    if progress_sink is None and log_sink is None:
        return None
    return _Relay(progress_sink, log_sink)


class _Relay:
    """Checks each frame again (the child is untrusted) and forwards what is well-formed; drops the rest."""

    __slots__ = ("_progress", "_log")

    def __init__(self, progress_sink: ProgressSink | None, log_sink: LogSink | None) -> None:
        self._progress = progress_sink
        self._log = log_sink

    @property
    def wants(self) -> dict[str, bool]:
        wanted = {}
        if self._progress is not None:
            wanted["progress"] = True
        if self._log is not None:
            wanted["log"] = True
        return wanted

    def __call__(self, frame: dict[str, Any]) -> bool:
        if PROGRESS_FRAME in frame and self._progress is not None:
            return progress.forward_untrusted(self._progress, frame[PROGRESS_FRAME])
        if LOG_FRAME in frame and self._log is not None:
            return client_log.forward_untrusted(self._log, frame[LOG_FRAME])
        return False
