"""The official MCP conformance suite against `sandgate serve examples/conformance.py`.

Each spec revision runs on its own wire against a fresh server; known gaps are listed in
expected-failures-<revision>.yaml. The suite (and the Node 22 it needs) is installed by
tools/conformance/install.sh, which `make test` runs first; without it these tests fail.
"""

from __future__ import annotations

import contextlib
import importlib.util
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
EXAMPLE = "examples/conformance.py"
READY = re.compile(r"^Sandgate \S+ serving MCP at (?P<url>http://127\.0\.0\.1:(?P<port>\d+)/mcp)\s*$")
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


def _load_runner():
    spec = importlib.util.spec_from_file_location("sandgate_conformance_runner", HERE / "run_suite.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


runner = _load_runner()


def _python() -> str:
    venv = REPO / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


class ServerProcess:
    """`python -m sandgate serve` on an ephemeral port, its stderr drained into a ring buffer."""

    def __init__(self) -> None:
        self.command = [_python(), "-m", "sandgate", "serve", EXAMPLE, "--port", "0", "--set", "metrics_port=0"]
        self.log: deque[str] = deque(maxlen=400)
        self.url: str | None = None
        self._ready = threading.Event()
        self.proc = subprocess.Popen(
            self.command, cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True, errors="replace",
        )
        # Keep reading stderr for the server's whole life: a full pipe would stall it.
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append(line.rstrip("\n"))
            match = READY.match(line.strip())
            if match and self.url is None:
                self.url = match["url"]
                self._ready.set()
        self._ready.set()  # EOF: the server exited

    def wait_ready(self) -> str:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._ready.wait(0.1):
            if time.monotonic() > deadline:
                break
        if self.url is None:
            if self._ready.is_set():  # stderr closed: the server is exiting
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(5)
            status = self.proc.poll()
            state = f"exited with {status}" if status is not None else f"gave no URL in {START_TIMEOUT_S:.0f}s"
            pytest.fail(f"`{' '.join(self.command)}` {state}; stderr:\n{self.log_text()}", pytrace=False)
        return self.url

    def stop(self) -> int | None:
        """SIGTERM, then wait; returns the exit status, or None if it had to be killed."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self._reader.join(5)
                return None
        self._reader.join(5)
        return self.proc.returncode

    def log_text(self) -> str:
        return "\n".join(self.log) or "(nothing)"


@contextlib.contextmanager
def running_server() -> Iterator[ServerProcess]:
    """A fresh `sandgate serve examples/conformance.py`, killed on exit if still running."""
    server = ServerProcess()
    try:
        server.wait_ready()
        yield server
    finally:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait()


def require_suite() -> None:
    """Fail (not skip) when the suite is missing: `make test` installs it before pytest."""
    problem = None
    try:
        runner.check_installed()
    except runner.SetupError as exc:
        problem = str(exc)
    if problem is not None:
        pytest.fail(f"MCP conformance suite unavailable: {problem}", pytrace=False)


@pytest.mark.parametrize("revision", runner.REVISIONS)
def test_baseline_is_well_formed(revision: str) -> None:
    """Every entry is tagged with its issue and names something the suite will judge."""
    require_suite()
    problem = None
    try:
        runner.lint_baseline(runner.default_baseline(revision), revision, runner.EXTRA_SCENARIOS[revision])
    except runner.SetupError as exc:
        problem = str(exc)
    if problem is not None:
        pytest.fail(problem, pytrace=False)


@pytest.mark.parametrize("revision", runner.REVISIONS)
def test_conformance_suite(revision: str) -> None:
    require_suite()
    with running_server() as server:
        result = runner.run_suite(server.url, revision, echo=False)
        for run in result.runs:
            print(f"\n$ {' '.join(run.command)}\n{run.output}")
        print(result.digest)
        status = server.stop()

    problems = []
    failed = [run for run in result.runs if run.returncode != 0]
    if failed:
        baseline = runner.default_baseline(revision).relative_to(REPO)
        problems.append(f"conformance {revision} disagrees with {baseline}:")
        problems.extend(f"[{run.label}: exit {run.returncode}]\n{runner.baseline_verdict(run.output)}"
                        for run in failed)
        problems.append(result.digest)
    if status is None:
        problems.append(f"the server ignored SIGTERM for {STOP_TIMEOUT_S:.0f}s and was killed; stderr:\n"
                        f"{server.log_text()}")
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
