"""Signing keys and tokens for local development and tests: a key pair with its JWKS, and JWTs signed with it.

The gateway never signs: it verifies in the core. These are the issuer's side, for `sandgate token`.
"""

from __future__ import annotations

import base64
import json
import re
import time
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA")
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86_400}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _uint(value: int, size: int | None = None) -> str:
    return b64url(value.to_bytes(size if size is not None else max(1, (value.bit_length() + 7) // 8), "big"))


def parse_duration(text: str) -> int:
    """`"1h"` → 3600; plain numbers are seconds."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a duration like 90, 15m, 1h or 7d")
    return int(match.group(1)) * _SECONDS[match.group(2)]


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: str
    private: PrivateKey

    @classmethod
    def generate(cls, kid: str, alg: str = "RS256") -> SigningKey:
        if alg in ("RS256", "PS256"):
            private: PrivateKey = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif alg == "ES256":
            private = ec.generate_private_key(ec.SECP256R1())
        elif alg == "EdDSA":
            private = ed25519.Ed25519PrivateKey.generate()
        else:
            raise ValueError(f"{alg!r}: one of {', '.join(ALGORITHMS)}")
        return cls(kid, alg, private)

    @classmethod
    def from_pem(cls, pem: bytes, kid: str, alg: str) -> SigningKey:
        private = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(private, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey)):
            raise ValueError("the key is not an RSA, P-256 or Ed25519 private key")
        key = cls(kid, alg, private)
        key.jwk()  # the algorithm must fit the key
        return key

    def pem(self) -> bytes:
        return self.private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption())

    def jwk(self) -> dict[str, Any]:
        """The public key as an issuer publishes it, naming its one algorithm."""
        public = self.private.public_key()
        common = {"kid": self.kid, "alg": self.alg, "use": "sig"}
        if isinstance(public, rsa.RSAPublicKey) and self.alg in ("RS256", "PS256"):
            numbers = public.public_numbers()
            return {"kty": "RSA", "n": _uint(numbers.n), "e": _uint(numbers.e), **common}
        if isinstance(public, ec.EllipticCurvePublicKey) and self.alg == "ES256" and public.curve.name == "secp256r1":
            point = public.public_numbers()
            return {"kty": "EC", "crv": "P-256", "x": _uint(point.x, 32), "y": _uint(point.y, 32), **common}
        if isinstance(public, ed25519.Ed25519PublicKey) and self.alg == "EdDSA":
            return {"kty": "OKP", "crv": "Ed25519", "x": b64url(public.public_bytes_raw()), **common}
        raise ValueError(f"a {type(public).__name__} cannot sign {self.alg}")

    def jwks(self) -> str:
        return json.dumps({"keys": [self.jwk()]}, indent=2) + "\n"

    def sign(self, data: bytes) -> bytes:
        key = self.private
        if isinstance(key, rsa.RSAPrivateKey):
            pad: padding.AsymmetricPadding = padding.PKCS1v15() if self.alg == "RS256" else \
                padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=hashes.SHA256.digest_size)
            return key.sign(data, pad, hashes.SHA256())
        if isinstance(key, ec.EllipticCurvePrivateKey):
            r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return key.sign(data)

    def compact(self, payload: dict[str, Any] | bytes, header: dict[str, Any] | None = None) -> str:
        """A compact JWS of `payload` (JSON-encoded unless bytes), the header naming this key."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        head = {"alg": self.alg, "kid": self.kid, "typ": "JWT", **(header or {})}
        signing_input = f"{b64url(json.dumps(head).encode())}.{b64url(body)}"
        return f"{signing_input}.{b64url(self.sign(signing_input.encode()))}"

    def mint(self, *, issuer: str, audience: str, subject: str, ttl_s: int = 3600, scopes: tuple[str, ...] = (),
             groups: tuple[str, ...] = (), now: int | None = None, **claims: Any) -> str:
        issued = int(time.time()) if now is None else now
        payload: dict[str, Any] = {"iss": issuer, "aud": audience, "sub": subject, "iat": issued,
                                   "exp": issued + ttl_s}
        if scopes:
            payload["scope"] = " ".join(scopes)
        if groups:
            payload["groups"] = list(groups)
        return self.compact({**payload, **claims})
