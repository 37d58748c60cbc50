"""Shared pieces of the benchmark scripts: server commands, process control,
RSS sampling, MCP handshakes and a raw keep-alive client over HTTP, and
RESULTS.md section replacement."""

from __future__ import annotations

import argparse

import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

BENCH = Path(__file__).resolve().parent
SERVERS = BENCH / "servers"
POLICIES = BENCH / "policies"
RESULTS = BENCH / "RESULTS.md"
PY = sys.executable

MODERN = "2026-07-28"
LEGACY = "2025-11-25"
ACCEPT = "application/json, text/event-stream"
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
}


@dataclass
class Server:
    name: str
    http_argv: list[str]  # "{port}" is replaced by the port
    stdio_cmd: list[str]
    ready_text: str | None = None  # stderr text printed once listening
    env: dict[str, str] = field(default_factory=dict)  # added to the harness's environment

    def http_cmd(self, port: int) -> list[str]:
        return [a.replace("{port}", str(port)) for a in self.http_argv]


def _script(name: str) -> str:
    return str(SERVERS / name)


ALL_SERVERS = {
    s.name: s
    for s in [
        Server("sandgate", [PY, _script("sandgate_add.py"), "{port}"],
               [PY, "-m", "sandgate", "serve", _script("sandgate_add.py"), "--transport", "stdio",
                "--policy", str(POLICIES / "open.yaml")],
               ready_text="serving MCP at"),
        Server("fastmcp", [PY, _script("fastmcp_add.py"), "{port}"],
               [PY, _script("fastmcp_add.py"), "stdio"]),
        Server("fastmcp-tuned", [PY, _script("fastmcp_add.py"), "{port}", "--tuned"],
               [PY, _script("fastmcp_add.py"), "stdio"]),
        Server("mcp-sdk", [PY, _script("mcp_sdk_add.py"), "{port}"],
               [PY, _script("mcp_sdk_add.py"), "stdio"]),
    ]
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pinned(cmd: list[str], cpus: str | None) -> list[str]:
    """Prefix with taskset (which execs, so the pid stays the command's)."""
    return ["taskset", "-c", cpus, *cmd] if cpus else cmd


class ServerDown(RuntimeError):
    pass


def start_http_server(server: Server, port: int, cpus: str | None,
                      timeout: float = 30.0) -> subprocess.Popen:
    """Start the server and return once it accepts connections (and, when the
    server announces itself, once that line has appeared on stderr)."""
    log = tempfile.NamedTemporaryFile("w+", prefix=f"{server.name}-", suffix=".log", delete=False)
    proc = subprocess.Popen(pinned(server.http_cmd(port), cpus), stdin=subprocess.DEVNULL,
                            stdout=log, stderr=log,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", **server.env})
    proc.log_path = log.name  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            lines = Path(log.name).read_text(errors="replace").strip().splitlines()
            first_error = [line for line in lines if re.match(r"\w+(Error|Exception): ", line)][:1]
            tail = [line.strip() for line in first_error + lines[-3:]]
            raise ServerDown(f"{server.name} exited with {proc.returncode}: {' | '.join(tail)}")
        announced = server.ready_text is None or server.ready_text in Path(log.name).read_text(errors="replace")
        if announced and _accepts(port):
            return proc
        time.sleep(0.05)
    stop(proc)
    raise ServerDown(f"{server.name} not ready after {timeout:.0f}s")


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def stop(proc: subprocess.Popen) -> None:
    """Stop a process this harness started (by its pid only)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    log_path = getattr(proc, "log_path", None)
    if log_path:
        Path(log_path).unlink(missing_ok=True)


def tree(pid: int) -> list[psutil.Process]:
    p = psutil.Process(pid)
    return [p, *p.children(recursive=True)]


def rss_bytes(pid: int) -> int:
    """Resident set size of the process and all its descendants."""
    total = 0
    for p in tree(pid):
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def cpu_seconds(pid: int) -> float:
    """CPU time of the process and its descendants, including those already reaped
    (e.g. short-lived sandbox children)."""
    total = 0.0
    for p in tree(pid):
        try:
            t = p.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.NoSuchProcess:
            pass
    return total


# --- MCP over HTTP (httpx) ---------------------------------------------------

def rpc_answer(resp: httpx.Response) -> dict:
    """The JSON-RPC answer from a JSON body or from an SSE stream's data lines."""
    import json

    if resp.headers.get("content-type", "").startswith("text/event-stream"):
        for event in re.split(r"\r?\n\r?\n", resp.text):
            data = "\n".join(line[5:].lstrip(" ") for line in event.splitlines() if line.startswith("data:"))
            if '"id"' in data:
                return json.loads(data)
        raise ValueError(f"no JSON-RPC answer in SSE body: {resp.text[:200]!r}")
    return resp.json()


def open_legacy_session(client: httpx.Client, url: str) -> str | None:
    """initialize + notifications/initialized; returns Mcp-Session-Id (None if
    the server runs stateless and hands out none)."""
    init = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {"protocolVersion": LEGACY, "capabilities": {},
                       "clientInfo": {"name": "sandgate-bench", "version": "1"}}}
    r = client.post(url, json=init, headers={"Accept": ACCEPT})
    r.raise_for_status()
    answer = rpc_answer(r)
    if "result" not in answer:
        raise RuntimeError(f"initialize failed: {answer}")
    sid = r.headers.get("mcp-session-id")
    headers = {"Accept": ACCEPT, "MCP-Protocol-Version": LEGACY}
    if sid:
        headers["Mcp-Session-Id"] = sid
    r = client.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers)
    if r.status_code not in (200, 202):
        raise RuntimeError(f"notifications/initialized: HTTP {r.status_code}")
    return sid


class RawHttp:
    """HTTP/1.1 keep-alive POSTs to /mcp on one socket, with none of a client library's
    per-request cost (for one-at-a-time latency). Answers must carry Content-Length."""

    def __init__(self, port: int, headers: dict[str, str]):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        lines = ["POST /mcp HTTP/1.1", f"Host: 127.0.0.1:{port}", "Content-Type: application/json",
                 f"Accept: {ACCEPT}", *(f"{k}: {v}" for k, v in headers.items())]
        self.head, self.buf = ("\r\n".join(lines) + "\r\n").encode(), b""

    def _read_until(self, done) -> None:
        while not done():
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self.buf += chunk

    def close(self) -> None:
        self.sock.close()

    def post(self, body: bytes) -> tuple[int, dict]:
        """(HTTP status, JSON-RPC answer)"""
        self.sock.sendall(self.head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self._read_until(lambda: b"\r\n\r\n" in self.buf)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        fields = dict(re.findall(rb"(?m)^([\w-]+):\s*([^\r\n]*)", head.lower()))
        size = int(fields[b"content-length"])
        self._read_until(lambda: len(self.buf) >= size)
        payload, self.buf = self.buf[:size], self.buf[size:]
        status = int(head.split(b" ", 2)[1])
        ctype = fields.get(b"content-type", b"").decode()
        return status, rpc_answer(httpx.Response(status, content=payload, headers={"content-type": ctype}))


def speaks_modern(client: httpx.Client, url: str) -> bool:
    """One stateless 2026-07-28 tools/call; True if answered with the right sum."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "add", "arguments": {"a": 20, "b": 22}, "_meta": MODERN_META}}
    headers = {"Accept": ACCEPT, "MCP-Protocol-Version": MODERN,
               "Mcp-Method": "tools/call", "Mcp-Name": "add"}
    try:
        r = client.post(url, json=body, headers=headers)
        result = rpc_answer(r).get("result") or {}
    except (httpx.HTTPError, ValueError):
        return False
    return r.status_code == 200 and (result.get("structuredContent") or {}).get("result") == 42


# --- results -------------------------------------------------------------------

def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def percentile(xs: list[float], q: int) -> float:
    """The q-th percentile (1..99), interpolated between the nearest samples."""
    if len(xs) < 2:
        return xs[0] if xs else float("nan")
    return statistics.quantiles(xs, n=100, method="inclusive")[q - 1]


def machine_line() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores ({cpu}), "
            f"Python {sys.version.split()[0]}")


def write_section(name: str, body: str) -> None:
    """Replace `<!-- name:begin -->...<!-- name:end -->` in RESULTS.md, keeping the rest."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    block = f"{begin}\n{body.rstrip()}\n{end}"
    text = RESULTS.read_text() if RESULTS.exists() else "# Sandgate benchmark results\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    RESULTS.write_text(text)


def add_load_options(ap: argparse.ArgumentParser, wrk_cpus_help: str = "taskset list for wrk") -> None:
    """wrk load shape, CPU pinning and output options shared by the HTTP benchmarks."""
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--server-cpus", default="1", help="taskset list for the server ('' = no pinning)")
    ap.add_argument("--wrk-cpus", default="0", help=wrk_cpus_help)
    ap.add_argument("--no-pin", action="store_true")
    ap.add_argument("--no-write", action="store_true", help="print the table, leave RESULTS.md alone")


def resolve_pinning(args: argparse.Namespace) -> None:
    if args.no_pin or not args.server_cpus:
        args.server_cpus = args.wrk_cpus = None
