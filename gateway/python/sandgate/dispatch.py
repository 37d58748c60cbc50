"""The Dispatcher: the one object the native core calls to list and run handlers."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from functools import partial
from typing import TYPE_CHECKING, Any

from sandgate.announcements import (
    DEFAULT_MAX_ANNOUNCEMENTS_PER_CALL, Announce, Announcer, Hub, announce_list_changed,
)
from sandgate.client_log import LogNotifier
from sandgate.client_requests import Asker, URLElicitationRequired
from sandgate.errors import (
    InvalidArguments, PromptNotFound, ResourceNotFound, SandgateError, ToolNotFound,
)
from sandgate.outbound import DEFAULT_CLIENT_WAIT_S, Outbound, outbound, relay, session_key, with_request
from sandgate.progress import Notifier
from sandgate.registry import Registry
from sandgate.schema import parse_meta
from sandgate.sandbox.limits import Plan, granted
from sandgate.results import json_text

if TYPE_CHECKING:
    import asyncio

    from sandgate.sandbox.runner import SandboxRunner

logger = logging.getLogger("sandgate.dispatch")

# The native core's OutcomeStatus (its OUTCOME_STATUS, checked by a test: zygotes import this
# module and never load the core).
OK = 0
INVALID_PARAMS = 1
RESOURCE_NOT_FOUND = 2
INTERNAL_ERROR = 3
CANCELLED = 5
URL_ELICITATION_REQUIRED = 7

# The single place where Sandgate errors become wire statuses.
STATUS_OF_ERROR: tuple[tuple[type[SandgateError], int], ...] = (
    (ToolNotFound, INVALID_PARAMS),
    (PromptNotFound, INVALID_PARAMS),
    (InvalidArguments, INVALID_PARAMS),
    (ResourceNotFound, RESOURCE_NOT_FOUND),
    (URLElicitationRequired, URL_ELICITATION_REQUIRED),
)
FAILURE_PREFIX = {
    "tools/call": "Error calling tool",
    "resources/read": "Error reading resource",
    "prompts/get": "Error rendering prompt",
    "completion/complete": "Error completing arguments of",
}

# (status, body), or from the sandbox (status, body, facts): see sandbox.outcome.Ended.
Outcome = tuple[int, str] | tuple[int, str, dict[str, Any]]
# The core's completion: (status, body) or, from the sandbox, (status, body, facts as JSON text).
Completion = Callable[..., None]
# A scheduled coroutine: its result arrives through `completion`; the core may `cancel()` it.
Pending = Future[Outcome]
# A call's request id, its caller's OAuth client, its session (as the core names it), and inside a call child
# how it announces and its ctx.session_id.
RequestIds = tuple[str | int | None, str | None, str, Announce | None, str | None]


class Dispatcher:
    """Runs registered handlers for the core; `call` never raises, every failure is a status.

    Synchronous handlers run in the calling thread. Coroutine handlers run on `loop` when
    given: `call` then returns the pending future, which the core cancels when the client
    goes away, and the result arrives through `completion`. Without a loop they run in the
    calling thread via asyncio.run.

    `plan` is the core's decision on where the call runs (`sandbox.limits.Plan`): a sandboxed
    plan goes to the runner, ("none",) runs in-process; without one (inside the sandbox child, in
    tests) everything runs in-process.

    `progress`, given only for a request with a progress token, and `log`, given only when the
    client wants log messages of the request, are where a handler's Context reports and logs:
    in-process directly, from a sandboxed child through the frames the runner relays.
    """

    __slots__ = ("_registry", "_loop", "_catalog", "_catalog_revision", "_runner", "_client_wait_s", "_hub",
                 "_max_announcements", "_resource_plan")

    def __init__(self, registry: Registry, *,
                 loop: asyncio.AbstractEventLoop | None = None,
                 runner: SandboxRunner | None = None,
                 client_wait_s: float = DEFAULT_CLIENT_WAIT_S,
                 max_announcements_per_call: int = DEFAULT_MAX_ANNOUNCEMENTS_PER_CALL) -> None:
        self._registry = registry
        self._loop = loop
        self._runner = runner
        self._client_wait_s = client_wait_s
        self._catalog = ""
        self._catalog_revision = -1
        self._hub: Hub | None = None
        self._max_announcements = max_announcements_per_call
        self._resource_plan: Callable[[], Plan] | None = None

    def attach_announcements(self, hub: Hub) -> None:
        """Called by the core once it serves: where handlers' resource updates and list changes go."""
        self._hub = hub

    def announce_list_changed(self, kind: str) -> None:
        """The server's own announcement (a policy reload changed who sees which tools); no per-call bound."""
        announce_list_changed(self._hub, kind)

    def attach_resource_plan(self, plan: Callable[[], Plan]) -> None:
        """Where the served policy runs resources now: what an in-process handler's ctx.read_resource follows."""
        self._resource_plan = plan

    async def read_for_handler(self, uri: str) -> str:
        """A handler's ctx.read_resource: in process when resources run here (inside a call child, or a plan of
        "none"), else in a call child of its own; raises what a client would be told."""
        resource, params = self._registry.resource(uri)
        plan = self._resource_plan() if self._resource_plan is not None else None
        if plan is not None and plan[0] != "none":
            if self._runner is None:
                raise SandgateError("Internal error: resources run sandboxed and no sandbox runs")
            _isolation, limits = granted(plan)
            ended = await self._runner.run(sandbox_request("resources/read", uri, "{}", "{}", None), limits)
            if ended[0] != OK:
                raise failure_of(ended[0], ended[1])
            return ended[1]
        kwargs = resource.bind(uri, params, "{}", self._with_request(None, (None, None, "", None, None)))
        return await resource.read_async(uri, kwargs) if resource.is_async else resource.read(uri, kwargs)

    def catalog_json(self) -> str:
        if self._catalog_revision != self._registry.revision:
            self._catalog_revision = self._registry.revision
            self._catalog = json_text(self._registry.catalog())
        return self._catalog

    def call(self, kind: str, name: str, args_json: str, meta_json: str,
             completion: Completion, session: str = "", plan: Plan | None = None,
             request_id: str | int | None = None,
             progress: Notifier | None = None, log: LogNotifier | None = None,
             ask: Asker | None = None, round_trip: str | None = None,
             client_id: str | None = None, announce: Announce | None = None,
             session_id: str | None = None) -> Outcome | Pending:
        """`session` names a legacy HTTP session or the stdio connection; "" when stateless. `request_id` is the
        request's JSON-RPC id. `round_trip` is a 2026-07-28 retry's {"inputResponses",
        "requestState"} (the state opened by the core). `announce` and `session_id` are given only inside a call
        child (its frames, and the key the gateway derived); the gateway's calls announce through the hub the core
        attached."""
        channels = outbound(progress, log, ask, self._client_wait_s, round_trip)
        ids = (request_id, client_id, session, announce, session_id)
        try:
            if plan is not None and plan[0] != "none" and (self._runner is None or self._loop is None):
                return INTERNAL_ERROR, _error_json("Internal error: the call's plan needs a sandbox and none runs")
            if kind == "tools/call":
                return self._call_tool(name, args_json, meta_json, completion, session, plan, channels, ids)
            if kind == "resources/read":
                return self._read_resource(name, meta_json, completion, session, plan, channels, ids)
            if kind == "prompts/get":
                return self._get_prompt(name, args_json, meta_json, completion, session, plan, channels, ids)
            if kind == "completion/complete":
                return self._complete(name, args_json, meta_json, completion, session, plan)
            return INTERNAL_ERROR, json_text({"message": f"Unsupported request kind: {kind}"})
        except BaseException as exc:  # noqa: BLE001 - the core must always get a status back
            return failure_outcome(exc, kind, name)

    def _with_request(self, channels: Outbound | None,
                      ids: RequestIds) -> Outbound:
        request_id, client_id, session, announce, session_id = ids
        if announce is None and self._hub is not None:
            announce = Announcer(self._hub, self._max_announcements, session)
        return with_request(channels, request_id, client_id, announce, self.read_for_handler,
                            session_id if session_id is not None else session_key(session))

    def session_closed(self, session: str) -> None:
        """Ends what the session kept alive (its per_session worker); called by the core."""
        if self._runner is not None and self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._runner.end_session, session)

    def _call_tool(self, name: str, args_json: str, meta_json: str, completion: Completion,
                   session: str, plan: Plan | None, channels: Outbound | None,
                   ids: RequestIds) -> Outcome | Pending:
        tool = self._registry.tool(name)
        if tool.arguments.context_parameter:
            channels = self._with_request(channels, ids)
        if plan is not None and plan[0] != "none":
            # The operator's own script (trusted): invalid arguments fail here without a fork.
            kwargs = tool.bind(args_json, meta_json)
            if type(kwargs) is str:
                return OK, kwargs
            forward = child_relay(meta_json, channels) if tool.arguments.context_parameter else None
            request = sandbox_request("tools/call", name, args_json, meta_json, forward, channels)
            return run_sandboxed(self._runner, self._loop, request, granted(plan), session, forward, completion)
        if not tool.is_async:
            return OK, tool.call(args_json, meta_json, channels)
        kwargs = tool.bind(args_json, meta_json, channels)
        if type(kwargs) is str:
            return OK, kwargs
        return self._schedule(tool.call_async(kwargs), completion, "tools/call", name)

    def _read_resource(self, uri: str, meta_json: str, completion: Completion,
                       session: str, plan: Plan | None, channels: Outbound | None,
                       ids: RequestIds) -> Outcome | Pending:
        resource, params = self._registry.resource(uri)
        if resource.arguments.context_parameter:
            channels = self._with_request(channels, ids)
        if plan is not None and plan[0] != "none":
            forward = child_relay(meta_json, channels) if resource.arguments.context_parameter else None
            request = sandbox_request("resources/read", uri, "{}", meta_json, forward, channels)
            return run_sandboxed(self._runner, self._loop, request, granted(plan), session, forward, completion)
        kwargs = resource.bind(uri, params, meta_json, channels)
        if resource.is_async:
            reading = resource.read_async(uri, kwargs)
            return self._schedule(reading, completion, "resources/read", uri)
        return OK, resource.read(uri, kwargs)

    def _get_prompt(self, name: str, args_json: str, meta_json: str, completion: Completion,
                    session: str, plan: Plan | None, channels: Outbound | None,
                    ids: RequestIds) -> Outcome | Pending:
        prompt = self._registry.prompt(name)
        if prompt.arguments.context_parameter:
            channels = self._with_request(channels, ids)
        if plan is not None and plan[0] != "none":
            forward = child_relay(meta_json, channels) if prompt.arguments.context_parameter else None
            request = sandbox_request("prompts/get", name, args_json, meta_json, forward, channels)
            return run_sandboxed(self._runner, self._loop, request, granted(plan), session, forward, completion)
        kwargs = prompt.bind(args_json, meta_json, channels)
        if prompt.is_async:
            return self._schedule(prompt.get_async(kwargs), completion, "prompts/get", name)
        return OK, prompt.get(kwargs)

    def _complete(self, name: str, params_json: str, meta_json: str, completion: Completion,
                  session: str, plan: Plan | None) -> Outcome | Pending:
        """`name` is the prompt or template; `params_json` the request's whole params (ref, argument, context)."""
        if plan is not None and plan[0] != "none":
            request = sandbox_request("completion/complete", name, params_json, meta_json, None)
            return run_sandboxed(self._runner, self._loop, request, granted(plan), session, None, completion)
        answer = self._registry.complete(params_json)
        if isinstance(answer, str):
            return OK, answer
        return self._schedule(answer, completion, "completion/complete", name)

    def _schedule(self, work: Coroutine[Any, Any, str], completion: Completion, kind: str,
                  name: str) -> Outcome | Pending:
        # Imported when first needed: a sandbox zygote serving only plain functions never loads it.
        import asyncio

        guarded = _guarded(work, kind, name)
        if self._loop is None:
            try:
                return asyncio.run(guarded)
            except RuntimeError as exc:  # the calling thread already runs an event loop
                _discard(guarded, work)
                return failure_outcome(exc, kind, name)
        try:
            future = asyncio.run_coroutine_threadsafe(guarded, self._loop)
        except RuntimeError as exc:  # the loop is closed
            _discard(guarded, work)
            return failure_outcome(exc, kind, name)
        future.add_done_callback(partial(_deliver, completion, kind, name))
        return future


def sandbox_request(kind: str, name: str, args_json: str, meta_json: str, forward: Any | None,
                    channels: Outbound | None = None) -> dict[str, Any]:
    """What a call child reads: the handler to run and the client's JSON, untouched."""
    request: dict[str, Any] = {"kind": kind, "name": name, "args": args_json, "meta": meta_json}
    if channels is not None and channels.request_id is not None:
        request["request_id"] = channels.request_id
    if channels is not None and channels.client_id is not None:
        request["client_id"] = channels.client_id
    if channels is not None and channels.session_id is not None:
        request["session_id"] = channels.session_id
    if channels is not None and channels.round_trip is not None:
        trip = channels.round_trip
        request["round_trip"] = json_text({"inputResponses": trip.input_responses, "requestState": trip.request_state})
    if forward is not None:
        # The child's Context then writes progress, log or ask frames; an ask waits at most the call's wall time.
        request.update(forward.wants)
    return request


def run_sandboxed(runner: Any, loop: Any, request: dict[str, Any], plan: tuple[str, Any], session: str,
                  forward: Callable[[dict[str, Any]], bool] | None, completion: Completion) -> Pending:
    """Schedules the request in a call child on the runner's loop; the outcome reaches `completion`."""
    import asyncio

    isolation, limits = plan
    # Stateless requests have no session to keep a worker for: they run per call.
    work = (runner.run_in_session(session, request, limits, relay=forward)
            if isolation == "per_session" and session
            else runner.run(request, limits, relay=forward))
    future = asyncio.run_coroutine_threadsafe(work, loop)
    future.add_done_callback(partial(_deliver, completion, request["kind"], request["name"]))
    return future


def child_relay(meta_json: str, channels: Outbound | None) -> Any | None:
    """What the runner calls with each frame a sandboxed call writes for its client; None when none may."""
    return relay(parse_meta(meta_json), channels) if channels is not None else None


def failure_outcome(exc: BaseException, kind: str, name: str) -> Outcome:
    if isinstance(exc, SandgateError):
        for error_type, status in STATUS_OF_ERROR:
            if isinstance(exc, error_type):
                return status, _error_json(exc.message, exc.data)
        return INTERNAL_ERROR, _error_json(exc.message, exc.data)
    logger.error("%s '%s' failed", kind, name, exc_info=exc)
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return INTERNAL_ERROR, _error_json(f"{FAILURE_PREFIX.get(kind, kind)} '{name}': {detail}")


def failure_of(status: int, body: str) -> SandgateError:
    """What a call that ended with `status` and error `body` raises in the handler that made it (the inverse of
    failure_outcome): a nested read fails as its client would be told."""
    try:
        answer = json.loads(body)
        message, data = str(answer.get("message", "the read failed")), answer.get("data")
    except (ValueError, AttributeError):
        message, data = "the read failed", None
    if status == RESOURCE_NOT_FOUND:
        return ResourceNotFound(message, data=data)
    if status == INVALID_PARAMS:
        return InvalidArguments(message, data=data)
    return SandgateError(message, data=data)


async def _guarded(work: Coroutine[Any, Any, str], kind: str, name: str) -> Outcome:
    try:
        return OK, await work
    except Exception as exc:
        return failure_outcome(exc, kind, name)


def _deliver(completion: Completion, kind: str, name: str, future: Future[Outcome]) -> None:
    if future.cancelled():
        outcome = CANCELLED, _error_json("Request cancelled")
    elif future.exception() is not None:
        outcome = failure_outcome(future.exception(), kind, name)  # type: ignore[arg-type]
    else:
        outcome = future.result()
    try:
        if len(outcome) > 2:  # the sandbox's facts on how the call ended travel as JSON text
            completion(outcome[0], outcome[1], json_text(outcome[2]))
        else:
            completion(*outcome)
    except Exception:
        logger.exception("completion of %s '%s' raised", kind, name)


def _discard(*coroutines: Coroutine[Any, Any, Any]) -> None:
    for coroutine in coroutines:
        coroutine.close()


def _error_json(message: str, data: dict[str, Any] | None = None) -> str:
    return json_text({"message": message} if data is None else {"message": message, "data": data})
