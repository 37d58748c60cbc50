"""Raw MCP over HTTP: exact requests in, exact statuses and bodies out, nothing repaired between.

`ModernWire` sends stateless 2026-07-28 POSTs, `LegacySession` drives a handshake-era session,
`RawHttp` writes HTTP/1.1 by hand for clients that misbehave on purpose.
"""

from __future__ import annotations

import contextlib
import json
import socket
from dataclasses import dataclass, field
from typing import Any

import httpx

MODERN = "2026-07-28"
LEGACY_REVISIONS = ("2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05")
# Revisions that define the MCP-Protocol-Version header on requests after initialize.
HEADER_REVISIONS = frozenset({"2025-11-25", "2025-06-18"})
META_VERSION = "io.modelcontextprotocol/protocolVersion"
META_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"
ACCEPT_BOTH = "application/json, text/event-stream"
HTTP_TIMEOUT_S = 10.0


def modern_meta(version: str = MODERN) -> dict[str, Any]:
    return {META_VERSION: version, META_CAPABILITIES: {}}


def routing_name(method: str, params: dict[str, Any]) -> str | None:
    """The Mcp-Name value of a modern request: the tool/prompt name or resource URI."""
    key = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}.get(method)
    value = params.get(key) if key else None
    return value if isinstance(value, str) else None


@dataclass
class ModernWire:
    """Stateless 2026-07-28 POSTs whose routing headers mirror the body, as a client must send."""

    url: str
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=HTTP_TIMEOUT_S))

    def message(self, method: str, params: dict[str, Any] | None = None, *, request_id: Any = 1,
                version: str = MODERN) -> dict[str, Any]:
        body_params = dict(params or {})
        body_params["_meta"] = modern_meta(version)
        return {"jsonrpc": "2.0", "id": request_id, "method": method, "params": body_params}

    def headers(self, method: str, params: dict[str, Any] | None = None, *,
                version: str = MODERN) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": ACCEPT_BOTH,
                   "MCP-Protocol-Version": version, "Mcp-Method": method}
        if (name := routing_name(method, params or {})) is not None:
            headers["Mcp-Name"] = name
        return headers

    def request(self, method: str, params: dict[str, Any] | None = None, *, request_id: Any = 1,
                version: str = MODERN, headers: dict[str, str] | None = None) -> httpx.Response:
        sent = self.headers(method, params, version=version)
        sent.update(headers or {})
        body = self.message(method, params, request_id=request_id, version=version)
        return self.http.post(self.url, headers=sent, json=body)

    def result(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return result_of(self.request(method, params))

    def post_raw(self, content: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
        sent = {"Content-Type": "application/json", "Accept": ACCEPT_BOTH}
        sent.update(headers or {})
        return self.http.post(self.url, headers=sent, content=content)

    def close(self) -> None:
        self.http.close()


@dataclass
class LegacySession:
    """A 2024-11-05 .. 2025-11-25 session: initialize, then requests carrying Mcp-Session-Id."""

    url: str
    version: str
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=HTTP_TIMEOUT_S))
    session_id: str = ""
    initialize_reply: httpx.Response | None = None
    capabilities: dict[str, Any] = field(default_factory=dict)  # what initialize declares the client can do
    _next_id: int = 1

    def open(self) -> LegacySession:
        reply = self.http.post(self.url, headers=self._headers(with_session=False), json={
            "jsonrpc": "2.0", "id": self._take_id(), "method": "initialize",
            "params": {"protocolVersion": self.version, "capabilities": self.capabilities,
                       "clientInfo": {"name": "sandgate-integration-tests", "version": "1.0.0"}},
        })
        assert reply.status_code == 200, reply.text
        self.session_id = reply.headers["Mcp-Session-Id"]
        self.initialize_reply = reply
        initialized = self.notify("notifications/initialized")
        assert initialized.status_code == 202, initialized.text
        return self

    def request(self, method: str, params: dict[str, Any] | None = None) -> httpx.Response:
        body: dict[str, Any] = {"jsonrpc": "2.0", "id": self._take_id(), "method": method}
        if params is not None:
            body["params"] = params
        return self.post(body)

    def result(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return result_of(self.request(method, params))

    def notify(self, method: str) -> httpx.Response:
        return self.post({"jsonrpc": "2.0", "method": method})

    def post(self, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        sent = self._headers(with_session=True)
        sent.update(headers or {})
        return self.http.post(self.url, headers=sent, json=body)

    def delete(self) -> httpx.Response:
        return self.http.delete(self.url, headers=self._headers(with_session=True))

    def close(self) -> None:
        self.http.close()

    def _headers(self, *, with_session: bool) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": ACCEPT_BOTH}
        if with_session:
            headers["Mcp-Session-Id"] = self.session_id
            if self.version in HEADER_REVISIONS:
                headers["MCP-Protocol-Version"] = self.version
        return headers

    def _take_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1


def result_of(reply: httpx.Response) -> dict[str, Any]:
    """The `result` of a 200 JSON-RPC reply, failing with the body otherwise."""
    assert reply.status_code == 200, f"{reply.status_code}: {reply.text}"
    body = reply.json()
    assert "result" in body, body
    return body["result"]


def sse_messages(reply: httpx.Response) -> list[dict[str, Any]]:
    """The JSON-RPC messages of a text/event-stream body, in the order they were sent."""
    content_type = reply.headers.get("content-type", "")
    assert content_type.startswith("text/event-stream"), f"{content_type}: {reply.text}"
    return sse_messages_of(reply.text)


def sse_messages_of(text: str) -> list[dict[str, Any]]:
    messages = []
    for event in text.replace("\r\n", "\n").split("\n\n"):
        data = [line[5:].removeprefix(" ") for line in event.split("\n") if line.startswith("data:")]
        if data:
            messages.append(json.loads("\n".join(data)))
    return messages


class RawHttp:
    """Hand-written HTTP/1.1 on plain sockets, for clients that misbehave on purpose."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sockets: list[socket.socket] = []

    def connect(self, timeout: float = HTTP_TIMEOUT_S) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        self.sockets.append(sock)
        return sock

    def request(self, method: str, headers: dict[str, str], body: bytes = b"", path: str = "/mcp") -> bytes:
        lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}",
                 *(f"{name}: {value}" for name, value in headers.items())]
        if body or method == "POST":
            lines.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    @staticmethod
    def read_until_closed(sock: socket.socket, timeout: float) -> bytes:
        """Everything the server sends until it closes the connection (or `timeout` passes)."""
        sock.settimeout(timeout)
        received = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                received += chunk
        return received

    @staticmethod
    def status(response: bytes) -> int:
        status_line = response.split(b"\r\n", 1)[0].decode()
        assert status_line.startswith("HTTP/1.1 "), f"not an HTTP response: {response[:200]!r}"
        return int(status_line.split()[1])

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()
