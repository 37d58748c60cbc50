"""Shared test support: MCP JSON Schema validation, loaded-module cleanup, a threaded event loop."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
MCP_SCHEMA = SHARED / "mcp-schema" / "2025-11-25" / "schema.json"

McpCheck = Callable[[str, Any], None]


@cache
def _validator(definition: str) -> Draft202012Validator:
    schema = json.loads(MCP_SCHEMA.read_text())
    return Draft202012Validator({"$ref": f"#/$defs/{definition}", "$defs": schema["$defs"]})


def check_mcp(definition: str, instance: Any) -> None:
    """Fail with every violation when `instance` is not a valid MCP `definition`."""
    errors = sorted(_validator(definition).iter_errors(instance), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


@pytest.fixture
def mcp() -> McpCheck:
    return check_mcp


@pytest.fixture
def restore_imports() -> Iterator[None]:
    """Undo the sys.path entries and modules a test adds by loading files."""
    saved_path, saved_modules = list(sys.path), set(sys.modules)
    yield
    sys.path[:] = saved_path
    for name in set(sys.modules) - saved_modules:
        del sys.modules[name]


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop running in its own thread, as the gateway runs coroutine handlers."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="test-loop")
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()
