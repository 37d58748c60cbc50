"""Issuer keys a running server fetches: from a jwks_uri, or one found in the issuer's metadata (OpenID
discovery, else RFC 8414), refetched on a schedule and when a token names a key the set lacks (rotation), at
most every refetch interval. A fetch that fails keeps the keys held; an issuer never fetched has none, and its
tokens are refused (fail closed)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any
from urllib.parse import urlsplit

import httpx

from sandgate.policy.model import JwtIssuer
from sandgate.policy.reload import Loaded

logger = logging.getLogger("sandgate.policy")
MAX_DOCUMENT_BYTES = 1024 * 1024
FETCH_TIMEOUT_S = 10.0
POLL_S = 1.0  # how soon a token with an unknown kid leads to a fetch


class FetchError(Exception):
    pass


async def fetch_json_text(client: httpx.AsyncClient, url: str) -> str:
    """The body of a 200 application/json answer at `url`, at most MAX_DOCUMENT_BYTES; redirects are not followed."""
    try:
        async with client.stream("GET", url, headers={"Accept": "application/json"}) as reply:
            if reply.status_code != 200:
                raise FetchError(f"{url}: HTTP {reply.status_code}")
            body = bytearray()
            async for chunk in reply.aiter_bytes():
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise FetchError(f"{url}: larger than {MAX_DOCUMENT_BYTES} bytes")
    except httpx.HTTPError as exc:
        raise FetchError(f"{url}: {exc}") from None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise FetchError(f"{url}: not UTF-8") from None


async def jwks_uri(client: httpx.AsyncClient, issuer: str) -> str:
    """The issuer's jwks_uri from its metadata; the metadata must name the same issuer (RFC 8414 3.3)."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    candidates = [f"{issuer.rstrip('/')}/.well-known/openid-configuration",
                  f"{parts.scheme}://{parts.netloc}/.well-known/oauth-authorization-server{path}"]
    problems = []
    for url in candidates:
        try:
            metadata = json.loads(await fetch_json_text(client, url))
        except (FetchError, ValueError) as exc:
            problems.append(str(exc))
            continue
        if not isinstance(metadata, dict) or metadata.get("issuer") != issuer:
            problems.append(f"{url}: names another issuer")
            continue
        if not isinstance(metadata.get("jwks_uri"), str):
            problems.append(f"{url}: no jwks_uri")
            continue
        return str(metadata["jwks_uri"])
    raise FetchError("; ".join(problems))


class KeyFetcher:
    """One task per fetched issuer of the policy being served; `follow` after each good reload."""

    def __init__(self, gate: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._gate = gate
        self._loop = loop
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}

    def follow(self, loaded: Loaded) -> None:
        """Thread-safe: fetch the issuers `loaded` fetches, stop fetching the others."""
        self._loop.call_soon_threadsafe(self._reconcile, loaded)

    def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()

    def _reconcile(self, loaded: Loaded) -> None:
        wanted = {(issuer.issuer, issuer.model_dump_json()): issuer
                  for issuer in loaded.compiled.checked.policy.spec.auth.jwt if issuer.jwks.file is None}
        for key in list(self._tasks):
            if key not in wanted:
                self._tasks.pop(key).cancel()
        for key, issuer in wanted.items():
            if key not in self._tasks:
                self._tasks[key] = self._loop.create_task(self._keep_fetching(issuer))

    async def _keep_fetching(self, issuer: JwtIssuer) -> None:
        source = issuer.jwks
        fetched_at = float("-inf")
        held = False
        last_problem = ""
        async with httpx.AsyncClient(timeout=FETCH_TIMEOUT_S, follow_redirects=False) as client:
            while True:
                since = time.monotonic() - fetched_at
                # The unknown-kid signal is taken only when it may act, so none is lost in between.
                refetch = since >= source.refetch_seconds and (not held or self._gate.keys_wanted(issuer.issuer))
                if since >= source.refresh_seconds or refetch:
                    fetched_at = time.monotonic()
                    try:
                        url = source.url if source.url is not None else await jwks_uri(client, issuer.issuer)
                        refusal = self._gate.set_keys(issuer.issuer, await fetch_json_text(client, url), False)
                        if refusal is not None:
                            raise FetchError(f"{url}: {refusal}")
                        held, last_problem = True, ""
                    except FetchError as exc:
                        if str(exc) != last_problem:  # logged once per distinct problem
                            logger.error("keys of %s not fetched (%s): %s", issuer.issuer,
                                         "the keys held before stay" if held else "its tokens are refused", exc)
                            last_problem = str(exc)
                await asyncio.sleep(POLL_S)
