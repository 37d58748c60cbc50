"""Health endpoints, legacy session lifetime, and graceful shutdown on SIGTERM (HTTP) or EOF (stdio)."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import uuid

import httpx
import pytest

from .wire import modern_meta


# --- Health ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "status", "body"), [
    ("/healthz", 200, {"status": "ok"}),
    ("/readyz", 200, {"status": "ready"}),
    ("/healthz?probe=1", 200, {"status": "ok"}),
    ("/health", 404, {"error": "not found"}),  # near miss
    ("/readyz/", 404, {"error": "not found"}),  # near miss
    ("/mcp/", 404, {"error": "not found"}),  # near miss
])
def test_health_endpoints(server, path: str, status: int, body: dict) -> None:
    reply = httpx.get(f"{server.base}{path}", timeout=5)
    assert reply.status_code == status
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.json() == body


# --- Legacy sessions -------------------------------------------------------------------------------

def test_session_is_issued_streams_and_ends_on_delete(server, legacy, raw_http) -> None:
    session = legacy(server.url, "2025-11-25")
    assert len(session.session_id) >= 16
    assert all(33 <= ord(c) <= 126 for c in session.session_id)  # visible ASCII, per the spec

    raw = raw_http(server.port)
    stream = raw.connect(timeout=5)
    stream.sendall(raw.request("GET", {"Accept": "text/event-stream", "Mcp-Session-Id": session.session_id}))
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = stream.recv(4096)
        assert chunk, f"stream closed early: {head!r}"
        head += chunk
    assert raw.status(head) == 200
    head_text = head.decode().lower()
    assert "content-type: text/event-stream" in head_text
    assert f"mcp-session-id: {session.session_id}" in head_text

    assert session.delete().status_code == 200
    after = session.request("ping")
    assert after.status_code == 404
    gone = httpx.get(server.url, headers={"Accept": "text/event-stream", "Mcp-Session-Id": session.session_id},
                     timeout=5)
    assert gone.status_code == 404


def test_sessions_are_independent(server, legacy) -> None:
    first, second = legacy(server.url, "2025-06-18"), legacy(server.url, "2024-11-05")
    assert first.session_id != second.session_id
    assert first.delete().status_code == 200
    assert first.request("ping").status_code == 404
    assert second.result("ping") == {}


# --- Graceful shutdown over HTTP -----------------------------------------------------------------

def wait_until_refused(port: int, timeout: float) -> float:
    """Seconds until a new connection to `port` is refused; fails after `timeout`."""
    started = time.monotonic()
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except ConnectionRefusedError:
            return time.monotonic() - started
        assert time.monotonic() - started < timeout, f"port {port} still accepting after {timeout}s"
        time.sleep(0.01)


def test_sigterm_lets_the_running_call_finish_and_refuses_new_connections(fresh_server, raw_http,
                                                                          modern) -> None:
    server = fresh_server("limited")
    text = f"in-flight-{uuid.uuid4().hex[:8]}"
    params = {"name": "slow_echo", "arguments": {"text": text, "delay_s": 1.5}}
    wire = modern(server.url)
    raw = raw_http(server.port)
    call = raw.connect(timeout=10)
    call.sendall(raw.request("POST", wire.headers("tools/call", params),
                             json.dumps(wire.message("tools/call", params)).encode()))
    server.wait_for_line(f"slow_echo started: {text}$", 5)

    server.terminate()
    wait_until_refused(server.port, 1.0)
    assert f"slow_echo finished: {text}" not in server.log_text(), "refusal came only after the call ended"

    response = raw.read_until_closed(call, 10)
    assert raw.status(response) == 200
    head, _, body = response.partition(b"\r\n\r\n")
    assert b"connection: close" in head.lower()
    result = json.loads(body)["result"]
    assert result["content"] == [{"type": "text", "text": text}]
    assert server.proc.wait(10) == 0


def test_sigterm_does_not_wait_for_idle_connections(fresh_server) -> None:
    server = fresh_server("limited")  # shutdown_grace_s = 5
    with httpx.Client(timeout=5) as keep_alive:
        assert keep_alive.get(f"{server.base}/healthz").status_code == 200
        started = time.monotonic()
        server.terminate()
        assert server.proc.wait(10) == 0
        assert time.monotonic() - started < 2.0, "shutdown waited on an idle keep-alive connection"


def test_sigterm_closes_open_event_streams(fresh_server, legacy, raw_http) -> None:
    server = fresh_server("limited")
    session = legacy(server.url, "2025-11-25")
    raw = raw_http(server.port)
    stream = raw.connect(timeout=10)
    stream.sendall(raw.request("GET", {"Accept": "text/event-stream", "Mcp-Session-Id": session.session_id}))
    assert raw.status(stream.recv(4096)) == 200

    started = time.monotonic()
    server.terminate()
    raw.read_until_closed(stream, 5)
    assert server.proc.wait(10) == 0
    assert time.monotonic() - started < 2.0, "shutdown waited on an open event stream"


def test_sigterm_right_after_the_banner_is_graceful(fresh_server) -> None:
    """The banner says the server is up; a supervisor may stop it at once and expect exit 0.

    The gap between the banner and the signal handlers is short, so SIGTERM goes out from the
    stderr reader the moment the banner arrives, on several servers one after another.
    """

    def stop_on_banner(process, line: str) -> None:
        if "serving MCP at" in line:
            process.terminate()

    statuses = []
    for _ in range(8):
        server = fresh_server("examples", wait_ready=False, on_line=stop_on_banner)
        statuses.append(server.proc.wait(15))
    assert statuses == [0] * len(statuses)


# --- Graceful shutdown over stdio ------------------------------------------------------------------

def test_stdio_finishes_pending_calls_after_stdin_closes(stdio_command) -> None:
    lines = [
        {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
         "params": {"name": "slow_echo", "arguments": {"text": "last words", "delay_s": 0.5}, "_meta": modern_meta()}},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
         "params": {"name": "add", "arguments": {"a": 2, "b": 3}, "_meta": modern_meta()}},
    ]
    payload = "".join(json.dumps(line) + "\n" for line in lines)
    done = subprocess.run([stdio_command.command, *stdio_command.args], cwd=stdio_command.cwd,
                          input=payload, capture_output=True, text=True, timeout=20)
    assert done.returncode == 0, done.stderr
    replies = {reply["id"]: reply for reply in map(json.loads, done.stdout.splitlines())}
    assert set(replies) == {1, 2}, done.stdout
    assert replies[1]["result"]["content"] == [{"type": "text", "text": "last words"}]
    assert replies[2]["result"]["structuredContent"] == {"result": 5}
