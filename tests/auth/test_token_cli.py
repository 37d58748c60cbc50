"""`sandgate token keygen | mint` as a policy author uses them: the JWKS keygen writes is the policy's key
file, and what mint prints is a token the gateway accepts, with its scopes and groups as claims."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import httpx

from tests.integration.server_process import REPO, running_server
from tests.integration.wire import ModernWire

POLICY = """apiVersion: sandgate.dev/v1
kind: ToolPolicy
metadata: {name: dev-tokens}
spec:
  defaults: {rateLimit: open}
  auth:
    anonymous: deny
    jwt:
      - {name: dev, issuer: "https://dev.local", audiences: ["https://mcp.local/mcp"], jwks: {file: keys/jwks.json}}
  principals:
    callers: {issuer: "https://dev.local", requireScopes: ["tools:call"], anyGroup: [eng]}
  rateLimits:
    open: {key: [principal], rate: 100/s}
  rules:
    - {id: callers-add, effect: allow, principals: [callers], tools: [add]}
"""


def sandgate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sandgate", "token", *args], capture_output=True, text=True,
                          timeout=60, check=False)


def test_keygen_and_mint_make_a_token_the_gateway_accepts(tmp_path: Path) -> None:
    keygen = sandgate("keygen", "--out", str(tmp_path / "keys"), "--alg", "EdDSA", "--kid", "dev-ed")
    assert keygen.returncode == 0, keygen.stderr
    assert stat.S_IMODE((tmp_path / "keys" / "signing-key.pem").stat().st_mode) == 0o600
    (tmp_path / "policy.yaml").write_text(POLICY)
    mint = sandgate("mint", "--key", str(tmp_path / "keys" / "signing-key.pem"), "--iss", "https://dev.local",
                    "--aud", "https://mcp.local/mcp", "--sub", "alice", "--scope", "tools:call", "--group", "eng",
                    "--ttl", "10m")
    assert mint.returncode == 0, mint.stderr
    token = mint.stdout.strip()
    unscoped = sandgate("mint", "--key", str(tmp_path / "keys" / "signing-key.pem"), "--iss", "https://dev.local",
                        "--aud", "https://mcp.local/mcp", "--sub", "bob", "--group", "eng").stdout.strip()
    with running_server(REPO / "examples" / "tools.py", ["--policy", str(tmp_path / "policy.yaml")]) as server:
        for bearer, allowed in ((token, True), (unscoped, False)):
            wire = ModernWire(server.url, httpx.Client(timeout=30, headers={"Authorization": f"Bearer {bearer}"}))
            try:
                reply = wire.request("tools/call", {"name": "add", "arguments": {"a": 1, "b": 2}})
                assert ("result" in reply.json()) is allowed, reply.text
            finally:
                wire.close()
    assert sandgate("mint", "--key", str(tmp_path / "nope.pem"), "--iss", "i", "--aud", "a", "--sub", "s").returncode == 2
    assert sandgate("mint", "--key", str(tmp_path / "keys" / "signing-key.pem"), "--iss", "i", "--aud", "a", "--sub",
                    "s", "--ttl", "soon").returncode == 2
