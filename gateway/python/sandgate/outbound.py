"""What one request may send its client before its reply, as the core offers it for that request.

The core passes a progress notifier only for a request with a progress token, a log notifier only
when the client wants log messages of it, and an asker only for a handshake-era request with a
stream to its client; a handler's Context reaches them through here, in process directly, from a
sandboxed child through the frames the runner relays (and, for what it asks, answers it writes back).
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from collections.abc import Callable

from sandgate import announcements, client_log, client_requests, progress
from sandgate.announcements import Announce
from sandgate.client_log import LogNotifier, LogSink
from sandgate.client_requests import Asker, Requester
from sandgate.progress import Notifier, ProgressSink
from sandgate.resource_reads import Reader
from sandgate.results import json_text
from sandgate.round_trips import RoundTrip, round_trip_of

DEFAULT_CLIENT_WAIT_S = 300.0


@dataclass(frozen=True, slots=True)
class Outbound:
    progress: Notifier | None = None
    log: LogNotifier | None = None
    ask: Asker | None = None
    client_wait_s: float = DEFAULT_CLIENT_WAIT_S
    round_trip: RoundTrip | None = None  # a 2026-07-28 retry's answers, and the handler's state before
    request_id: str | int | None = None  # the JSON-RPC id; given to handlers that take a Context
    client_id: str | None = None  # the OAuth client of the caller's token
    announce: Announce | None = None  # resource updates and list changes, to every client that asked
    read: Reader | None = None  # the server's own resources, read where resources run
    session_id: str | None = None  # stands for the client's session, never is it (session_key)

    def requester(self) -> Requester | None:
        """How an in-process Context asks its client; None when this request may not."""
        return client_requests.in_process_requester(self.ask, self.client_wait_s) if self.ask else None

    def sinks(self, meta: dict[str, Any]) -> tuple[ProgressSink | None, LogSink | None]:
        """Where a Context of the request with `_meta` `meta` reports and logs; None where it may not."""
        token = progress.token_of(meta) if self.progress is not None else None
        progress_sink = progress.sink(token, self.progress) if token is not None and self.progress else None
        log_sink = client_log.sink(self.log) if self.log is not None else None
        return progress_sink, log_sink


def with_request(channels: Outbound | None, request_id: str | int | None, client_id: str | None,
                 announce: Announce | None = None, read: Reader | None = None,
                 session_id: str | None = None) -> Outbound:
    """`channels` that also say which request and session a Context serves, how it announces and reads
    resources: only for handlers that take one."""
    return dataclasses.replace(channels if channels is not None else Outbound(), request_id=request_id,
                               client_id=client_id, announce=announce, read=read, session_id=session_id)


def session_key(session: str) -> str:
    """What a handler's ctx.session_id says: stable for a handshake-era session (or stdio connection), but a
    digest that cannot name it to the gateway; a fresh one per request when stateless, as fastmcp's."""
    if not session:
        return uuid.uuid4().hex
    return hashlib.sha256(b"sandgate-session\0" + session.encode()).hexdigest()[:32]


def outbound(progress_notifier: Notifier | None, log_notifier: LogNotifier | None, asker: Asker | None = None,
             client_wait_s: float = DEFAULT_CLIENT_WAIT_S, round_trip: str | None = None) -> Outbound | None:
    """None when the core offered nothing: the common call carries nothing."""
    if progress_notifier is None and log_notifier is None and asker is None and not round_trip:
        return None
    return Outbound(progress_notifier, log_notifier, asker, client_wait_s, round_trip_of(round_trip))


# The frames a sandboxed child writes for its client, before its reply, each with one key; an ask frame gets
# an answer frame back ({"is_error", "json"}: the client's error or result object as it wrote it).
PROGRESS_FRAME = "progress"
LOG_FRAME = "log_message"
ASK_FRAME = "ask"
ANNOUNCE_FRAME = "announce"
ANSWER_FRAME = "answer"
# A child's answer to its own ask: sent as it is to the child, as an error the client might have answered.
Answer = Callable[[dict[str, object]], None]


def relay(meta: dict[str, Any], channels: Outbound | None) -> Any:
    """What the runner calls with each such frame of a sandboxed call, or None when nothing may reach the
    client; its `wants` names the frames the child should write."""
    if channels is None:
        return None
    progress_sink, log_sink = channels.sinks(meta)
    if progress_sink is None and log_sink is None and channels.ask is None and channels.announce is None:
        return None
    return _Relay(progress_sink, log_sink, channels.ask, channels.announce)


class _Relay:
    """Checks each frame again (the child is untrusted) and forwards what is well-formed; drops the rest."""

    __slots__ = ("_progress", "_log", "_ask", "_announce")

    def __init__(self, progress_sink: ProgressSink | None, log_sink: LogSink | None, asker: Asker | None,
                 announce: Announce | None = None) -> None:
        self._progress = progress_sink
        self._log = log_sink
        self._ask = asker
        self._announce = announce

    @property
    def wants(self) -> dict[str, bool]:
        wanted = {}
        if self._progress is not None:
            wanted["progress"] = True
        if self._log is not None:
            wanted["log"] = True
        if self._ask is not None:
            wanted["ask"] = True
        if self._announce is not None:
            wanted["announce"] = True
        return wanted

    def ask(self, value: object, answer: Answer) -> bool:
        """A child's request to its client: sent when well-formed, the client's answer (or the refusal) given
        to `answer` exactly once, from any thread. False when it was refused here."""

        def refuse(message: str) -> bool:
            # `refused`: the gateway's word, not the client's; the child says it was not sent, and why.
            answer({"is_error": True, "refused": message, "json": json_text({"code": -32603, "message": message})})
            return False

        if self._ask is None:
            return refuse("this request cannot reach its client")
        try:
            method, params = client_requests.check_request(value)
        except (ValueError, client_requests.ClientRequestError) as exc:
            return refuse(f"refused by the gateway: {exc}")
        refusal = self._ask(method, json_text(params),
                            lambda is_error, text: answer({"is_error": is_error, "json": text}))
        return refuse(refusal) if refusal else True

    def __call__(self, frame: dict[str, Any]) -> bool:
        if PROGRESS_FRAME in frame and self._progress is not None:
            return progress.forward_untrusted(self._progress, frame[PROGRESS_FRAME])
        if LOG_FRAME in frame and self._log is not None:
            return client_log.forward_untrusted(self._log, frame[LOG_FRAME])
        if ANNOUNCE_FRAME in frame and self._announce is not None:
            return announcements.forward_untrusted(self._announce, frame[ANNOUNCE_FRAME])
        return False
