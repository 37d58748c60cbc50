"""Forged and mutated tokens against the real gateway: each is refused (401) with its stable reason in
`error_description`, and the valid call after it succeeds, so no refusal leaves the server worse off.
Key rotation is in test_key_fetch.py."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from sandgate.tokens import SigningKey, b64url
from tests.auth.tokens import Issuer
from tests.integration.server_process import REPO, ServerProcess, running_server
from tests.integration.wire import ModernWire

POLICY = """apiVersion: sandgate.dev/v1
kind: ToolPolicy
metadata: {{name: attacks}}
spec:
  defaults: {{rateLimit: open}}
  auth:
    anonymous: deny
    jwt:
      - {{name: corp, issuer: "{issuer}", audiences: ["{audience}"], jwks: {{file: keys.json}}}}
  principals:
    holders: {{issuer: "{issuer}"}}
  rateLimits:
    open: {{key: [principal], rate: 10000/s}}
  rules:
    - {{id: add, effect: allow, principals: [holders], tools: [add]}}
"""


@pytest.fixture(scope="module")
def issuer() -> Issuer:
    return Issuer(keys=[SigningKey.generate("k1", "RS256"), SigningKey.generate("e1", "ES256")])


@pytest.fixture(scope="module")
def server(issuer: Issuer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    directory = tmp_path_factory.mktemp("attacks")
    (directory / "keys.json").write_text(issuer.jwks())
    (directory / "policy.yaml").write_text(POLICY.format(issuer=issuer.issuer, audience=issuer.audience))
    with running_server(REPO / "examples" / "tools.py", ["--policy", str(directory / "policy.yaml")]) as process:
        yield process


def call(server: ServerProcess, token: str) -> httpx.Response:
    wire = ModernWire(server.url, httpx.Client(timeout=30, headers={"Authorization": f"Bearer {token}"}))
    try:
        return wire.request("tools/call", {"name": "add", "arguments": {"a": 20, "b": 22}})
    finally:
        wire.close()


def signed_parts(header: dict[str, object], payload: bytes, sign: Callable[[bytes], bytes]) -> str:
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(payload)}"
    return f"{signing_input}.{b64url(sign(signing_input.encode()))}"


def hmac_with(secret: bytes) -> Callable[[bytes], bytes]:
    return lambda data: hmac.new(secret, data, hashlib.sha256).digest()


def attacks(issuer: Issuer) -> dict[str, tuple[str, str]]:
    """name → (token, the reason the gateway must give)."""
    rsa, ec = issuer.keys
    good = issuer.mint()
    head, payload, _signature = good.split(".")
    claims = issuer.claims()
    attacker = SigningKey.generate("k1", "RS256")
    public_pem = rsa.private.public_key().public_bytes(serialization.Encoding.PEM,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo)
    none_header = b64url(json.dumps({"alg": "none"}).encode())
    duplicate_sub = json.dumps(claims)[:-1] + ', "sub": "admin"}'
    return {
        "alg none": (signed_parts({"alg": "none", "kid": "k1"}, json.dumps(claims).encode(), lambda d: b"x"),
                     "unsupported_algorithm"),
        "alg none, no signature": (f"{none_header}.{payload}.", "malformed"),
        "HS256 keyed with the RSA public key": (
            signed_parts({"alg": "HS256", "kid": "k1"}, json.dumps(claims).encode(), hmac_with(public_pem)),
            "unknown_key"),
        "stripped signature": (f"{head}.{payload}.", "malformed"),
        "signature from another key": (attacker.compact(claims), "bad_signature"),
        "unknown kid": (issuer.mint(header={"kid": "k404"}), "unknown_key"),
        "kid with path characters": (issuer.mint(header={"kid": "../../../../dev/null"}), "unknown_key"),
        "jwk, jku and x5u headers offering the attacker's key": (
            attacker.compact(claims, {"jwk": attacker.jwk(), "jku": "https://evil.test/jwks",
                                      "x5u": "https://evil.test/cert"}), "bad_signature"),
        "expired": (issuer.mint(ttl=-120), "expired"),
        "nbf in the future": (issuer.mint(nbf=claims["iat"] + 3600), "not_yet_valid"),
        "iat far in the future": (issuer.mint(iat=claims["iat"] + 86_400, exp=claims["iat"] + 90_000),
                                  "issued_in_future"),
        "wrong iss": (Issuer(issuer="https://evil.test", keys=[rsa]).mint(), "wrong_issuer"),
        "wrong aud": (issuer.mint(aud="https://other.test/mcp"), "wrong_audience"),
        "aud array lacking ours": (issuer.mint(aud=["https://a.test", "https://b.test"]), "wrong_audience"),
        "missing exp": (rsa.compact({key: value for key, value in claims.items() if key != "exp"}), "missing_claim"),
        "oversized": (issuer.mint(padding="x" * 9000), "too_large"),
        "invalid base64url": (good.replace("-", "+").replace("_", "/") if ("-" in good or "_" in good)
                              else good[:-2] + "+/", "malformed"),
        "trailing garbage": (good + ".extra", "malformed"),
        "duplicate claim keys": (rsa.compact(duplicate_sub.encode()), "bad_claims"),
        "ECDSA r = s = 0": (signed_parts({"alg": "ES256", "kid": "e1"}, json.dumps(claims).encode(),
                                         lambda d: bytes(64)), "bad_signature"),
        "unknown crit header": (issuer.mint(header={"crit": ["x-sandgate"], "x-sandgate": 1}),
                                "unsupported_critical_header"),
        "nested JWT": (rsa.compact(good.encode(), {"cty": "JWT"}), "bad_header"),
        "ES256 token under the RSA key's kid": (ec.compact(claims, {"kid": "k1"}), "unknown_key"),
    }


def test_every_forged_token_is_refused_with_its_reason_and_a_valid_call_follows(
        server: ServerProcess, issuer: Issuer) -> None:
    cases = attacks(issuer)
    assert len(cases) >= 20
    for name, (token, reason) in cases.items():
        reply = call(server, token)
        assert reply.status_code == 401, (name, reply.status_code, reply.text)
        challenge = reply.headers["WWW-Authenticate"]
        assert f'error_description="{reason}"' in challenge, (name, challenge)
        assert token not in reply.text and token not in challenge
        valid = call(server, issuer.mint())
        assert valid.status_code == 200 and valid.json()["result"]["structuredContent"] == {"result": 42}, name
    assert "Traceback" not in server.log_text()
