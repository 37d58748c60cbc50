"""Escape-suite fixtures: one real gateway serving attacks.py per test module.

At the end of each module the gateway must still answer /healthz, its pid and every zygote's
pid must be the processes that started (same start time, untraced, not stopped), a sandboxed
call must still work, and SIGTERM must make it exit 0.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from .harness import Gateway


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    with Gateway().serving() as served:
        yield served


@pytest.fixture
def marker() -> str:
    """A fresh process name (≤ 15 bytes) an attack gives itself so the host can find it."""
    return f"sg{secrets.token_hex(5)}"


@pytest.fixture
def token() -> str:
    return secrets.token_hex(8)


@pytest.fixture
def leftovers() -> Iterator[list[Path]]:
    """Host paths a leaking sandbox would create; removed after the test, which judges them."""
    paths: list[Path] = []
    yield paths
    for path in paths:
        path.unlink(missing_ok=True)
