"""The per-call `Context` a handler receives when it declares a parameter of that type."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ProgressSink = Callable[[float, "float | None", "str | None"], None]


class Context:
    """What a handler may know about the request it serves.

    `request_meta` is the request's `params._meta` object. Progress is forwarded only when a
    progress sink is attached; the gateway attaches none yet (forwarding arrives with the
    sandbox work), so `report_progress` currently does nothing.
    """

    __slots__ = ("request_meta", "_progress_sink")

    def __init__(
        self,
        request_meta: dict[str, Any] | None = None,
        progress_sink: ProgressSink | None = None,
    ) -> None:
        self.request_meta: dict[str, Any] = request_meta if request_meta is not None else {}
        self._progress_sink = progress_sink

    @property
    def progress_token(self) -> str | int | None:
        return self.request_meta.get("progressToken")

    async def report_progress(
        self, progress: float, total: float | None = None, message: str | None = None
    ) -> None:
        if self._progress_sink is None:
            return None
        self._progress_sink(progress, total, message)
        return None

    def __repr__(self) -> str:
        return f"Context(request_meta={self.request_meta!r})"
