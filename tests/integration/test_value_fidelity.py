"""JSON values through the gateway, value for value: seeded adversarial texts in, exact views out.

Each route sends batches of generated JSON texts (fidelity_values.py) as the `values` of a
tools/call whose body is spliced together by hand, so the gateway reads exactly those bytes.
The tool (servers/fidelity.py) answers with a type-tagged view of what Python received, which
must equal the view of `json.loads(fragment)`, and with the values themselves, which the
client must read back as exactly what the tool saw. Eight routes: Streamable HTTP and stdio,
each in both eras, each to a sandboxed tool (a hosted module) and an in-process one
(`--trust`). A failure names the seed; `SANDGATE_FIDELITY_SEED=<seed>` replays it.
"""

from __future__ import annotations

import json
import os
import queue
import random
import subprocess
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from .fidelity_values import MAX_DEPTH, Fragment, Generator
from .server_process import REPO, TRUSTED, ServerProcess, running_server, server_python
from .servers.fidelity import canonical
from .wire import ACCEPT_BOTH, LEGACY_REVISIONS, MODERN, LegacySession, modern_meta

FIDELITY_SERVER = Path(__file__).resolve().parent / "servers" / "fidelity.py"
SEED = int(os.environ.get("SANDGATE_FIDELITY_SEED") or random.randrange(2**32))
VALUES_PER_ROUTE = 1700  # eight routes: 13,600 values a run
NESTED_PER_BATCH = 50  # one batch of 10-55 levels and one of 60-MAX_DEPTH per route
SHOWN_PER_KIND = 3
REPLY_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Route:
    transport: str  # "http" or "stdio"
    era: str  # "modern" (2026-07-28 `_meta`) or "legacy" (initialize first)
    trusted: bool  # in-process tool under --trust, else the sandboxed tool of a hosted module

    @property
    def name(self) -> str:
        return f"{self.transport}-{self.era}-{'in_process' if self.trusted else 'sandboxed'}"

    @property
    def tool(self) -> str:
        return "echo_in_process" if self.trusted else "echo"


ROUTES = [Route(transport, era, trusted)
          for transport in ("http", "stdio") for era in ("modern", "legacy") for trusted in (False, True)]
Send = Callable[[str], str]  # a request body's text in, the text of its JSON-RPC reply out


class BatchError(Exception):
    """A call that brought back no values; its reason stands in for each of them."""


@dataclass(frozen=True)
class Mismatch:
    """A value that did not come through: the tool's view and the client's copy, or why neither."""

    kind: str
    fragment: str
    expected: str  # the view of json.loads(fragment)
    view: str = ""  # what the tool reported seeing
    received: str = ""  # the client's copy, as a view
    error: str = ""  # why the call brought back no values

    def lines(self) -> list[str]:
        """The fragment, then each view from where it parts from the one it should equal."""
        lines = [f"[{self.kind}] fragment {clip(self.fragment.translate(SHOWN_BLANKS))}"]
        if self.error:
            return [*lines, f"    no value: {self.error}"]
        if self.view != self.expected:
            at = divergence(self.expected, self.view)
            lines += [f"    expected   {window(self.expected, at)}", f"    tool saw   {window(self.view, at)}"]
        if self.received != self.view:
            at = divergence(self.view, self.received)
            lines += [f"    tool saw   {window(self.view, at)}"] if self.view == self.expected else []
            lines += [f"    client got {window(self.received, at)}"]
        return lines


SHOWN_BLANKS = str.maketrans({"\n": "\u240a", "\r": "\u240d", "\t": "\u2409"})  # raw whitespace, visibly


def divergence(want: str, got: str) -> int:
    return next((i for i, (a, b) in enumerate(zip(want, got)) if a != b), min(len(want), len(got)))


def window(text: str, at: int, before: int = 60, width: int = 200) -> str:
    """The part of a long view around where it goes wrong."""
    start = max(0, at - before)
    return f"{'...' if start else ''}{text[start:start + width]}{'...' if start + width < len(text) else ''}"


def compact(value: object) -> str:
    """Canonical views compared as ASCII text: `true` and `1` differ here, unlike under ==."""
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"))


def view_of(value: object) -> str:
    return compact(canonical(value))


def request_text(request_id: int, tool: str, fragments: list[str], *, modern: bool) -> str:
    """A tools/call body with the fragments spliced in exactly as written."""
    meta = ',"_meta":' + json.dumps(modern_meta()) if modern else ""
    return (f'{{"jsonrpc":"2.0","id":{request_id},"method":"tools/call","params":{{"name":"{tool}",'
            '"arguments":{"values":[' + ",".join(fragments) + "]}" + meta + "}}")


def reply_text(content: bytes) -> str:
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BatchError(f"reply is not UTF-8: {error}") from None


@dataclass
class HttpClient:
    """Raw bodies POSTed to /mcp: stateless 2026-07-28 requests, or a legacy session's."""

    http: httpx.Client
    url: str
    route: Route
    headers: dict[str, str] = field(default_factory=dict)

    def open(self) -> Send:
        self.headers = {"Content-Type": "application/json", "Accept": ACCEPT_BOTH}
        if self.route.era == "modern":
            self.headers |= {"MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/call", "Mcp-Name": self.route.tool}
        else:
            session = LegacySession(self.url, LEGACY_REVISIONS[0], self.http).open()
            self.headers |= {"Mcp-Session-Id": session.session_id, "MCP-Protocol-Version": session.version}
        return self.send

    def send(self, body: str) -> str:
        reply = self.http.post(self.url, content=body.encode(), headers=self.headers)
        if reply.status_code != 200 or not reply.headers.get("content-type", "").startswith("application/json"):
            raise BatchError(f"HTTP {reply.status_code} {reply.headers.get('content-type')}: {reply.text[:300]}")
        return reply_text(reply.content)


class StdioGateway:
    """`sandgate serve MODULE --transport stdio`: one request line out, lines in until its reply."""

    def __init__(self, target: Path, args: Sequence[str]) -> None:
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [server_python(), "-m", "sandgate", "serve", str(target), "--transport", "stdio", *args],
            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr)
        self.lines: queue.Queue[bytes] = queue.Queue()
        self.initialized = False
        threading.Thread(target=self._drain, name="stdio-stdout", daemon=True).start()

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(b"")

    def exchange(self, body: str) -> str:
        """The reply to `body`: the next line with an id (a parse error's id is null)."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(body.encode() + b"\n")
            self.proc.stdin.flush()
        except OSError as error:
            raise BatchError(f"cannot write to the gateway ({error}); stderr:\n{self.log()}") from None
        while True:
            try:
                line = self.lines.get(timeout=REPLY_TIMEOUT_S)
            except queue.Empty:
                raise BatchError(f"no reply within {REPLY_TIMEOUT_S:.0f}s") from None
            if not line:
                raise BatchError(f"the gateway closed stdout; stderr:\n{self.log()}")
            text = reply_text(line)
            try:
                if "id" in json.loads(text):
                    return text
            except ValueError:
                raise BatchError(f"reply is not JSON: {text[:300]}") from None

    def conversation(self, era: str) -> Send:
        """Modern requests need no handshake; legacy ones follow a single `initialize`."""
        if era == "legacy" and not self.initialized:
            hello = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
                     "params": {"protocolVersion": LEGACY_REVISIONS[0], "capabilities": {},
                                "clientInfo": {"name": "sandgate-fidelity", "version": "1.0.0"}}}
            assert "result" in json.loads(self.exchange(json.dumps(hello))), self.log()
            assert self.proc.stdin is not None
            self.proc.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
            self.initialized = True
        return self.exchange

    def stop(self) -> None:
        """EOF on stdin is a stdio gateway's shutdown; it must exit 0."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            status = self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            status = self.proc.wait()
        assert status == 0, f"stdio gateway exited with {status}; stderr:\n{self.log()}"

    def log(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")[-4000:]


@pytest.fixture(scope="module")
def hosted_http() -> Iterator[ServerProcess]:
    """The module hosted in the sandbox: `echo` runs in a child per call."""
    with running_server(FIDELITY_SERVER) as process:
        yield process


@pytest.fixture(scope="module")
def trusted_http() -> Iterator[ServerProcess]:
    """The module under --trust: `echo_in_process` runs in the gateway."""
    with running_server(FIDELITY_SERVER, TRUSTED) as process:
        yield process


@pytest.fixture(scope="module")
def stdio_gateways() -> Iterator[dict[bool, StdioGateway]]:
    """One stdio gateway per trust setting, started on first use, stopped at the end."""
    gateways: dict[bool, StdioGateway] = {}
    yield gateways
    for gateway in gateways.values():
        gateway.stop()


@pytest.fixture(params=ROUTES, ids=[route.name for route in ROUTES])
def route(request: pytest.FixtureRequest) -> Route:
    return request.param


@pytest.fixture
def send(request: pytest.FixtureRequest, route: Route, stdio_gateways: dict[bool, StdioGateway]) -> Iterator[Send]:
    """The route's client, on a server its tool is served by; servers are shared between routes."""
    if route.transport == "stdio":
        if route.trusted not in stdio_gateways:
            stdio_gateways[route.trusted] = StdioGateway(FIDELITY_SERVER, TRUSTED if route.trusted else ())
        yield stdio_gateways[route.trusted].conversation(route.era)
        return
    server: ServerProcess = request.getfixturevalue("trusted_http" if route.trusted else "hosted_http")
    with httpx.Client(timeout=REPLY_TIMEOUT_S) as http:
        yield HttpClient(http, server.url, route).open()


def check_batch(fragments: list[Fragment], reply: str | BatchError) -> list[Mismatch]:
    """Every value's tool view against `json.loads` of its text, and the client's copy against it."""
    expected = [view_of(json.loads(text)) for _, text in fragments]
    try:
        views, values = structured(reply, len(fragments))
    except BatchError as error:  # the whole call failed: each of its values counts
        return [Mismatch(kind, text, want, error=str(error)) for (kind, text), want in zip(fragments, expected)]
    mismatches = []
    for (kind, text), want, view, value in zip(fragments, expected, views, values):
        seen, received = compact(view), view_of(value)
        if seen != want or received != seen:
            mismatches.append(Mismatch(kind, text, want, seen, received))
    return mismatches


def structured(reply: str | BatchError, count: int) -> tuple[list[object], list[object]]:
    """`views` and `values` of a tools/call reply, or BatchError saying why there are none."""
    if isinstance(reply, BatchError):
        raise reply
    try:
        message = json.loads(reply)
    except ValueError as error:
        raise BatchError(f"reply is not JSON ({error}): {reply[:200]}") from None
    if not isinstance(message, dict) or "error" in message:
        raise BatchError(f"no result: {reply[:300]}")
    result = message.get("result", {})
    content = result.get("structuredContent")
    if result.get("isError") or not isinstance(content, dict):
        raise BatchError(f"no structuredContent: {json.dumps(result)[:300]}")
    views, values = content.get("views"), content.get("values")
    if not (isinstance(views, list) and isinstance(values, list) and len(views) == len(values) == count):
        raise BatchError(f"views/values are not {count} long: {json.dumps(content)[:300]}")
    return views, values


def run_batches(send: Send, route: Route, batches: list[list[Fragment]]) -> list[Mismatch]:
    """Every batch is sent and checked; a failed call is that batch's mismatch, never the end."""
    mismatches: list[Mismatch] = []
    for number, fragments in enumerate(batches, start=1):
        body = request_text(number, route.tool, [text for _, text in fragments], modern=route.era == "modern")
        try:
            reply: str | BatchError = send(body)
        except BatchError as error:
            reply = error
        mismatches += check_batch(fragments, reply)
    return mismatches


def route_batches(route: Route) -> list[list[Fragment]]:
    """The route's values, from its own stream of the seed: nested ones in batches of their own
    (so a depth refusal costs only them), the rest in calls of 50-100 values."""
    rng = random.Random(f"{SEED}/{route.name}")
    generator = Generator(rng, newlines=route.transport == "http")  # a stdio message is one line
    batches = [[generator.deep(rng.randint(low, high)) for _ in range(NESTED_PER_BATCH)]
               for low, high in ((10, 55), (60, MAX_DEPTH))]
    batches[-1][0] = generator.deep(MAX_DEPTH)  # the deepest we promise, exactly
    left = VALUES_PER_ROUTE - 2 * NESTED_PER_BATCH
    while left > 0:
        size = min(rng.randint(50, 100), left)
        batches.append([generator.fragment() for _ in range(size)])
        left -= size
    return batches


def describe(route: Route, checked: int, mismatches: list[Mismatch]) -> str:
    """The seed, counts by kind, and the first few mismatches of each kind."""
    kinds = Counter(mismatch.kind for mismatch in mismatches)
    lines = [f"SANDGATE_FIDELITY_SEED={SEED} {route.name}: {len(mismatches)} of {checked} values differ; "
             f"by kind: {dict(kinds.most_common())} (raw whitespace shown as \u240a \u240d \u2409)"]
    for kind in kinds:
        for mismatch in [m for m in mismatches if m.kind == kind][:SHOWN_PER_KIND]:
            lines += mismatch.lines()
    return "\n".join(lines)


def clip(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


def test_plain_values_survive(route: Route, send: Send) -> None:
    """Small ints and short ASCII strings pass every route: the harness itself compares right."""
    generator = Generator(random.Random(f"{SEED}/plain/{route.name}"))
    fragments = [generator.plain() for _ in range(100)]
    if mismatches := run_batches(send, route, [fragments]):
        pytest.fail(describe(route, len(fragments), mismatches), pytrace=False)


def test_adversarial_values_survive(route: Route, send: Send) -> None:
    """1,700 generated values per route reach the tool and come back exactly as json.loads reads them."""
    print(f"SANDGATE_FIDELITY_SEED={SEED}")
    batches = route_batches(route)
    if mismatches := run_batches(send, route, batches):
        pytest.fail(describe(route, sum(map(len, batches)), mismatches), pytrace=False)
