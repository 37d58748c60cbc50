"""Malformed, oversized, stalled and abandoned requests: each gets the answer the spec asks for
(HTTP status and JSON-RPC code), and afterwards another client's `add` still succeeds."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from .wire import MODERN, modern_meta
ADD = {"name": "add", "arguments": {"a": 2, "b": 3}}


def error_of(reply, status: int, code: int) -> dict:
    assert reply.status_code == status, f"{reply.status_code}: {reply.text}"
    assert reply.headers["Content-Type"].startswith("application/json")
    body = reply.json()
    assert body["jsonrpc"] == "2.0"
    assert body["error"]["code"] == code, body
    return body


# --- Bodies that are not valid JSON-RPC -----------------------------------------------------------

@pytest.mark.parametrize("content", [
    b"{not json",
    b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list"',  # truncated
    b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list"} trailing',
    b"",
    b"[" * 10_000 + b"]" * 10_000,  # nesting deeper than the parser allows
], ids=["garbage", "truncated", "trailing-bytes", "empty", "too-deep"])
def test_invalid_json_is_a_parse_error(server, modern, add_still_works, content: bytes) -> None:
    body = error_of(modern(server.url).post_raw(content), 400, -32700)
    assert body["id"] is None
    add_still_works(server.url)


def call_body(arguments: bytes) -> bytes:
    return (b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":' + arguments
            + b',"_meta":' + json.dumps(modern_meta()).encode() + b"}}")


@pytest.mark.parametrize(("arguments", "named"), [
    (b'{"a":"\\ud800","b":1}', "lone UTF-16 surrogate"),
    (b'{"a":"\\udc00x","b":1}', "lone UTF-16 surrogate"),
    (b'{"a":"\xff","b":1}', "invalid UTF-8"),
    (b'{"a":"\xed\xa0\x80","b":1}', "invalid UTF-8"),  # a surrogate spelled in UTF-8
    (b'{"a":' + b"[" * 158 + b"]" * 158 + b',"b":1}', "max_json_depth (160)"),
], ids=["lone-high-surrogate", "lone-low-surrogate", "invalid-byte", "utf8-surrogate", "too-deep"])
def test_values_json_cannot_carry_are_parse_errors_that_say_why(server, modern, add_still_works, arguments: bytes,
                                                                named: str) -> None:
    body = error_of(modern(server.url).post_raw(call_body(arguments)), 400, -32700)
    assert named in body["error"]["message"], body
    add_still_works(server.url)


def test_nesting_at_the_depth_limit_reaches_the_tool(server, modern) -> None:
    reply = modern(server.url).post_raw(call_body(b'{"a":' + b"[" * 157 + b"]" * 157 + b',"b":1}'),
                                        modern(server.url).headers("tools/call", ADD))
    # Parsed, and refused only by the tool's own schema: `a` is an integer.
    assert reply.status_code == 200, reply.text
    assert reply.json()["result"]["isError"] is True


@pytest.mark.parametrize("content", [b"42", b'"tools/list"', b"null", b"true", b"[]"],
                         ids=["number", "string", "null", "boolean", "empty-batch"])
def test_non_object_body_is_an_invalid_request(server, modern, add_still_works, content: bytes) -> None:
    body = error_of(modern(server.url).post_raw(content), 400, -32600)
    assert body["id"] is None
    add_still_works(server.url)


@pytest.mark.parametrize("mutate", [
    lambda m: m.update(jsonrpc="1.0"),
    lambda m: m.update(jsonrpc=2.0),
    lambda m: m.pop("jsonrpc"),
    lambda m: m.update(id=None),
    lambda m: m.update(id=1.5),
    lambda m: m.update(id={"n": 1}),
    lambda m: m.update(method=7),
    lambda m: m.update(params=[1, 2]),
], ids=["jsonrpc-1.0", "jsonrpc-number", "jsonrpc-missing", "id-null", "id-float", "id-object",
        "method-number", "params-array"])
def test_malformed_envelope_is_an_invalid_request(server, modern, add_still_works, mutate) -> None:
    wire = modern(server.url)
    message = wire.message("tools/list")
    mutate(message)
    error_of(wire.post_raw(json.dumps(message).encode(), wire.headers("tools/list")), 400, -32600)
    add_still_works(server.url)


def test_modern_batch_is_an_invalid_request(server, modern, add_still_works) -> None:
    wire = modern(server.url)
    batch = [wire.message("tools/list", request_id=1), wire.message("tools/list", request_id=2)]
    error_of(wire.post_raw(json.dumps(batch).encode(), wire.headers("tools/list")), 400, -32600)
    add_still_works(server.url)


def test_legacy_batch_only_in_2025_03_26(server, legacy, add_still_works) -> None:
    ping = [{"jsonrpc": "2.0", "id": 1, "method": "ping"}, {"jsonrpc": "2.0", "id": 2, "method": "ping"}]
    error_of(legacy(server.url, "2025-11-25").post(ping), 400, -32600)
    reply = legacy(server.url, "2025-03-26").post(ping)
    assert reply.status_code == 200, reply.text
    assert sorted(answer["id"] for answer in reply.json()) == [1, 2]
    add_still_works(server.url)


# --- Unknown methods --------------------------------------------------------------------------

def test_unknown_method_modern_is_404(server, modern, add_still_works) -> None:
    body = error_of(modern(server.url).request("tools/frobnicate", request_id=3), 404, -32601)
    assert body["id"] == 3
    add_still_works(server.url)


def test_unknown_method_legacy_is_200_with_error(server, legacy, legacy_revision, add_still_works) -> None:
    body = error_of(legacy(server.url, legacy_revision).request("tools/frobnicate"), 200, -32601)
    assert isinstance(body["id"], int)
    add_still_works(server.url)


# --- Size bounds (servers/limited.py) ---------------------------------------------------------

def padded_add(wire, size: int) -> bytes:
    """A valid `add` request of exactly `size` bytes (JSON allows trailing whitespace)."""
    text = json.dumps(wire.message("tools/call", ADD)).encode()
    assert len(text) <= size
    return text + b" " * (size - len(text))


def test_body_at_the_limit_is_served(limited_server, limited_settings, modern) -> None:
    wire = modern(limited_server.url)
    reply = wire.post_raw(padded_add(wire, limited_settings.max_body_bytes), wire.headers("tools/call", ADD))
    assert reply.status_code == 200, reply.text
    assert reply.json()["result"]["structuredContent"] == {"result": 5}


def test_body_over_the_limit_is_413(limited_server, limited_settings, modern, add_still_works) -> None:
    wire = modern(limited_server.url)
    too_big = padded_add(wire, limited_settings.max_body_bytes + 1)
    body = error_of(wire.post_raw(too_big, wire.headers("tools/call", ADD)), 413, -32600)
    assert str(limited_settings.max_body_bytes) in body["error"]["message"]
    add_still_works(limited_server.url)


def test_headers_over_the_limit_are_431(limited_server, limited_settings, modern, add_still_works) -> None:
    wire = modern(limited_server.url)
    huge = {"X-Padding": "p" * limited_settings.max_header_bytes}
    reply = wire.request("tools/call", ADD, headers=huge)
    assert reply.status_code == 431, reply.text
    add_still_works(limited_server.url)


def test_more_header_fields_than_the_limit_are_431(limited_server, limited_settings, modern, add_still_works) -> None:
    wire = modern(limited_server.url)
    fields = {f"X-Field-{i}": "f" for i in range(limited_settings.max_header_fields)}
    assert wire.request("tools/call", ADD, headers=fields).status_code == 431
    # A call with a few fields more than its usual ones is still served: the bound is on count, not presence.
    assert wire.request("tools/call", ADD, headers={"X-Field-0": "f", "X-Field-1": "f"}).status_code == 200
    add_still_works(limited_server.url)


# --- Sessions (legacy) ------------------------------------------------------------------------

def test_legacy_request_without_session_is_400(server, modern, add_still_works) -> None:
    reply = modern(server.url).post_raw(b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}')
    body = error_of(reply, 400, -32600)
    assert "session" in body["error"]["message"].lower()
    add_still_works(server.url)


@pytest.mark.parametrize("session_id", ["0" * 32, "not-a-session", "x" * 300])
def test_legacy_request_with_unknown_session_is_404(server, modern, add_still_works, session_id) -> None:
    reply = modern(server.url).post_raw(b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}',
                                        {"Mcp-Session-Id": session_id})
    error_of(reply, 404, -32600)
    add_still_works(server.url)


def test_deleted_session_is_404(server, legacy, add_still_works) -> None:
    session = legacy(server.url)
    assert session.request("ping").status_code == 200
    assert session.delete().status_code == 200
    error_of(session.request("ping"), 404, -32600)
    assert session.delete().status_code == 404
    add_still_works(server.url)


# --- 2026-07-28 routing headers -----------------------------------------------------------------

def test_unsupported_protocol_version_is_400_with_supported_list(server, modern, add_still_works) -> None:
    reply = modern(server.url).request("tools/list", version="2099-01-01")
    body = error_of(reply, 400, -32022)
    assert body["error"]["data"]["requested"] == "2099-01-01"
    assert MODERN in body["error"]["data"]["supported"]
    add_still_works(server.url)


@pytest.mark.parametrize("header", ["2099-01-01", "2000-01-01", "not-a-version"])
def test_unsupported_protocol_version_header_on_a_plain_request_is_400(server, modern, add_still_works,
                                                                        header) -> None:
    reply = modern(server.url).post_raw(b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}',
                                        {"MCP-Protocol-Version": header})
    assert reply.status_code == 400, reply.text
    assert "result" not in reply.json()
    add_still_works(server.url)


@pytest.mark.parametrize(("method", "params", "headers"), [
    ("tools/call", ADD, {"Mcp-Name": "multiply"}),
    ("tools/call", ADD, {"Mcp-Name": "ad"}),  # near miss
    ("tools/call", ADD, {"Mcp-Method": "tools/list"}),
    ("resources/read", {"uri": "config://app"}, {"Mcp-Name": "config://ap"}),
], ids=["name-other-tool", "name-prefix", "method", "resource-uri"])
def test_header_body_mismatch_is_400(server, modern, add_still_works, method, params, headers) -> None:
    error_of(modern(server.url).request(method, params, headers=headers), 400, -32020)
    add_still_works(server.url)


def test_version_header_and_meta_disagreeing_is_a_mismatch(server, modern, add_still_works) -> None:
    wire = modern(server.url)
    message = wire.message("tools/list")
    message["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = "2025-11-25"
    error_of(wire.post_raw(json.dumps(message).encode(), wire.headers("tools/list")), 400, -32020)
    add_still_works(server.url)


def test_missing_routing_header_is_a_mismatch(server, modern, add_still_works) -> None:
    wire = modern(server.url)
    headers = wire.headers("tools/call", ADD)
    del headers["Mcp-Name"]
    reply = wire.post_raw(json.dumps(wire.message("tools/call", ADD)).encode(), headers)
    error_of(reply, 400, -32020)
    add_still_works(server.url)


# --- HTTP-level refusals --------------------------------------------------------------------------

@pytest.mark.parametrize(("origin", "status"), [
    ("http://evil.example", 403),
    ("http://localhost.evil.example", 403),  # near miss
    ("http://127.0.0.1.nip.io", 403),  # near miss
    ("null", 403),
    ("http://localhost:3000", 200),
    ("http://127.0.0.1:8080", 200),
    ("http://[::1]:8080", 200),
])
def test_origin_is_checked(server, modern, add_still_works, origin: str, status: int) -> None:
    reply = modern(server.url).request("tools/list", headers={"Origin": origin})
    if status == 403:
        error_of(reply, 403, -32600)
    else:
        assert reply.status_code == 200, reply.text
    add_still_works(server.url)


@pytest.mark.parametrize(("verb", "allow"), [("GET", "POST"), ("DELETE", "POST"), ("PUT", "GET, POST, DELETE")])
def test_verbs_without_a_session_are_405(server, modern, add_still_works, verb: str, allow: str) -> None:
    wire = modern(server.url)
    reply = wire.http.request(verb, server.url, headers={"Accept": "text/event-stream, application/json"})
    error_of(reply, 405, -32600)
    assert reply.headers["Allow"] == allow
    add_still_works(server.url)


@pytest.mark.parametrize("accept", ["text/html", "image/png", "application/xml"])
def test_unacceptable_accept_is_406(server, modern, add_still_works, accept: str) -> None:
    error_of(modern(server.url).request("tools/list", headers={"Accept": accept}), 406, -32600)
    add_still_works(server.url)


@pytest.mark.parametrize(("accept", "content_type"), [
    ("application/json", "application/json"),
    ("text/event-stream", "text/event-stream"),
])
def test_accept_picks_the_response_form(server, modern, accept: str, content_type: str) -> None:
    reply = modern(server.url).request("tools/call", ADD, headers={"Accept": accept})
    assert reply.status_code == 200, reply.text
    assert reply.headers["Content-Type"].startswith(content_type)
    if content_type == "text/event-stream":
        event, data = reply.text.split("\n")[:2]
        assert event == "event: message"
        assert json.loads(data.removeprefix("data: "))["result"]["structuredContent"] == {"result": 5}


@pytest.mark.parametrize(("content_type", "status"), [
    ("text/plain", 415),
    ("application/jsonp", 415),  # near miss
    ("application/x-www-form-urlencoded", 415),
    ("application/json; charset=utf-8", 200),
    ("Application/JSON", 200),
])
def test_content_type_is_checked(server, modern, add_still_works, content_type: str, status: int) -> None:
    reply = modern(server.url).request("tools/call", ADD, headers={"Content-Type": content_type})
    if status == 415:
        error_of(reply, 415, -32600)
    else:
        assert reply.status_code == 200, reply.text
    add_still_works(server.url)


# --- Clients that stall or leave (servers/limited.py, read_timeout_s = 1) ---------------------

def test_stalled_headers_get_408_after_the_read_timeout(limited_server, limited_settings, raw_http,
                                                        add_still_works) -> None:
    timeout_s = limited_settings.read_timeout_s
    raw = raw_http(limited_server.port)
    sock = raw.connect()
    started = time.monotonic()
    sock.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: applic")
    # Meanwhile the server keeps serving others.
    add_still_works(limited_server.url)
    assert time.monotonic() - started < timeout_s
    response = raw.read_until_closed(sock, timeout_s + 5)
    elapsed = time.monotonic() - started
    assert timeout_s * 0.9 <= elapsed < timeout_s + 3, f"closed after {elapsed:.2f}s"
    # A client that started a request is told why it is being dropped.
    assert raw.status(response) == 408
    add_still_works(limited_server.url)


def test_stalled_body_gets_408_after_the_read_timeout(limited_server, limited_settings, raw_http, modern,
                                                      add_still_works) -> None:
    timeout_s = limited_settings.read_timeout_s
    wire = modern(limited_server.url)
    raw = raw_http(limited_server.port)
    request = raw.request("POST", wire.headers("tools/call", ADD),
                          json.dumps(wire.message("tools/call", ADD)).encode())
    sock = raw.connect()
    started = time.monotonic()
    sock.sendall(request[:-20])  # all headers, most of the body
    response = raw.read_until_closed(sock, timeout_s + 5)
    elapsed = time.monotonic() - started
    assert timeout_s * 0.9 <= elapsed < timeout_s + 3, f"closed after {elapsed:.2f}s"
    # A client that started a request is told why it is being dropped.
    assert raw.status(response) == 408
    add_still_works(limited_server.url)


def test_silent_connection_is_closed_without_a_response(limited_server, limited_settings, raw_http,
                                                        add_still_works) -> None:
    timeout_s = limited_settings.read_timeout_s
    raw = raw_http(limited_server.port)
    sock = raw.connect()
    started = time.monotonic()
    assert raw.read_until_closed(sock, timeout_s + 5) == b""
    assert time.monotonic() - started >= timeout_s * 0.9
    add_still_works(limited_server.url)


def test_client_that_disconnects_mid_call(limited_server, raw_http, modern, add_still_works) -> None:
    text = f"abandoned-{uuid.uuid4().hex[:8]}"
    params = {"name": "slow_echo", "arguments": {"text": text, "delay_s": 2}}
    wire = modern(limited_server.url)
    raw = raw_http(limited_server.port)
    sock = raw.connect()
    sock.sendall(raw.request("POST", wire.headers("tools/call", params),
                             json.dumps(wire.message("tools/call", params)).encode()))
    limited_server.wait_for_line(f"slow_echo started: {text}$", 5)
    sock.close()

    started = time.monotonic()
    add_still_works(limited_server.url)
    assert time.monotonic() - started < 1.0, "a call waited behind the abandoned one"
    # The departed client's call is cancelled rather than left to run out its 2 s.
    limited_server.wait_for_line(f"slow_echo cancelled: {text}$", 1.5)
    add_still_works(limited_server.url)
    # And a complete call on the same server still returns its result.
    result = wire.result("tools/call", {"name": "slow_echo", "arguments": {"text": "still here", "delay_s": 0}})
    assert result["content"] == [{"type": "text", "text": "still here"}]
