"""A fastmcp module using ctx.info, ctx.elicit, ctx.sample and ctx.list_roots runs unchanged but the import
under `sandgate serve` (hosted: every line of it in the sandbox), driven by fastmcp.Client with a handler for
each."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client
from fastmcp.client.elicitation import ElicitResult

from .server_process import ServerProcess, running_server

MODULE = Path(__file__).resolve().parent / "servers" / "fastmcp_context.py"


@pytest.fixture(scope="module")
def hosted() -> Iterator[ServerProcess]:
    with running_server(MODULE) as process:  # no --trust: the module is hosted, never imported here
        yield process


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Handlers:
    action: str = "accept"

    def __post_init__(self) -> None:
        self.logs: list[tuple[str, Any]] = []
        self.asked: list[str] = []

    async def log(self, message: Any) -> None:
        self.logs.append((message.level, message.data))

    async def elicit(self, message: str, response_type: Any, params: Any, context: Any) -> Any:
        self.asked.append(f"elicit: {message}")
        if self.action != "accept":
            return ElicitResult(action=self.action)
        return {"city": "Lisbon", "nights": 3}

    async def sample(self, messages: Any, params: Any, context: Any) -> str:
        self.asked.append(f"sample: {messages[0].content.text}")
        return "the tram"

    def client(self, url: str) -> Client:
        return Client(url, mode="legacy", log_handler=self.log, elicitation_handler=self.elicit,
                      sampling_handler=self.sample, roots=["file:///home/me/notes"])


@pytest.mark.anyio
async def test_the_module_asks_logs_and_answers_through_the_gateway(hosted: ServerProcess) -> None:
    handlers = Handlers()
    async with handlers.client(hosted.url) as client:
        result = await client.call_tool("plan_trip", {})
    assert result.content[0].text == "3 nights in Lisbon: the tram (notes in file:///home/me/notes)"
    assert handlers.asked == ["elicit: Where to, and for how long?", "sample: One sight in Lisbon"]
    assert handlers.logs == [("info", {"msg": "planning started", "extra": {"step": 1}}),
                             ("info", {"msg": "planning done"})]


@pytest.mark.anyio
@pytest.mark.parametrize("action", ["decline", "cancel"])
async def test_a_declined_form_is_the_modules_to_handle(hosted: ServerProcess, action: str) -> None:
    handlers = Handlers(action)
    async with handlers.client(hosted.url) as client:
        result = await client.call_tool("plan_trip", {})
    assert result.content[0].text == f"no trip ({action})"
    assert handlers.logs[-1] == ("warning", {"msg": f"user chose {action}"})
