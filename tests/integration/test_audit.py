"""The audit log through the real gateway: known traffic gives one line per call and per refusal, each valid
against docs/audit-line.schema.json, matching the traffic one to one; arguments salted and hashed unless the
allowing rule asks for them in full; no credential anywhere; SIGHUP reopens the file after rotation."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from tests.integration.metered import KEY, METERED, metered_policy
from tests.integration.server_process import REPO, ServerProcess, running_server
from tests.integration.wire import LegacySession, ModernWire
from tests.sandbox.host import wait_until

SCHEMA = json.loads((REPO / "docs" / "audit-line.schema.json").read_text())
POLICY = metered_policy("audited", "3", "    - {id: eng-add, effect: allow, principals: [eng], tools: [add], auditArguments: full}\n")


class Audited:
    def __init__(self, server: ServerProcess, path: Path) -> None:
        self.server = server
        self.path = path

    def lines(self) -> list[dict[str, Any]]:
        text = self.path.read_text() if self.path.exists() else ""
        return [json.loads(line) for line in text.splitlines()]

    def wait_for(self, count: int) -> list[dict[str, Any]]:
        assert wait_until(lambda: len(self.lines()) >= count, 15), self.lines()
        return self.lines()


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Audited]:
    directory = tmp_path_factory.mktemp("audit")
    (directory / "policy.yaml").write_text(POLICY)
    log = directory / "audit.log"
    with running_server(METERED, ["--policy", str(directory / "policy.yaml"), "--set", f"audit_log={log}"]) as server:
        yield Audited(server, log)


def wire(audited: Audited, key: str = KEY) -> ModernWire:
    return ModernWire(audited.server.url, httpx.Client(timeout=60, headers={"Authorization": f"Bearer {key}"}))


def test_known_traffic_gives_one_valid_line_per_call_and_refusal(audited: Audited) -> None:
    before = len(audited.lines())
    client = wire(audited)
    try:
        def call(tool: str, arguments: dict[str, Any]) -> int:
            return client.request("tools/call", {"name": tool, "arguments": arguments}).status_code

        assert call("add", {"a": 2, "b": 3}) == 200
        assert call("add", {"a": 500, "b": 1}) == 403
        assert [call("fail", {"message": "secret-word"}) for _ in range(3)] == [200, 200, 429]
        assert call("sleepy", {}) == 200
        assert client.request("tools/list", {}).status_code == 200  # not a call: no line
    finally:
        client.close()
    assert wire(audited, "wrong-key").request("tools/list", {}).status_code == 401
    lines = audited.wait_for(before + 7)[before:]
    for line in lines:
        jsonschema.validate(line, SCHEMA)
    seen = [(line["event"], line.get("target"), line["outcome"], line["reason"]) for line in lines]
    assert seen == [
        ("call", "add", "ok", "allowed"),
        ("denied", "add", "forbidden", "denied_by_rule"),
        ("call", "fail", "tool_error", "tool_error"),
        ("call", "fail", "tool_error", "tool_error"),
        ("rate_limited", "fail", "rate_limited", "rate_limited"),
        ("call", "sleepy", "timeout", "timeout"),
        ("auth_failure", None, "unauthenticated", "invalid_credentials"),
    ]
    added, denied, failed, _, limited, slept, refused = lines
    assert added["principal"] == {"kind": "api_key", "name": "alice", "issuer": None, "subject": None,
                                  "client_id": None}
    assert (added["rule"], added["decision"], added["policy_revision"]) == ("eng-add", "allow", "3")
    assert added["arguments"] == {"a": 2, "b": 3} and added["arguments_sha256"] is None  # the rule asked: in full
    assert denied["rule"] == "no-big" and denied["decision"] == "deny"
    assert "arguments" not in denied and len(denied["arguments_sha256"]) == 64  # no allowing rule: hashed
    assert "arguments" not in failed and failed["arguments_sha256"] == lines[3]["arguments_sha256"]
    assert limited["rate_limit"] == "twice"
    assert slept["isolation"] == "per_call" and slept["duration_ms"] >= 1000  # cpu_time_s: when the exit was waited for
    assert refused["principal"] is None and refused["peer"] == "127.0.0.1"
    text = audited.path.read_text()
    assert "secret-word" not in text and KEY not in text and "wrong-key" not in text


def test_a_legacy_session_call_names_its_session(audited: Audited) -> None:
    before = len(audited.lines())
    session = LegacySession(audited.server.url, "2025-11-25",
                            httpx.Client(timeout=30, headers={"Authorization": f"Bearer {KEY}"})).open()
    try:
        assert session.result("tools/call", {"name": "add", "arguments": {"a": 1, "b": 1}})["structuredContent"] == \
            {"result": 2}
    finally:
        session.close()
    [line] = audited.wait_for(before + 1)[before:]
    jsonschema.validate(line, SCHEMA)
    assert line["session"] == session.session_id and line["request_id"] == 2


def test_sighup_reopens_the_log_after_rotation(audited: Audited) -> None:
    rotated = audited.path.with_name("audit.log.1")
    audited.path.rename(rotated)
    audited.server.proc.send_signal(signal.SIGHUP)
    client = wire(audited)
    try:
        # The reopen and the line race on the writer: call until a line lands in the new file.
        def landed() -> bool:
            assert client.request("tools/call", {"name": "add", "arguments": {"a": 1, "b": 2}}).status_code == 200
            return audited.path.exists() and len(audited.lines()) >= 1

        assert wait_until(landed, 15)
    finally:
        client.close()
    assert all(line["target"] == "add" for line in audited.lines())
    assert rotated.read_text().count("\n") >= 1
