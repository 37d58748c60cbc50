"""`sandgate serve` as a child process: started on an ephemeral port, stopped with SIGTERM."""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NoReturn

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
READY_LINE = re.compile(r"^Sandgate \S+ serving MCP at (?P<url>http://127\.0\.0\.1:(?P<port>\d+)/mcp)$")
START_TIMEOUT_S = 20.0
# Test-owned modules that set server settings and run tools in-process: the operator trusts them.
TRUSTED = ("--trust",)
STOP_TIMEOUT_S = 15.0


def server_python() -> str:
    """The venv interpreter itself (not a version-manager shim), else the one running pytest."""
    venv = REPO / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


class ServerProcess:
    """`python -m sandgate serve <target> --port 0`, with its stderr kept and searchable."""

    def __init__(self, target: Path, on_line: Callable[[ServerProcess, str], None] | None = None,
                 args: Sequence[str] = ()) -> None:
        self.command = [server_python(), "-m", "sandgate", "serve", str(target),
                        "--host", "127.0.0.1", "--port", "0", "--set", "metrics_port=0", *args]
        self.url = ""
        self.port = 0
        self._lines: list[str] = []
        self._eof = False
        self._changed = threading.Condition()
        self._on_line = on_line  # runs on the reader thread as each stderr line arrives
        self.proc = subprocess.Popen(
            self.command, cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True, errors="replace",
        )
        # Read stderr for the server's whole life: a full pipe would stall it.
        self._reader = threading.Thread(target=self._drain, name="server-stderr", daemon=True)
        self._reader.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerProcess:
        banner = self.wait_for_line(READY_LINE, START_TIMEOUT_S)
        self.url, self.port = banner["url"], int(banner["port"])
        self.wait_until_ready()
        return self

    def wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        with httpx.Client(timeout=1.0) as http:
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if http.get(f"{self.base}/readyz").status_code == 200:
                        return
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.fail(f"/readyz never answered 200 within {START_TIMEOUT_S:.0f}s")
                time.sleep(0.02)

    def wait_for_line(self, pattern: re.Pattern[str] | str, timeout: float) -> re.Match[str]:
        """The first stderr line matching `pattern` (searched anywhere in the line)."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        found: list[re.Match[str]] = []

        def seen() -> bool:
            for line in self._lines:
                if match := regex.search(line):
                    found.append(match)
                    return True
            return self._eof

        with self._changed:
            self._changed.wait_for(seen, timeout)
        if not found:
            self.fail(f"no stderr line matched {regex.pattern!r} within {timeout:.1f}s")
        return found[0]

    def terminate(self) -> None:
        """Send SIGTERM (graceful shutdown) without waiting."""
        self.proc.send_signal(signal.SIGTERM)

    def stop(self) -> int:
        """SIGTERM if still running, then the exit status; a server that will not stop is killed."""
        if self.proc.poll() is None:
            self.terminate()
        try:
            status = self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self._reader.join(5)
            self.fail(f"did not exit within {STOP_TIMEOUT_S:.0f}s of SIGTERM; killed")
        self._reader.join(5)
        return status

    def log_text(self) -> str:
        with self._changed:
            return "\n".join(self._lines) or "(nothing)"

    def fail(self, problem: str) -> NoReturn:
        pytest.fail(f"`{' '.join(self.command)}` {problem}; stderr:\n{self.log_text()}", pytrace=False)

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            if self._on_line is not None:
                self._on_line(self, line.rstrip("\n"))
            with self._changed:
                self._lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._eof = True
            self._changed.notify_all()


@contextlib.contextmanager
def running_server(target: Path, args: Sequence[str] = ()) -> Iterator[ServerProcess]:
    """A started server; on exit it gets SIGTERM and must exit with status 0."""
    server = ServerProcess(target, args=args)
    try:
        server.start()
        yield server
    finally:
        status = server.stop()
    assert status == 0, f"server exited with {status} after SIGTERM; stderr:\n{server.log_text()}"
