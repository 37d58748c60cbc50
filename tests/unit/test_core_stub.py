"""The private native modules match their type stubs (members, signatures, properties)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ALLOWLIST = Path(__file__).resolve().parents[1] / "stubtest-allowlist.txt"


# Only _core has pybind11 classes; an allowlist entry that matches nothing is an error itself.
@pytest.mark.parametrize(("module", "options"), [
    ("sandgate._core", ["--allowlist", str(ALLOWLIST)]),
    ("sandgate._sandbox", []),
])
def test_stub_matches_the_native_module(module, options):
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", module, *options],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
