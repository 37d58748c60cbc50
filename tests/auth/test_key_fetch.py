"""Issuer keys fetched by the running server: found through the issuer's metadata, refetched when a token
names a key the set lacks (rotation without a restart), and never trusted from a document naming another
issuer."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandgate.tokens import SigningKey
from tests.auth.tokens import Issuer
from tests.integration.server_process import REPO, running_server
from tests.integration.wire import ModernWire
from tests.sandbox.host import wait_until


class IdentityProvider:
    """A loopback issuer publishing OpenID metadata and a JWKS the test can change."""

    def __init__(self) -> None:
        self.keys: list[SigningKey] = [SigningKey.generate("k1", "ES256")]
        self.metadata_issuer: str | None = None  # set: the metadata names this issuer instead
        self.jwks_requests = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                if self.path == "/.well-known/openid-configuration":
                    body: Any = {"issuer": provider.metadata_issuer or provider.issuer,
                                 "jwks_uri": provider.issuer + "/keys"}
                elif self.path == "/keys":
                    provider.jwks_requests += 1
                    body = {"keys": [key.jwk() for key in provider.keys]}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def minter(self) -> Issuer:
        return Issuer(issuer=self.issuer, audience="https://mcp.test/mcp", keys=self.keys)


@pytest.fixture
def provider() -> Iterator[IdentityProvider]:
    idp = IdentityProvider()
    yield idp
    idp.server.shutdown()


POLICY = """apiVersion: sandgate.dev/v1
kind: ToolPolicy
metadata: {{name: fetched}}
spec:
  defaults: {{rateLimit: open}}
  auth:
    anonymous: deny
    jwt:
      - {{name: idp, issuer: "{issuer}", audiences: ["https://mcp.test/mcp"],
         jwks: {{discover: true, refetchSeconds: 1, refreshSeconds: 3600}}}}
  principals:
    anyone-with-a-token: {{issuer: "{issuer}"}}
  rateLimits:
    open: {{key: [principal], rate: 1000/s}}
  rules:
    - {{id: add, effect: allow, principals: [anyone-with-a-token], tools: [add]}}
"""


def status_of(url: str, token: str) -> int:
    wire = ModernWire(url, httpx.Client(timeout=30, headers={"Authorization": f"Bearer {token}"}))
    try:
        return wire.request("tools/call", {"name": "add", "arguments": {"a": 1, "b": 1}}).status_code
    finally:
        wire.close()


def test_keys_are_discovered_and_a_rotated_key_is_fetched_on_its_first_token(
        provider: IdentityProvider, tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text(POLICY.format(issuer=provider.issuer))
    with running_server(REPO / "examples" / "tools.py", ["--policy", str(tmp_path / "policy.yaml")]) as server:
        first = provider.minter().mint()
        assert wait_until(lambda: status_of(server.url, first) == 200, 15), server.log_text()
        fetches = provider.jwks_requests
        provider.keys = [SigningKey.generate("k2", "ES256")]  # the issuer rotates
        rotated = provider.minter().mint()
        assert wait_until(lambda: status_of(server.url, rotated) == 200, 15), server.log_text()
        assert provider.jwks_requests > fetches
        assert status_of(server.url, first) == 401  # the removed key no longer admits, cached or not
        # A kid nobody publishes: refetched at most once per refetchSeconds, never a fetch per token.
        before = provider.jwks_requests
        stranger = Issuer(issuer=provider.issuer, audience="https://mcp.test/mcp", keys=[SigningKey.generate("k9", "ES256")])
        for _ in range(20):
            assert status_of(server.url, stranger.mint()) == 401
        time.sleep(1.5)
        assert provider.jwks_requests - before <= 3


def test_metadata_naming_another_issuer_gives_no_keys(provider: IdentityProvider, tmp_path: Path) -> None:
    provider.metadata_issuer = "https://impostor.test"
    (tmp_path / "policy.yaml").write_text(POLICY.format(issuer=provider.issuer))
    with running_server(REPO / "examples" / "tools.py", ["--policy", str(tmp_path / "policy.yaml")]) as server:
        assert wait_until(lambda: "names another issuer" in server.log_text(), 15), server.log_text()
        assert status_of(server.url, provider.minter().mint()) == 401
        assert provider.jwks_requests == 0
