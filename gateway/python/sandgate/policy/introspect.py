"""The server's introspection client (RFC 7662): asks the policy's issuer about each opaque bearer token the core
parks, and hands the answer back to the core, which judges and holds it. Woken by the core's eventfd, so a
request waits one round trip to the issuer, never a poll interval. The token and the client secret are never
logged; a failed request is reported to the core as unanswered (its requests get 503, nothing is held)."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from authlib.integrations.httpx_client import AsyncOAuth2Client

from sandgate.policy.model import Introspection
from sandgate.policy.reload import Loaded

logger = logging.getLogger("sandgate.policy")
ASK_TIMEOUT_S = 10.0
MAX_ANSWER_BYTES = 64 * 1024
MAX_CONCURRENT_ASKS = 32  # requests beyond wait here; the core bounds how many may wait at all


class Introspector:
    """Follows the served policy's auth.introspection; `close` on the loop stops it."""

    def __init__(self, gate: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._gate = gate
        self._loop = loop
        self._config: Introspection | None = None
        self._client: AsyncOAuth2Client | None = None
        self._asks: set[asyncio.Task[None]] = set()
        self._limit = asyncio.Semaphore(MAX_CONCURRENT_ASKS)
        self._fd: int | None = None

    def follow(self, loaded: Loaded) -> None:
        """Thread-safe: ask the endpoint `loaded` names (or none)."""
        self._loop.call_soon_threadsafe(self._reconcile, loaded.compiled.checked.policy.spec.auth.introspection)

    def close(self) -> None:
        if self._fd is not None:
            self._loop.remove_reader(self._fd)
            self._fd = None
        for task in self._asks:
            task.cancel()
        if self._client is not None:
            self._loop.create_task(self._client.aclose())
            self._client = None

    def _reconcile(self, config: Introspection | None) -> None:
        if config == self._config:
            return
        if self._client is not None:
            self._loop.create_task(self._client.aclose())
            self._client = None
        self._config = config
        if config is None:
            return
        secret = os.environ.get(config.client_secret_env)
        if not secret:
            logger.error("auth.introspection: the environment variable %s is unset: opaque tokens are answered 503",
                         config.client_secret_env)
        else:
            self._client = AsyncOAuth2Client(client_id=config.client_id, client_secret=secret,
                                             token_endpoint_auth_method="client_secret_basic",
                                             revocation_endpoint_auth_method="client_secret_basic",  # introspection's
                                             timeout=ASK_TIMEOUT_S, follow_redirects=False)
        if self._fd is None:
            self._fd = int(self._gate.introspection_fd)
            self._loop.add_reader(self._fd, self._woken)

    def _woken(self) -> None:
        for token in self._gate.introspection_wanted():
            task = self._loop.create_task(self._ask(bytes(token)))
            self._asks.add(task)
            task.add_done_callback(self._asks.discard)

    async def _ask(self, token: bytes) -> None:
        answered, body = False, ""
        try:
            async with self._limit:
                answered, body = await self._introspect(token.decode("latin-1"))  # header bytes, one to one
        finally:
            # Off the loop: the core resumes the waiting requests on the calling thread.
            await self._loop.run_in_executor(None, self._gate.complete_introspection, token, answered, body)

    async def _introspect(self, token: str) -> tuple[bool, str]:
        config, client = self._config, self._client
        if config is None or client is None:
            return False, ""
        try:
            reply = await client.introspect_token(config.endpoint, token=token, token_type_hint="access_token")
        except Exception as exc:  # noqa: BLE001 - any failure to ask is "unanswered", never a crash of the loop
            logger.warning("auth.introspection: %s not reached: %s", config.endpoint, type(exc).__name__)
            return False, ""
        if reply.status_code != 200 or len(reply.content) > MAX_ANSWER_BYTES:
            logger.warning("auth.introspection: %s answered HTTP %d (%d bytes)", config.endpoint, reply.status_code,
                           len(reply.content))
            return False, ""
        return True, reply.text
