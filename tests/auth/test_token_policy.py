"""Bearer tokens end to end: `sandgate serve` verifies an issuer's JWTs in the core and the policy's rules
select on their claims (issuer, groups, scopes), in both protocol eras."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandgate.tokens import SigningKey
from tests.auth.tokens import Issuer
from tests.integration.server_process import REPO, ServerProcess, running_server
from tests.integration.wire import LegacySession, ModernWire

TOOLS = REPO / "examples" / "tools.py"
POLICY = """apiVersion: sandgate.dev/v1
kind: ToolPolicy
metadata: {{name: tokens}}
spec:
  defaults: {{rateLimit: open}}
  auth:
    anonymous: deny
    jwt:
      - name: corp
        issuer: {issuer}
        audiences: [{audience}]
        jwks: {{file: corp.jwks.json}}
        algorithms: [RS256, ES256]
        groupsClaims: [groups, realm_access.roles]
    oauth:
      resource: {audience}
      authorizationServers: [{issuer}]
      scopesSupported: ["tools:call", "tools:list"]
  principals:
    callers: {{issuer: {issuer}, requireScopes: ["tools:call"]}}
    engineers: {{issuer: {issuer}, anyGroup: [eng]}}
  rateLimits:
    open: {{key: [principal], rate: 1000/s}}
  rules:
    - {{id: callers-add, effect: allow, principals: [callers], tools: [add]}}
    - {{id: engineers-reverse, effect: allow, principals: [engineers], tools: [reverse_words]}}
  tests:
    - name: a token with the tools:call scope adds
      principal: {{name: alice, issuer: {issuer}, scopes: ["tools:call"]}}
      tool: add
      expect: {{allow: callers-add}}
    - name: an engineer without the scope may not add
      principal: {{name: bob, issuer: {issuer}, groups: [eng]}}
      tool: add
      expect: {{deny: default}}
"""


@pytest.fixture(scope="module")
def issuer() -> Issuer:
    return Issuer(keys=[SigningKey.generate("k1", "RS256"), SigningKey.generate("e1", "ES256")])


@pytest.fixture(scope="module")
def server(issuer: Issuer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    directory = tmp_path_factory.mktemp("tokens")
    (directory / "corp.jwks.json").write_text(issuer.jwks())
    policy = directory / "policy.yaml"
    policy.write_text(POLICY.format(issuer=issuer.issuer, audience=issuer.audience))
    with running_server(TOOLS, ["--policy", str(policy)]) as process:
        yield process


def modern(server: ServerProcess, token: str | None) -> ModernWire:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return ModernWire(server.url, httpx.Client(timeout=30, headers=headers))


def legacy(server: ServerProcess, token: str) -> LegacySession:
    return LegacySession(server.url, "2025-11-25", httpx.Client(timeout=30, headers={"Authorization": f"Bearer {token}"})).open()


def tool_names(result: dict[str, Any]) -> list[str]:
    return sorted(tool["name"] for tool in result["tools"])


@pytest.mark.parametrize("era", ["modern", "legacy"])
def test_claims_decide_what_a_token_may_call(server: ServerProcess, issuer: Issuer, era: str) -> None:
    caller = issuer.mint("alice", scope="tools:call tools:list")
    engineer = issuer.mint("bob", key=issuer.keys[1], realm_access={"roles": ["eng"]}, scp=["tools:call"])
    for token, visible in ((caller, ["add"]), (engineer, ["add", "reverse_words"])):
        client: Any = modern(server, token) if era == "modern" else legacy(server, token)
        try:
            assert tool_names(client.result("tools/list", {})) == visible
            added = client.result("tools/call", {"name": "add", "arguments": {"a": 2, "b": 3}})
            assert added["structuredContent"] == {"result": 5}
            reversed_words = client.request("tools/call", {"name": "reverse_words", "arguments": {"text": "a b"}})
            if "reverse_words" in visible:
                assert reversed_words.json()["result"]["content"][0]["text"] == "b a"
            else:
                assert reversed_words.json()["error"]["message"] == "Unknown tool: reverse_words"
        finally:
            client.close()


@pytest.mark.parametrize("era", ["modern", "legacy"])
def test_a_token_lacking_only_a_scope_is_challenged_to_step_up(server: ServerProcess, issuer: Issuer, era: str) -> None:
    """MCP authorization's scope challenge: the tool stays listed, and its call is a 403 naming the scope to ask
    for; a refusal more scopes would not lift carries no challenge."""
    unscoped = issuer.mint("carol", scope="tools:list")
    client: Any = modern(server, unscoped) if era == "modern" else legacy(server, unscoped)
    try:
        assert tool_names(client.result("tools/list", {})) == ["add"]
        reply = client.request("tools/call", {"name": "add", "arguments": {"a": 2, "b": 3}})
        assert reply.status_code == 403, reply.text
        assert reply.json()["error"] == {"code": -32003, "message": "Forbidden: insufficient_scope"}
        assert reply.headers["WWW-Authenticate"] == (
            'Bearer resource_metadata="https://mcp.test/.well-known/oauth-protected-resource/mcp", '
            'error="insufficient_scope", scope="tools:call", error_description="the token lacks a scope this call needs"')
        hidden = client.request("tools/call", {"name": "reverse_words", "arguments": {"text": "a b"}})
        assert hidden.json()["error"]["message"] == "Unknown tool: reverse_words"  # no scope would help: still absent
        assert "WWW-Authenticate" not in hidden.headers
    finally:
        client.close()


def refusal(server: ServerProcess, token: str | None) -> httpx.Response:
    wire = modern(server, token)
    try:
        return wire.request("tools/list", {})
    finally:
        wire.close()


def test_a_refused_token_is_401_with_its_reason_and_the_next_good_call_succeeds(
        server: ServerProcess, issuer: Issuer) -> None:
    stranger = Issuer(issuer=issuer.issuer, audience=issuer.audience, keys=[SigningKey.generate("k1")])
    other_issuer = Issuer(issuer="https://evil.test", audience=issuer.audience, keys=issuer.keys)
    cases = {
        "expired": issuer.mint(ttl=-3600),
        "bad_signature": stranger.mint(),
        "wrong_issuer": other_issuer.mint(),
        "wrong_audience": issuer.mint(aud="https://elsewhere/mcp"),
        "unknown_key": issuer.mint(header={"kid": "k9"}),
        "malformed": "a.b.c",
    }
    for reason, token in cases.items():
        reply = refusal(server, token)
        assert reply.status_code == 401, (reason, reply.text)
        challenge = reply.headers["WWW-Authenticate"]
        assert 'error="invalid_token"' in challenge and (reason == "malformed" or f'error_description="{reason}"' in challenge), \
            (reason, challenge)
        assert token not in reply.text and token not in challenge
        assert challenge.startswith('Bearer resource_metadata="https://mcp.test/.well-known/oauth-protected-resource/mcp"')
        good = refusal(server, issuer.mint(scope="tools:call"))
        assert good.status_code == 200, (reason, good.text)
    anonymous = refusal(server, None)  # anonymous: deny, pointed at the metadata
    assert anonymous.status_code == 401
    assert 'resource_metadata="https://mcp.test/.well-known/oauth-protected-resource/mcp"' in \
        anonymous.headers["WWW-Authenticate"]


def test_the_protected_resource_metadata_is_published_at_both_well_known_paths(server: ServerProcess,
                                                                                issuer: Issuer) -> None:
    expected = {"resource": issuer.audience, "authorization_servers": [issuer.issuer],
                "scopes_supported": ["tools:call", "tools:list"], "bearer_methods_supported": ["header"]}
    for path in ("/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"):
        reply = httpx.get(server.base + path, timeout=10)
        assert reply.status_code == 200 and reply.headers["content-type"] == "application/json"
        assert reply.json() == expected
    assert httpx.post(server.base + "/.well-known/oauth-protected-resource/mcp", timeout=10).status_code == 405
    assert httpx.get(server.base + "/.well-known/oauth-protected-resource/other", timeout=10).status_code == 404


def test_a_legacy_session_serves_only_the_token_holder_who_opened_it(server: ServerProcess, issuer: Issuer) -> None:
    """Bound to who opened it (MCP security best practices): another caller holding the id is told it does not
    exist, on POST, GET and DELETE, and cannot end it."""
    alice = legacy(server, issuer.mint("alice", scope="tools:call"))
    try:
        mallory = {"Authorization": f"Bearer {issuer.mint('mallory', scope='tools:call')}"}
        call = {"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "add", "arguments": {"a": 1, "b": 1}}}
        foreign = alice.post(call, headers=mallory)
        assert foreign.status_code == 404, foreign.text
        assert foreign.json()["error"]["message"] == "Not Found: Session not found or expired"
        session = {"Mcp-Session-Id": alice.session_id, "MCP-Protocol-Version": "2025-11-25"}
        assert httpx.delete(server.url, headers={**session, **mallory}, timeout=10).status_code == 404
        with httpx.stream("GET", server.url, headers={**session, **mallory, "Accept": "text/event-stream"},
                          timeout=10) as stream:
            assert stream.status_code == 404
        assert alice.result("tools/call", {"name": "add", "arguments": {"a": 1, "b": 1}})["structuredContent"] == \
            {"result": 2}
        assert alice.delete().status_code == 200
    finally:
        alice.close()
