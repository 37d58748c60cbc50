"""A module whose directory is under /tmp (a checkout there): each call's private /tmp must not hide
it. The call sees the module's files read-only where they are, and can import a sibling lazily."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from .harness import Gateway, expect

MODULE = '''
from pathlib import Path

from sandgate import MCPServer

server = MCPServer("sandgate-tmp-module", version="1.0.0")


@server.tool
def add(a: int, b: int) -> int:
    return a + b


@server.tool
def own_source() -> str:
    return Path(__file__).read_text()


@server.tool
def append_to_own_source() -> str:
    with open(__file__, "a") as module:
        module.write("# tampered")
    return "ESC" + "APED: the module's file took a write"  # split: own_source returns this text


@server.tool
def lazy_sibling() -> str:
    import tmp_module_sibling  # imported only now, inside the call

    return tmp_module_sibling.WORD
'''
SIBLING = 'WORD = "sibling"\n'


@pytest.fixture(scope="module")
def tmp_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, Path]]:
    directory = tmp_path_factory.mktemp("tmp-module")
    assert str(directory).startswith("/tmp/"), directory
    module = directory / "tmp_module_tools.py"
    module.write_text(textwrap.dedent(MODULE))
    (directory / "tmp_module_sibling.py").write_text(SIBLING)
    try:
        with Gateway(module).serving() as gateway:
            yield gateway, module
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_the_module_under_tmp_stays_visible_to_calls(tmp_gateway: tuple[Gateway, Path]) -> None:
    gateway, module = tmp_gateway
    outcome = expect(gateway.attack("own_source"), {"ok": None})
    assert outcome.value == module.read_text()
    assert expect(gateway.attack("lazy_sibling"), {"ok": None}).value == "sibling"


def test_the_module_under_tmp_is_read_only(tmp_gateway: tuple[Gateway, Path]) -> None:
    gateway, module = tmp_gateway
    before = module.read_text()
    expect(gateway.attack("append_to_own_source"), {"tool_error": {"OSError", "PermissionError"}})
    assert module.read_text() == before
