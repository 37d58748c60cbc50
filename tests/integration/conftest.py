"""End-to-end fixtures: real `sandgate serve` processes on 127.0.0.1, an ephemeral port each.

Servers come from `server_process.ServerProcess` (banner, /readyz, SIGTERM and a required exit
status 0); raw HTTP clients from `wire`. The client tests use the official `mcp` SDK and
fastmcp instead.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from .server_process import REPO, TRUSTED, ServerProcess, running_server, server_python
from .wire import HTTP_TIMEOUT_S, LEGACY_REVISIONS, LegacySession, ModernWire, RawHttp, result_of

EXAMPLE_TOOLS = REPO / "examples" / "tools.py"
LIMITED_SERVER = Path(__file__).resolve().parent / "servers" / "limited.py"
SERVER_TARGETS = {"examples": EXAMPLE_TOOLS, "limited": LIMITED_SERVER}
SERVER_ARGS = {"examples": (), "limited": TRUSTED}


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    """`sandgate serve examples/tools.py`, shared by the tests of one module."""
    with running_server(EXAMPLE_TOOLS) as process:
        yield process


@pytest.fixture(scope="module")
def limited_server() -> Iterator[ServerProcess]:
    """servers/limited.py: tiny body, header and read-time bounds, and a slow_echo that reports."""
    with running_server(LIMITED_SERVER, TRUSTED) as process:
        yield process


@pytest.fixture(scope="session")
def limited_settings() -> Any:
    """The ServerSettings servers/limited.py runs with, so tests derive sizes from them."""
    spec = importlib.util.spec_from_file_location("sandgate_it_limited", LIMITED_SERVER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.server.settings


@pytest.fixture
def fresh_server() -> Iterator[Callable[..., ServerProcess]]:
    """`fresh_server("examples" | "limited")`: a server owned by one test. One still running at
    teardown gets SIGTERM and must exit 0; one the test already reaped is the test's to judge."""
    started: list[ServerProcess] = []

    def start(name: str = "examples", *, wait_ready: bool = True,
              on_line: Callable[[ServerProcess, str], None] | None = None) -> ServerProcess:
        process = ServerProcess(SERVER_TARGETS[name], on_line=on_line, args=SERVER_ARGS[name])
        started.append(process)
        return process.start() if wait_ready else process

    yield start
    for process in started:
        if process.proc.returncode is not None:
            continue
        status = process.stop()
        assert status == 0, f"server exited with {status}; stderr:\n{process.log_text()}"


@dataclass(frozen=True)
class StdioCommand:
    """How to launch `sandgate serve ... --transport stdio` as a client's subprocess."""

    command: str
    args: list[str]
    cwd: str


@pytest.fixture(scope="session")
def stdio_command() -> StdioCommand:
    return StdioCommand(server_python(),
                        ["-m", "sandgate", "serve", str(EXAMPLE_TOOLS), "--transport", "stdio"],
                        str(REPO))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test taking `legacy_revision` runs once per handshake-era revision."""
    if "legacy_revision" in metafunc.fixturenames:
        metafunc.parametrize("legacy_revision", LEGACY_REVISIONS)


@pytest.fixture
def modern() -> Iterator[Callable[[str], ModernWire]]:
    """`modern(url)`: a raw 2026-07-28 client on its own connection pool."""
    wires: list[ModernWire] = []

    def make(url: str) -> ModernWire:
        wires.append(ModernWire(url))
        return wires[-1]

    yield make
    for wire in wires:
        wire.close()


@pytest.fixture
def legacy() -> Iterator[Callable[..., LegacySession]]:
    """`legacy(url, version)`: an initialized raw session of a handshake-era revision."""
    sessions: list[LegacySession] = []

    def make(url: str, version: str = LEGACY_REVISIONS[0]) -> LegacySession:
        sessions.append(LegacySession(url, version))
        return sessions[-1].open()

    yield make
    for session in sessions:
        session.close()


@pytest.fixture
def add_still_works() -> Callable[[str], None]:
    """Asserts `add(2, 3) == 5` through a brand-new connection: the gateway still serves."""

    def check(url: str) -> None:
        with httpx.Client(timeout=HTTP_TIMEOUT_S) as http:
            wire = ModernWire(url, http)
            result = result_of(wire.request("tools/call", {"name": "add", "arguments": {"a": 2, "b": 3}}))
        assert result["structuredContent"] == {"result": 5}
        assert result.get("isError", False) is False

    return check


@pytest.fixture
def raw_http() -> Iterator[Callable[[int], RawHttp]]:
    """`raw_http(port)`: hand-written HTTP on sockets closed at teardown."""
    made: list[RawHttp] = []

    def make(port: int) -> RawHttp:
        made.append(RawHttp(port))
        return made[-1]

    yield make
    for raw in made:
        raw.close()
