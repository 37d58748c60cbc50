"""A hosted module's dispatcher: names checked against the catalog, every handler sent to the runner."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from sandgate import MCPServer, Sandbox
from sandgate.hosting import HostedModule
from sandgate.policy.reload import PolicyFile
from sandgate.results import json_text
from sandgate.sandbox.catalog import export_catalog, load_catalog
from sandgate.sandbox.trust import DEFAULT_CEILING


def make_catalog(with_templates: bool = True) -> Any:
    server = MCPServer("hosted", isolation="none", sandbox=Sandbox(wall_time=4))

    @server.tool(sandbox=Sandbox(wall_time=1000))
    def add(a: int, b: int) -> int:
        return a + b

    @server.tool(isolation="per_session")
    def keep(x: int) -> int:
        return x

    @server.resource("res://static")
    def static() -> str:
        return "s"

    if with_templates:
        @server.resource("res://item/{id}")
        def item(id: int) -> str:
            return str(id)

    @server.prompt
    def greet(name: str) -> str:
        return name

    return load_catalog(export_catalog(server), "hosted.py")


def default_grant(module: HostedModule) -> Any:
    """The module's plans as `sandgate serve` grants them under the embedded default policy."""
    loaded = PolicyFile.embedded_default().current
    assert loaded is not None
    return loaded.compiled.native.sandbox_grant(json_text(module.catalog.requests.as_json()), False)


class FakeRunner:
    """Records what would run in a call child and answers at once."""

    def __init__(self) -> None:
        self.runs: list[tuple[str, dict[str, Any], Sandbox]] = []
        self.ended: list[str] = []

    async def run(self, request: dict[str, Any], limits: Sandbox, *, relay: Any = None) -> tuple[int, str]:
        self.runs.append(("per_call", request, limits))
        return 0, '{"content":[]}'

    async def run_in_session(self, session: str, request: dict[str, Any], limits: Sandbox, *,
                             relay: Any = None) -> tuple[int, str]:
        self.runs.append((f"session {session}", request, limits))
        return 0, '{"content":[]}'

    def end_session(self, session: str) -> None:
        self.ended.append(session)


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    running = asyncio.new_event_loop()
    thread = threading.Thread(target=running.run_forever, daemon=True)
    thread.start()
    yield running
    running.call_soon_threadsafe(running.stop)
    thread.join(5)
    running.close()


def dispatch(module: HostedModule, loop: asyncio.AbstractEventLoop, runner: FakeRunner, kind: str, name: str,
             args: str = "{}", session: str = "") -> tuple[int, str]:
    done: list[tuple[int, str]] = []
    finished = threading.Event()

    def complete(status: int, body: str) -> None:
        done.append((status, body))
        finished.set()

    # As the core's engine does: a tool's own plan, the server-wide one for resources and prompts.
    grant = default_grant(module)
    plan = grant.tool(name) if kind == "tools/call" else grant.server()
    outcome = module.dispatcher(loop, runner).call(kind, name, args, "{}", complete, session, plan)
    if isinstance(outcome, tuple):
        return outcome
    assert finished.wait(5)
    return done[0]


def test_every_handler_runs_in_the_sandbox_with_granted_limits(loop):
    module, runner = HostedModule(make_catalog(), "hosted.py"), FakeRunner()
    assert dispatch(module, loop, runner, "tools/call", "add", '{"a": 1e400, "b": "x"}') == (0, '{"content":[]}')
    dispatch(module, loop, runner, "tools/call", "keep", session="s1")
    dispatch(module, loop, runner, "resources/read", "res://item/7")
    dispatch(module, loop, runner, "prompts/get", "greet", '{"name": "Ada"}')
    (mode, request, limits), keep, resource, prompt = runner.runs
    # Arguments travel as the client's text: validation happens in the child.
    session_id = request.pop("session_id")  # a key for ctx.session_id: fresh per call, as the call is stateless
    assert request == {"kind": "tools/call", "name": "add", "args": '{"a": 1e400, "b": "x"}', "meta": "{}"}
    assert len(session_id) == 32
    assert (mode, limits.wall_time) == ("per_call", DEFAULT_CEILING.wall_time)
    assert keep[0] == "session s1"
    # The module asked for isolation "none" server-wide: untrusted, so resources and prompts run per call.
    assert resource[0] == prompt[0] == "per_call" and resource[2].wall_time == 4
    assert resource[1]["kind"] == "resources/read" and prompt[1]["args"] == '{"name": "Ada"}'
    assert any("isolation=\"none\"" in line for line in default_grant(module).refusals)


def test_a_call_without_a_sandbox_plan_never_runs(loop):
    module, runner = HostedModule(make_catalog(), "hosted.py"), FakeRunner()
    dispatcher = module.dispatcher(loop, runner)
    for plan in (None, ("none",)):
        status, body = dispatcher.call("tools/call", "add", "{}", "{}", None, "", plan)
        assert status == 3 and "without a sandbox plan" in json.loads(body)["message"]
    assert runner.runs == []


def test_unknown_names_answer_without_a_fork(loop):
    module, runner = HostedModule(make_catalog(with_templates=False), "hosted.py"), FakeRunner()
    status, body = dispatch(module, loop, runner, "tools/call", "ghost")
    assert (status, json.loads(body)) == (1, {"message": "Unknown tool: ghost", "data": {"name": "ghost"}})
    status, body = dispatch(module, loop, runner, "prompts/get", "ghost")
    assert (status, json.loads(body)["message"]) == (1, "Unknown prompt: ghost")
    status, body = dispatch(module, loop, runner, "resources/read", "res://other")
    assert (status, json.loads(body)) == (2, {"message": "Resource not found", "data": {"uri": "res://other"}})
    assert runner.runs == []


def test_catalog_json_is_the_checked_listing(loop):
    catalog = make_catalog()
    dispatcher = HostedModule(catalog, "hosted.py").dispatcher(loop, FakeRunner())
    assert json.loads(dispatcher.catalog_json()) == catalog.listing
    assert "requests" not in dispatcher.catalog_json()


def test_the_hosted_dispatcher_takes_the_cores_arguments_in_the_order_the_plain_one_does():
    import inspect

    from sandgate.dispatch import Dispatcher
    from sandgate.hosting import HostedDispatcher

    plain = list(inspect.signature(Dispatcher.call).parameters)
    hosted = list(inspect.signature(HostedDispatcher.call).parameters)
    assert hosted[:9] == plain[:9]  # self .. request_id: what the core passes by position
    # `announce` and `session_id` are passed only inside a call child, where the plain dispatcher runs: never by
    # the core.
    assert set(hosted) == set(plain) - {"announce", "session_id"}
