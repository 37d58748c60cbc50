"""A test identity provider: its keys (`sandgate.tokens`, on `cryptography`: never the core's code), the JWKS it
publishes, and the tokens it mints, forged ones included."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from sandgate.tokens import SigningKey


@dataclass
class Issuer:
    """An identity provider as the policy names it: its iss, the audience it mints for, and its keys."""

    issuer: str = "https://idp.test"
    audience: str = "https://mcp.test/mcp"
    keys: list[SigningKey] = field(default_factory=lambda: [SigningKey.generate("k1")])

    def jwks(self) -> str:
        return json.dumps({"keys": [key.jwk() for key in self.keys]})

    def claims(self, subject: str = "alice", ttl: int = 300, **extra: Any) -> dict[str, Any]:
        now = int(time.time())
        return {"iss": self.issuer, "aud": self.audience, "sub": subject, "iat": now, "exp": now + ttl, **extra}

    def mint(self, subject: str = "alice", *, key: SigningKey | None = None, header: dict[str, Any] | None = None,
             ttl: int = 300, **claims: Any) -> str:
        return (key or self.keys[0]).compact(self.claims(subject, ttl, **claims), header)
