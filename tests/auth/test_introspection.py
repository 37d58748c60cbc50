"""Opaque bearer tokens through the real gateway: each one asked about once at the issuer's RFC 7662 endpoint (the
loopback authorization server), the request waiting meanwhile, the answer held for cacheSeconds, rules over its
claims deciding in both eras; an issuer that cannot be asked is a 503, never a refusal or an admission."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.auth.authorization_server import LoopbackAuthorizationServer
from tests.integration.server_process import REPO, ServerProcess, running_server
from tests.integration.wire import LegacySession, ModernWire
from tests.sandbox.host import wait_until

RESOURCE = "https://mcp.test/mcp"
SECRET_ENV = "SANDGATE_TEST_INTROSPECTION_SECRET"
POLICY = """apiVersion: sandgate.dev/v1
kind: ToolPolicy
metadata: {{name: opaque}}
spec:
  defaults: {{rateLimit: open}}
  auth:
    anonymous: deny
    introspection:
      name: loopback
      issuer: "{issuer}"
      endpoint: "{issuer}/introspect"
      audiences: ["{resource}"]
      clientId: resource-server
      clientSecretEnv: {secret_env}
      cacheSeconds: 2
    oauth: {{resource: "{resource}", authorizationServers: ["{issuer}"], scopesSupported: ["tools:call", "tools:admin"]}}
  principals:
    callers: {{issuer: "{issuer}", requireScopes: ["tools:call"]}}
    admins: {{issuer: "{issuer}", requireScopes: ["tools:admin"]}}
  rateLimits:
    open: {{key: [principal], rate: 1000/s}}
  rules:
    - {{id: callers-add, effect: allow, principals: [callers], tools: [add]}}
    - {{id: admins-reverse, effect: allow, principals: [admins], tools: [reverse_words]}}
"""


class Deployment:
    def __init__(self, authorization_server: LoopbackAuthorizationServer, server: ServerProcess) -> None:
        self.authorization_server = authorization_server
        self.server = server

    def token(self, scope: str = "tools:call") -> str:
        client = self.authorization_server.register(grant_types=["client_credentials"])
        issued = httpx.post(f"{self.authorization_server.issuer}/token", auth=(client.client_id, client.client_secret or ""),
                            data={"grant_type": "client_credentials", "scope": scope, "resource": RESOURCE}, timeout=10)
        assert issued.status_code == 200, issued.text
        token = str(issued.json()["access_token"])
        assert "." not in token  # opaque: only introspection knows it
        return token

    def introspections(self) -> int:
        return len(self.authorization_server.journal.introspections)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    directory: Path = tmp_path_factory.mktemp("introspection")
    with LoopbackAuthorizationServer(RESOURCE, opaque_tokens=True) as authorization_server:
        policy = directory / "policy.yaml"
        policy.write_text(POLICY.format(issuer=authorization_server.issuer, resource=RESOURCE, secret_env=SECRET_ENV))
        with pytest.MonkeyPatch.context() as patch:  # the server inherits it; the file never holds the secret
            patch.setenv(SECRET_ENV, authorization_server.resource_server.client_secret or "")
            with running_server(REPO / "examples" / "tools.py", ["--policy", str(policy)]) as server:
                yield Deployment(authorization_server, server)


def call(deployment: Deployment, era: str, token: str, tool: str = "add",
         arguments: dict[str, Any] | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if era == "modern":
        wire = ModernWire(deployment.server.url, httpx.Client(timeout=30, headers=headers))
    else:
        wire = LegacySession(deployment.server.url, "2025-11-25", httpx.Client(timeout=30, headers=headers)).open()
    try:
        return wire.request("tools/call", {"name": tool, "arguments": arguments or {"a": 2, "b": 3}})
    finally:
        wire.close()


@pytest.mark.parametrize("era", ["modern", "legacy"])
def test_an_opaque_token_is_asked_about_once_and_its_claims_decide(deployment: Deployment, era: str) -> None:
    token = deployment.token()
    before = deployment.introspections()
    for _ in range(3):
        reply = call(deployment, era, token)
        assert reply.status_code == 200, reply.text
        assert reply.json()["result"]["structuredContent"] == {"result": 5}
    assert deployment.introspections() - before == 1  # held: the issuer is not asked per request
    seen = deployment.authorization_server.journal.introspections[-1]
    assert seen.active is True
    # Its scopes decide: a tool needing another scope is a step-up challenge, as for a JWT.
    refused = call(deployment, era, token, "reverse_words", {"text": "a b"})
    assert refused.status_code == 403
    assert 'error="insufficient_scope", scope="tools:admin"' in refused.headers["WWW-Authenticate"]
    admin = deployment.token("tools:admin")
    assert call(deployment, era, admin, "reverse_words", {"text": "a b"}).json()["result"]["content"][0]["text"] == "b a"
    assert token not in deployment.server.log_text() and admin not in deployment.server.log_text()


def test_concurrent_requests_with_a_new_token_wait_for_one_answer(deployment: Deployment) -> None:
    token = deployment.token()
    before = deployment.introspections()
    statuses: list[int] = []

    def one() -> None:
        statuses.append(call(deployment, "modern", token).status_code)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 8
    assert deployment.introspections() - before <= 2  # at most one more asked before the first answer landed


def test_an_unknown_or_revoked_token_is_refused_and_the_next_good_call_succeeds(deployment: Deployment) -> None:
    unknown = call(deployment, "modern", "not-a-token-the-issuer-knows")
    assert unknown.status_code == 401
    assert 'error="invalid_token", error_description="inactive"' in unknown.headers["WWW-Authenticate"]
    assert unknown.headers["WWW-Authenticate"].startswith('Bearer resource_metadata="https://mcp.test/')
    token = deployment.token()
    assert call(deployment, "modern", token).status_code == 200
    revoked = deployment.authorization_server.store.find_token(access=token)
    assert revoked is not None
    revoked.revoked = True
    # Held for cacheSeconds (2), then asked again and refused.
    assert wait_until(lambda: call(deployment, "modern", token).status_code == 401, 10)
    assert call(deployment, "modern", deployment.token()).status_code == 200


def test_an_issuer_that_cannot_be_asked_gives_503_and_admits_nothing(tmp_path: Path) -> None:
    with LoopbackAuthorizationServer(RESOURCE, opaque_tokens=True) as authorization_server:
        policy = tmp_path / "policy.yaml"
        policy.write_text(POLICY.format(issuer=authorization_server.issuer, resource=RESOURCE, secret_env=SECRET_ENV))
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(SECRET_ENV, authorization_server.resource_server.client_secret or "")
            with running_server(REPO / "examples" / "tools.py", ["--policy", str(policy)]) as server:
                deployment = Deployment(authorization_server, server)
                token = deployment.token()
                authorization_server.stop()
                started = time.monotonic()
                reply = call(deployment, "modern", token)
                assert reply.status_code == 503, reply.text
                assert reply.headers["Retry-After"] == "1"
                assert reply.json()["error"]["message"] == \
                    "Service Unavailable: the token's issuer could not be asked about it"
                assert time.monotonic() - started < 15
                assert token not in server.log_text()


def test_a_wrong_client_secret_is_503_not_an_admission(tmp_path: Path) -> None:
    with LoopbackAuthorizationServer(RESOURCE, opaque_tokens=True) as authorization_server:
        policy = tmp_path / "policy.yaml"
        policy.write_text(POLICY.format(issuer=authorization_server.issuer, resource=RESOURCE, secret_env=SECRET_ENV))
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(SECRET_ENV, "a-wrong-secret")
            with running_server(REPO / "examples" / "tools.py", ["--policy", str(policy)]) as server:
                deployment = Deployment(authorization_server, server)
                assert call(deployment, "modern", deployment.token()).status_code == 503
                assert "a-wrong-secret" not in server.log_text()
