"""The per-call `Context` a handler receives when it declares a parameter of that type."""

from __future__ import annotations

import uuid
from collections.abc import Coroutine, Generator, Mapping
from typing import Any, NoReturn

from sandgate import announcements, client_log, client_requests
from sandgate.announcements import Announce
from sandgate.client_log import LoggingLevel, LogSink
from sandgate.client_requests import ClientRequestError, Requester, Root, SampledMessage
from sandgate.errors import InvalidAnnouncement, ResourceNotFound
from sandgate.progress import ProgressSink, check
from sandgate.resource_reads import Reader, ResourceResult, result_of
from sandgate.round_trips import RoundTrip


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

    __slots__ = ("request_meta", "_progress_sink", "_log_sink", "_requester", "_round_trip", "_request_id",
                 "_client_id", "_announce", "_read", "_session_id")

    def __init__(
        self,
        request_meta: dict[str, Any] | None = None,
        progress_sink: ProgressSink | None = None,
        log_sink: LogSink | None = None,
        requester: Requester | None = None,
        round_trip: RoundTrip | None = None,
        request_id: str | int | None = None,
        client_id: str | None = None,
        announce: Announce | None = None,
        read: Reader | None = None,
        session_id: str | None = None,
    ) -> None:
        self.request_meta: dict[str, Any] = request_meta if request_meta is not None else {}
        self._progress_sink = progress_sink
        self._log_sink = log_sink
        self._requester = requester
        self._round_trip = round_trip
        self._request_id = request_id
        self._client_id = client_id
        self._announce = announce
        self._read = read
        self._session_id = session_id

    @property
    def request_id(self) -> str:
        """The request's JSON-RPC id, as text (fastmcp's shape); "" outside a request."""
        return "" if self._request_id is None else str(self._request_id)

    @property
    def session_id(self) -> str:
        """Stable for one handshake-era session (or stdio connection), fresh per 2026-07-28 request, as fastmcp's;
        a key derived from the session, never the session's own id. RuntimeError outside a request."""
        if self._session_id is None:
            raise RuntimeError("session_id is not available: this Context serves no request")
        return self._session_id

    @property
    def client_id(self) -> str | None:
        """The OAuth client the caller's token was issued to; None for an API key or an anonymous caller."""
        return self._client_id

    @property
    def input_responses(self) -> dict[str, Any] | None:
        """A 2026-07-28 retry's answers to the handler's earlier `InputRequired`, by key (None on a first round)."""
        return self._round_trip.input_responses if self._round_trip is not None else None

    @property
    def request_state(self) -> str | None:
        """The `request_state` the handler gave with its earlier `InputRequired` (opened by the gateway)."""
        return self._round_trip.request_state if self._round_trip is not None else None

    @property
    def client_capabilities(self) -> dict[str, Any]:
        """What this 2026-07-28 request's client declared it can do (from its `_meta`)."""
        declared = self.request_meta.get("io.modelcontextprotocol/clientCapabilities")
        return declared if isinstance(declared, dict) else {}

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

    def notify_resource_updated(self, uri: str) -> Coroutine[Any, Any, None]:
        """Tell every client subscribed to `uri` that it changed (`notifications/resources/updated`);
        raises InvalidAnnouncement for a URI that is not a non-empty string. Sent at the call."""
        return self._send(*announcements.check(announcements.RESOURCE_UPDATED, uri))

    def notify_list_changed(self, kind: str) -> Coroutine[Any, Any, None]:
        """Tell every client listening that the "tools", "prompts" or "resources" list changed."""
        if kind not in announcements.LIST_CHANGED:
            raise InvalidAnnouncement(f"no list named {kind!r}: tools, prompts or resources")
        return self._send(announcements.LIST_CHANGED[kind], "")

    def notify_elicitation_complete(self, elicitation_id: str) -> Coroutine[Any, Any, None]:
        """Tell this session's client that the URL elicitation `elicitation_id` completed
        (`notifications/elicitation/complete`, 2025-11-25), on the session's own stream."""
        return self._send(*announcements.check(announcements.ELICITATION_COMPLETE, elicitation_id))

    def send_notification(self, notification: Any) -> Coroutine[Any, Any, None]:
        """fastmcp's shape: an mcp.types ResourceUpdatedNotification or a Tool/Prompt/ResourceListChangedNotification."""
        return self._send(*announcements.of_notification(notification))

    def _send(self, kind: str, uri: str) -> Coroutine[Any, Any, None]:
        if self._announce is not None:
            self._announce(kind, uri)
        return _Sent()

    async def read_resource(self, uri: str) -> ResourceResult:
        """Read one of this server's resources, where its resources run (fastmcp's ResourceResult shape); raises
        ResourceNotFound when nothing answers `uri`."""
        if self._read is None:
            raise ResourceNotFound("no server to read resources from: this Context serves no request", data={"uri": uri})
        return result_of(await self._read(str(uri)))

    async def sample(self, messages: str | list[Any], system_prompt: str | None = None,
                     include_context: str | None = None, temperature: float | None = None,
                     max_tokens: int | None = None, model_preferences: Any = None,
                     stop_sequences: list[str] | None = None) -> SampledMessage:
        """Ask the client's model (`sampling/createMessage`); its answer's `.text` when it is text."""
        params = client_requests.sampling_params(messages, system_prompt, include_context, temperature,
                                                 max_tokens, model_preferences, stop_sequences)
        return client_requests.sampled(await self._ask("sampling/createMessage", params))

    async def elicit(self, message: str, response_type: Any = None) -> Any:
        """Ask the user through the client (`elicitation/create`, a form): AcceptedElicitation with `.data`
        of `response_type`, DeclinedElicitation or CancelledElicitation, as fastmcp's."""
        if not isinstance(message, str):
            raise ClientRequestError("an elicitation's message must be a string")
        form = client_requests.elicit_form(response_type)
        answer = await self._ask("elicitation/create", {"message": message, "requestedSchema": form.schema})
        return client_requests.elicited(answer, form)

    async def elicit_url(self, message: str, url: str, elicitation_id: str | None = None) -> Any:
        """Send the user to `url` out of band (`elicitation/create`, mode "url", 2025-11-25): AcceptedElicitation
        (data None), DeclinedElicitation or CancelledElicitation. Only to a client that declared `elicitation.url`."""
        params = client_requests.url_params(message, url, elicitation_id or uuid.uuid4().hex)
        return client_requests.elicited_url(await self._ask("elicitation/create", params))

    async def list_roots(self) -> list[Root]:
        """The client's roots (`roots/list`)."""
        return client_requests.roots_of(await self._ask("roots/list", {}))

    async def _ask(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if self._requester is None:
            raise ClientRequestError(
                f"{method} cannot reach the client: only a handshake-era request with a stream to its client "
                "(text/event-stream) may ask it something")
        return await self._requester(method, params)

    def __repr__(self) -> str:
        return f"Context(request_meta={self.request_meta!r})"
