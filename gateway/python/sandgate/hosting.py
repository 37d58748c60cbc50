"""Serving a module the gateway never imports: everything it knows comes from the zygote's
catalog, and every tool call, resource read and prompt runs in a call child."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sandgate.dispatch import (
    INTERNAL_ERROR, INVALID_PARAMS, RESOURCE_NOT_FOUND, Completion, Outcome, Pending, child_relay,
    failure_outcome, run_sandboxed, sandbox_request,
)
from sandgate.announcements import DEFAULT_MAX_ANNOUNCEMENTS_PER_CALL, Announcer, Hub, announce_list_changed
from sandgate.client_log import LogNotifier
from sandgate.client_requests import Asker
from sandgate.outbound import DEFAULT_CLIENT_WAIT_S, outbound, session_key, with_request
from sandgate.progress import Notifier
from sandgate.results import json_text
from sandgate.sandbox.catalog import Catalog
from sandgate.sandbox.limits import Plan, granted

if TYPE_CHECKING:
    import asyncio

    from sandgate.sandbox.runner import SandboxRunner


class HostedModule:
    """An untrusted module as the gateway sees it: its checked catalog (its sandbox requests are only requests:
    the policy grants them, `policy.serving`)."""

    def __init__(self, catalog: Catalog, label: str) -> None:
        self.catalog = catalog
        self.name = catalog.name
        self.version = catalog.version
        self.instructions = catalog.instructions
        self.label = label

    @property
    def tool_names(self) -> frozenset[str]:
        return self.catalog.tool_names

    def dispatcher(self, loop: asyncio.AbstractEventLoop, runner: SandboxRunner,
                   client_wait_s: float = DEFAULT_CLIENT_WAIT_S,
                   max_announcements_per_call: int = DEFAULT_MAX_ANNOUNCEMENTS_PER_CALL) -> HostedDispatcher:
        return HostedDispatcher(self, loop, runner, client_wait_s, max_announcements_per_call)


class HostedDispatcher:
    """The Dispatcher contract (catalog_json, call, session_closed, attach_announcements) with no module code
    in reach."""

    __slots__ = ("_module", "_loop", "_runner", "_catalog_json", "_client_wait_s", "_hub", "_max_announcements")

    def __init__(self, module: HostedModule, loop: asyncio.AbstractEventLoop, runner: SandboxRunner,
                 client_wait_s: float = DEFAULT_CLIENT_WAIT_S,
                 max_announcements_per_call: int = DEFAULT_MAX_ANNOUNCEMENTS_PER_CALL) -> None:
        self._module = module
        self._loop = loop
        self._runner = runner
        self._client_wait_s = client_wait_s
        self._catalog_json = json_text(module.catalog.listing)
        self._hub: Hub | None = None
        self._max_announcements = max_announcements_per_call

    def catalog_json(self) -> str:
        return self._catalog_json

    def attach_announcements(self, hub: Hub) -> None:
        self._hub = hub

    def announce_list_changed(self, kind: str) -> None:
        announce_list_changed(self._hub, kind)

    def attach_resource_plan(self, plan: Any) -> None:
        """Nothing to follow: a hosted module's handlers, and the resources they read, all run in call children."""

    def call(self, kind: str, name: str, args_json: str, meta_json: str, completion: Completion,
             session: str = "", plan: Plan | None = None, request_id: str | int | None = None,
             progress: Notifier | None = None, log: LogNotifier | None = None, ask: Asker | None = None,
             round_trip: str | None = None, client_id: str | None = None) -> Outcome | Pending:
        try:
            catalog = self._module.catalog
            # Which handler takes a Context is the module's to know: every call may report, log and announce,
            # and carries its request's ids.
            announcer = Announcer(self._hub, self._max_announcements, session) if self._hub is not None else None
            channels = with_request(outbound(progress, log, ask, self._client_wait_s, round_trip), request_id,
                                    client_id, announcer, None, session_key(session))
            forward = child_relay(meta_json, channels)
            if plan is None or plan[0] == "none":  # the module is never trusted: nothing of it runs here
                return INTERNAL_ERROR, _error("Internal error: a hosted module's call came without a sandbox plan")
            if kind == "tools/call":
                if name not in catalog.tool_names:
                    return INVALID_PARAMS, _error(f"Unknown tool: {name}", {"name": name})
                return self._run(sandbox_request(kind, name, args_json, meta_json, forward, channels), plan, session,
                                 forward, completion)
            if kind == "resources/read":
                # Templates are matched in the child: their patterns are the module's.
                if name not in catalog.resource_uris and not catalog.listing["resourceTemplates"]:
                    return RESOURCE_NOT_FOUND, _error("Resource not found", {"uri": name})
                return self._run(sandbox_request(kind, name, "{}", meta_json, forward, channels), plan, session, forward,
                                 completion)
            if kind == "prompts/get":
                if name not in catalog.prompt_names:
                    return INVALID_PARAMS, _error(f"Unknown prompt: {name}", {"name": name})
                return self._run(sandbox_request(kind, name, args_json, meta_json, forward, channels), plan, session,
                                 forward, completion)
            if kind == "completion/complete":  # the prompt or template is looked up, and completed, in the child
                return self._run(sandbox_request(kind, name, args_json, meta_json, None, channels), plan, session, None,
                                 completion)
            return INTERNAL_ERROR, _error(f"Unsupported request kind: {kind}")
        except BaseException as exc:  # noqa: BLE001 - the core must always get a status back
            return failure_outcome(exc, kind, name)

    def session_closed(self, session: str) -> None:
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._runner.end_session, session)

    def _run(self, request: dict[str, Any], plan: Plan, session: str,
             forward: Callable[[dict[str, Any]], bool] | None, completion: Completion) -> Pending:
        return run_sandboxed(self._runner, self._loop, request, granted(plan), session, forward, completion)


def _error(message: str, data: dict[str, Any] | None = None) -> str:
    return json_text({"message": message} if data is None else {"message": message, "data": data})

