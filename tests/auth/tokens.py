"""A test identity provider: key pairs, the JWKS it publishes, and tokens it signs (RS256, ES256, EdDSA).

Signing is done here with `cryptography`, never by the gateway, so what the core verifies was made by an
independent implementation.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _uint(value: int, size: int | None = None) -> str:
    length = size if size is not None else max(1, (value.bit_length() + 7) // 8)
    return b64url(value.to_bytes(length, "big"))


@dataclass
class SigningKey:
    kid: str
    alg: str
    private: PrivateKey

    @classmethod
    def generate(cls, kid: str, alg: str = "RS256") -> SigningKey:
        if alg.startswith(("RS", "PS")):
            private: PrivateKey = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif alg == "ES256":
            private = ec.generate_private_key(ec.SECP256R1())
        elif alg == "EdDSA":
            private = ed25519.Ed25519PrivateKey.generate()
        else:
            raise ValueError(alg)
        return cls(kid, alg, private)

    def jwk(self) -> dict[str, Any]:
        public = self.private.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            numbers = public.public_numbers()
            return {"kty": "RSA", "kid": self.kid, "alg": self.alg, "use": "sig", "n": _uint(numbers.n),
                    "e": _uint(numbers.e)}
        if isinstance(public, ec.EllipticCurvePublicKey):
            point = public.public_numbers()
            return {"kty": "EC", "kid": self.kid, "crv": "P-256", "x": _uint(point.x, 32), "y": _uint(point.y, 32)}
        raw = public.public_bytes_raw()  # type: ignore[union-attr]
        return {"kty": "OKP", "kid": self.kid, "crv": "Ed25519", "x": b64url(raw)}

    def sign(self, data: bytes) -> bytes:
        key = self.private
        if isinstance(key, rsa.RSAPrivateKey):
            pad = padding.PKCS1v15() if self.alg.startswith("RS") else \
                padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=hashes.SHA256.digest_size)
            return key.sign(data, pad, hashes.SHA256())
        if isinstance(key, ec.EllipticCurvePrivateKey):
            r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return key.sign(data)


def compact(header: dict[str, Any], payload: dict[str, Any] | bytes, sign: Any) -> str:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(body)}"
    return f"{signing_input}.{b64url(sign(signing_input.encode()))}"


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
        signer = key or self.keys[0]
        return compact({"alg": signer.alg, "kid": signer.kid, "typ": "JWT", **(header or {})},
                       self.claims(subject, ttl, **claims), signer.sign)
