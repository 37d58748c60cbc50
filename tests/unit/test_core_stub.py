"""The private native module matches its type stub (members, signatures, properties)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ALLOWLIST = Path(__file__).resolve().parents[1] / "stubtest-allowlist.txt"


def test_core_stub_matches_the_native_module():
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "sandgate._core", "--allowlist", str(ALLOWLIST)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
