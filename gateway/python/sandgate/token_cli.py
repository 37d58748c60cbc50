"""`sandgate token keygen | mint`: a development issuer, so a policy's auth.jwt can be tried without an IdP."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

PRIVATE_KEY_FILE = "signing-key.pem"
JWKS_FILE = "jwks.json"


def add_token_commands(commands: Any) -> None:
    token = commands.add_parser("token", help="a development key pair and tokens signed with it")
    actions = token.add_subparsers(dest="token_command", required=True)
    keygen = actions.add_parser("keygen", help=f"write {PRIVATE_KEY_FILE} (private, mode 600) and {JWKS_FILE} "
                                               "(public: a policy's auth.jwt jwks.file)")
    keygen.add_argument("--out", default=".", metavar="DIR")
    keygen.add_argument("--alg", default="ES256", choices=("RS256", "PS256", "ES256", "EdDSA"))
    keygen.add_argument("--kid", default="dev-1")
    mint = actions.add_parser("mint", help="print a token signed with a keygen key")
    mint.add_argument("--key", default=PRIVATE_KEY_FILE, metavar="PEM")
    mint.add_argument("--jwks", default=None, metavar="FILE", help=f"for the key's kid and alg (default: {JWKS_FILE} "
                                                                   "beside --key)")
    mint.add_argument("--iss", required=True, help="the issuer, as the policy's auth.jwt issuer")
    mint.add_argument("--aud", required=True, help="this server's resource URI, as the issuer's audiences")
    mint.add_argument("--sub", required=True)
    mint.add_argument("--scope", action="append", default=[], help="repeatable, or space-separated")
    mint.add_argument("--group", action="append", default=[], help="repeatable")
    mint.add_argument("--claim", action="append", default=[], metavar="NAME=JSON", help="any other claim")
    mint.add_argument("--ttl", default="1h", help="lifetime: 90, 15m, 1h, 7d")


def token_command(args: argparse.Namespace) -> int:
    from sandgate.tokens import SigningKey, parse_duration

    try:
        if args.token_command == "keygen":
            out = Path(args.out)
            out.mkdir(parents=True, exist_ok=True)
            key = SigningKey.generate(args.kid, args.alg)
            private = out / PRIVATE_KEY_FILE
            descriptor = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(key.pem())
            (out / JWKS_FILE).write_text(key.jwks())
            print(f"wrote {private} (keep it secret) and {out / JWKS_FILE} (kid {key.kid}, {key.alg})")
            return 0
        jwks_path = Path(args.jwks) if args.jwks else Path(args.key).parent / JWKS_FILE
        published = json.loads(jwks_path.read_text())["keys"][0]
        key = SigningKey.from_pem(Path(args.key).read_bytes(), published["kid"], published["alg"])
        claims = {}
        for item in args.claim:
            name, separator, value = item.partition("=")
            if not separator or not name:
                raise ValueError(f"--claim needs NAME=JSON, not {item!r}")
            claims[name] = json.loads(value)
        scopes = tuple(scope for text in args.scope for scope in text.split())
        print(key.mint(issuer=args.iss, audience=args.aud, subject=args.sub, ttl_s=parse_duration(args.ttl),
                       scopes=scopes, groups=tuple(args.group), **claims))
        return 0
    except (OSError, ValueError, KeyError, IndexError) as exc:
        print(f"sandgate: error: {exc}", file=sys.stderr)
        return 2
