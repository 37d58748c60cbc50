"""The escape suite's side of the wire: a real gateway serving attacks.py, and judged outcomes.

The gateway runs in its own session: an attack that signals a process group can never reach
pytest. Its stdout and stderr are drained and counted, so a flood into them shows up.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest

from integration.wire import LegacySession, ModernWire

from .attacks import HOST_GIT_CONFIG  # the secret attacks.py's zygote knows the path of
from .host import children, namespace, start_time, status

REPO = Path(__file__).resolve().parents[2]
ATTACKS = Path(__file__).resolve().parent / "attacks.py"
BANNER = re.compile(r"Sandgate \S+ serving MCP at (?P<url>http://127\.0\.0\.1:(?P<port>\d+)/mcp)")
SANDBOX_META = "io.sandgate/sandbox"
ERROR_META = "io.sandgate/error"
REASONS = frozenset({"timeout", "cpu_time", "memory", "output_too_large", "crashed", "seccomp",
                     "tool_error", "sandbox_unavailable", "cancelled", "protocol_error"})
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
CALL_TIMEOUT_S = 20.0
LOG_TAIL_BYTES = 64 * 1024
LEGACY_VERSION = "2025-11-25"


def syscall(name: str) -> frozenset[str]:
    """The label a seccomp kill of `name` must carry: the name its violation report resolved to."""
    return frozenset({name})


@dataclass(frozen=True)
class Outcome:
    """One tools/call result: `reason` is "ok" for a normal result, else the sandbox's reason."""

    tool: str
    result: dict[str, Any]
    elapsed_s: float

    @property
    def is_error(self) -> bool:
        return self.result.get("isError", False) is True

    @property
    def detail(self) -> dict[str, Any]:
        detail = self.result.get("_meta", {}).get(SANDBOX_META)
        return detail if isinstance(detail, dict) else {}

    @property
    def reason(self) -> str:
        if not self.is_error:
            return "ok"
        return str(self.detail.get("reason", "<isError without io.sandgate/sandbox>"))

    @property
    def text(self) -> str:
        return "\n".join(block.get("text", "") for block in self.result.get("content", [])
                         if isinstance(block, dict))

    @property
    def exception(self) -> str | None:
        """The exception type a tool_error names: in _meta, else from "<Type>: message"."""
        error = self.result.get("_meta", {}).get(ERROR_META)
        for source in (self.detail.get("type"), error.get("type") if isinstance(error, dict) else None):
            if isinstance(source, str) and source:
                return source.rsplit(".", 1)[-1]
        match = re.match(r"\s*(?:[A-Za-z_][\w]*\.)*([A-Za-z_]\w*)(?::|$)", self.text)
        return match.group(1) if match else None

    def label(self) -> str | None:
        """What `expect` matches for this reason: exception or signal, signal, or syscall."""
        signal_name = self.detail.get("signal")
        if self.reason == "tool_error":
            return self.exception or (str(signal_name) if signal_name else None)
        if self.reason == "crashed":
            return str(signal_name) if signal_name is not None else None
        if self.reason == "seccomp":
            syscall = self.detail.get("syscall")  # a name, or a bare number the gateway could not name
            return str(syscall) if syscall is not None else None
        return None

    @property
    def value(self) -> Any:
        """What the tool returned: structuredContent (unwrapped from {"result": ...}), else the text."""
        if "structuredContent" not in self.result:
            return self.text
        content = self.result["structuredContent"]
        return content["result"] if isinstance(content, dict) and set(content) == {"result"} else content


def expect(outcome: Outcome, allowed: Mapping[str, Collection[str] | None]) -> Outcome:
    """Fail unless the call ended in one of the `allowed` ways.

    Keys are reasons, "ok" for a normal result. A value names what that reason must carry: the
    exception type (or signal) of a tool_error, the signal of a crash, the syscall of a seccomp
    kill; None requires nothing more. Whatever is allowed,
    an attack that refused to run (NotSandboxed) or reports ESCAPED fails.
    """
    where = f"{outcome.tool}: {outcome.reason} after {outcome.elapsed_s:.2f}s: {outcome.text[:500]!r}"
    assert "NotSandboxed" not in outcome.text, f"the attack refused to run: the call is not confined; {where}"
    assert "ESCAPED" not in outcome.text, f"the attack reached its goal; {where}"
    assert outcome.reason in allowed, f"expected one of {sorted(allowed)}; got {where}"
    if outcome.reason != "ok":
        assert outcome.reason in REASONS, where
        assert outcome.text.strip(), f"a stopped call needs a human text; {where}"
    labels = allowed[outcome.reason]
    if labels is not None:
        label = outcome.label()
        assert label in labels, f"expected {outcome.reason} with one of {sorted(labels)}, not {label}; {where}"
    return outcome


class Gateway:
    """`python -m sandgate serve attacks.py --port 0` in its own session, with drained output."""

    def __init__(self, target: Path = ATTACKS, args: Sequence[str] = ()) -> None:
        python = REPO / ".venv" / "bin" / "python"
        self.command = [str(python if python.exists() else sys.executable), "-m", "sandgate", "serve",
                        str(target), "--host", "127.0.0.1", "--port", "0", "--set", "metrics_port=0", *args]
        self.url = ""
        self.base = ""
        self.zygotes: dict[int, int] = {}  # pid -> start time, recorded once the gateway served
        self._ids = itertools.count(1)
        self._lock = threading.Condition()
        self._counts = {"stdout": 0, "stderr": 0}
        self._tail = bytearray()
        self._open_streams = 2
        self.proc = subprocess.Popen(self.command, cwd=REPO, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     start_new_session=True)
        self.pid = self.proc.pid
        self.start_time = start_time(self.pid)
        for name, stream in (("stdout", self.proc.stdout), ("stderr", self.proc.stderr)):
            threading.Thread(target=self._drain, args=(name, stream), daemon=True,
                             name=f"gateway-{name}").start()

    # --- Lifetime -----------------------------------------------------------------------------

    def start(self) -> Gateway:
        with self._lock:
            found = self._lock.wait_for(lambda: self.url or not self._open_streams, START_TIMEOUT_S)
        if not found or not self.url:
            self.fail(f"printed no banner within {START_TIMEOUT_S:.0f}s")
        deadline = time.monotonic() + START_TIMEOUT_S
        while self.healthz("/readyz") != 200:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.fail("/readyz never answered 200")
            time.sleep(0.02)
        self.assert_serving()
        self.zygotes = {pid: start_time(pid) for pid in self.zygote_pids()}
        if not self.zygotes:
            self.fail("has no zygote (a descendant in its own user namespace) after serving a sandboxed call")
        return self

    @contextlib.contextmanager
    def serving(self) -> Iterator[Gateway]:
        """Started; afterwards it must still serve (`assert_survived`) and exit 0 on SIGTERM."""
        try:
            self.start()
            yield self
            self.assert_survived()
        finally:
            status = self.stop()
        assert status == 0, f"the gateway exited with {status} after SIGTERM\n{self.log_tail()}"

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            return self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.pid, 9)
            self.proc.wait()
            self.fail(f"did not exit within {STOP_TIMEOUT_S:.0f}s of SIGTERM; killed")

    def zygote_pids(self) -> list[int]:
        """The zygotes: descendants of the gateway in a user namespace of their own."""
        own = namespace(self.pid, "user")
        found, pending = [], list(children(self.pid))
        while pending:
            pid = pending.pop()
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                if namespace(pid, "user") != own:
                    found.append(pid)
                    continue
                pending.extend(children(pid))
        return found

    def fail(self, problem: str) -> NoReturn:
        command = " ".join(self.command)
        pytest.fail(f"`{command}` {problem}; output tail:\n{self.log_tail()}", pytrace=False)

    # --- Calls --------------------------------------------------------------------------------

    def call(self, tool: str, **arguments: Any) -> Outcome:
        """One stateless 2026-07-28 tools/call on its own connection."""
        params = {"name": tool, "arguments": arguments}
        began = time.monotonic()
        with httpx.Client(timeout=CALL_TIMEOUT_S) as http:
            reply = ModernWire(self.url, http).request("tools/call", params, request_id=next(self._ids))
        return Outcome(tool, self._result(reply), time.monotonic() - began)

    def attack(self, tool: str, **arguments: Any) -> Outcome:
        """`call`, then proof that the gateway still serves a sandboxed call."""
        outcome = self.call(tool, **arguments)
        self.assert_serving()
        return outcome

    def session(self) -> LegacySession:
        """An initialized legacy (2025-11-25) session; the caller closes it."""
        return LegacySession(self.url, LEGACY_VERSION, httpx.Client(timeout=CALL_TIMEOUT_S)).open()

    def session_call(self, session: LegacySession, tool: str, **arguments: Any) -> Outcome:
        began = time.monotonic()
        reply = session.request("tools/call", {"name": tool, "arguments": arguments})
        return Outcome(tool, self._result(reply), time.monotonic() - began)

    def assert_serving(self) -> None:
        outcome = self.call("add", a=2, b=3)
        assert outcome.reason == "ok" and outcome.value == 5, \
            f"add(2, 3) after an attack: {outcome.reason}: {outcome.text[:300]!r}\n{self.log_tail()}"

    def healthz(self, path: str = "/healthz") -> int:
        with contextlib.suppress(httpx.TransportError):
            return httpx.get(f"{self.base}{path}", timeout=2.0).status_code
        return 0

    # --- Survival -----------------------------------------------------------------------------

    def assert_alive(self) -> None:
        """The gateway and every zygote it started are the same processes, running and untraced."""
        assert self.proc.poll() is None, f"the gateway exited with {self.proc.returncode}\n{self.log_tail()}"
        for pid, started in {self.pid: self.start_time, **self.zygotes}.items():
            assert start_time(pid) == started, f"pid {pid} died or was replaced\n{self.log_tail()}"
            fields = status(pid)
            assert fields["TracerPid"] == "0", f"pid {pid} is traced by {fields['TracerPid']}"
            assert fields["State"][0] not in "TtZX", f"pid {pid} is {fields['State']}"

    def assert_survived(self) -> None:
        assert self.healthz() == 200, f"/healthz after the attacks\n{self.log_tail()}"
        self.assert_alive()
        self.assert_serving()

    # --- Output -------------------------------------------------------------------------------

    @property
    def output_bytes(self) -> int:
        """Everything the gateway (and whatever inherited its stdout/stderr) has written so far."""
        with self._lock:
            return self._counts["stdout"] + self._counts["stderr"]

    def log_tail(self) -> str:
        with self._lock:
            return self._tail.decode(errors="replace") or "(nothing)"

    def _drain(self, name: str, stream: Any) -> None:
        while chunk := stream.read1(65536):
            with self._lock:
                self._counts[name] += len(chunk)
                self._tail += chunk
                del self._tail[:-LOG_TAIL_BYTES]
                if not self.url and (match := BANNER.search(self._tail.decode(errors="replace"))):
                    self.url, self.base = match["url"], match["url"].removesuffix("/mcp")
                self._lock.notify_all()
        with self._lock:
            self._open_streams -= 1
            self._lock.notify_all()

    def _result(self, reply: httpx.Response) -> dict[str, Any]:
        assert reply.status_code == 200, f"{reply.status_code}: {reply.text[:500]}"
        body = reply.json() if "json" in reply.headers.get("content-type", "") else _sse_json(reply.text)
        assert "result" in body, json.dumps(body)[:500]
        return body["result"]


def _sse_json(text: str) -> dict[str, Any]:
    """The JSON-RPC response carried by an SSE reply: the last `data:` event with an id."""
    messages = [json.loads(line[5:]) for line in text.splitlines() if line.startswith("data:")]
    responses = [message for message in messages if "id" in message]
    assert responses, f"no JSON-RPC response in the event stream: {text[:500]!r}"
    return responses[-1]


class Watch:
    """Run a call on a thread while the test samples the host, e.g. counting marked processes."""

    def __init__(self, run: Callable[[], Outcome]) -> None:
        self._outcome: list[Outcome] = []
        self._error: list[BaseException] = []
        self._thread = threading.Thread(target=self._run, args=(run,), daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def sample(self, probe: Callable[[], int], interval: float = 0.02) -> int:
        """The largest value `probe` returned while the call was running."""
        peak = 0
        while self.running:
            peak = max(peak, probe())
            time.sleep(interval)
        return peak

    def result(self, timeout: float = CALL_TIMEOUT_S) -> Outcome:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"the call did not return within {timeout}s"
        if self._error:
            raise self._error[0]
        return self._outcome[0]

    def _run(self, run: Callable[[], Outcome]) -> None:
        try:
            self._outcome.append(run())
        except BaseException as exc:  # re-raised on the test's thread by result()
            self._error.append(exc)
