"""Cancelling a call kills its sandboxed child: a legacy `notifications/cancelled` naming the
request, and (modern era) the client closing the response stream."""

from __future__ import annotations

import json
import socket
import threading
from typing import Any

import httpx

from .harness import Gateway
from .host import named, wait_until

CALL_VANISH_S = 3.0


def test_legacy_cancelled_notification_kills_the_call(gateway: Gateway, marker: str) -> None:
    session = gateway.session()
    replies: list[httpx.Response] = []
    body = {"jsonrpc": "2.0", "id": "victim-1", "method": "tools/call",
            "params": {"name": "nap", "arguments": {"marker": marker, "seconds": 20}}}
    waiter = threading.Thread(target=lambda: replies.append(session.post(body)))
    waiter.start()
    try:
        assert wait_until(lambda: bool(named(marker)), 5), "the call never started"
        cancelled = session.post({"jsonrpc": "2.0", "method": "notifications/cancelled",
                                  "params": {"requestId": "victim-1", "reason": "user"}})
        assert cancelled.status_code == 202
        assert wait_until(lambda: not named(marker), CALL_VANISH_S), "the cancelled call kept running"
        waiter.join(CALL_VANISH_S)
        assert replies and "rested" not in replies[0].text
    finally:
        waiter.join(25)
        session.delete()
    gateway.assert_serving()


def test_closing_the_response_stream_kills_the_call(gateway: Gateway, marker: str) -> None:
    params: dict[str, Any] = {"name": "nap", "arguments": {"marker": marker, "seconds": 20},
                              "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                                        "io.modelcontextprotocol/clientCapabilities": {}}}
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}).encode()
    host, port = gateway.base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as conn:
        conn.sendall(b"POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2026-07-28\r\n"
                     b"Mcp-Method: tools/call\r\nMcp-Name: nap\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        assert wait_until(lambda: bool(named(marker)), 5), "the call never started"
    assert wait_until(lambda: not named(marker), CALL_VANISH_S), "the abandoned call kept running"
    gateway.assert_serving()
