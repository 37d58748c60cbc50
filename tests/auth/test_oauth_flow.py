"""OAuth 2.1 end to end: a real authorization server (tests/auth/authorization_server.py), `sandgate serve` as the
protected resource fetching that server's keys over HTTP, and real clients — authlib, the official MCP SDK's OAuth
discovery and client-credentials providers, fastmcp with a bearer token — in both protocol eras; then the MCP
authorization scope challenge: a token that lacks only a scope gets 403 `insufficient_scope` and steps up.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import httpx2
import pytest
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from fastmcp import Client as FastMCPClient
from fastmcp.client.transports import StreamableHttpTransport
from mcp import Client, MCPError
from mcp.client.auth import OAuthClientProvider
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

from tests.auth.authorization_server import LoopbackAuthorizationServer
from tests.integration.server_process import REPO, ServerProcess, running_server
from tests.integration.wire import LEGACY_REVISIONS, MODERN, LegacySession, ModernWire
from tests.sandbox.host import wait_until

TOOLS = REPO / "examples" / "tools.py"
REDIRECT_URI = "http://localhost:3030/callback"  # never listened on: the redirect handler reads the Location
OPS_KEY = "ops-secret"
ERAS = ["modern", "legacy"]
POLICY = """apiVersion: sandgate.dev/v1
kind: ToolPolicy
metadata: {{name: oauth-flow}}
spec:
  defaults: {{rateLimit: open}}
  auth:
    anonymous: deny
    apiKeys:
      - {{name: ops, sha256: {ops_sha256}, principal: ops, groups: [ops]}}
    jwt:
      - {{name: loopback-as, issuer: "{issuer}", audiences: ["{resource}"], jwks: {jwks}}}
    oauth:
      resource: "{resource}"
      authorizationServers: ["{issuer}"]
      scopesSupported: ["tools:call", "tools:admin"]
  principals:
    callers: {{issuer: "{issuer}", requireScopes: ["tools:call"]}}
    admins: {{issuer: "{issuer}", requireScopes: ["tools:admin"]}}
    ops: {{anyGroup: [ops]}}
  rateLimits:
    open: {{key: [principal], rate: 1000/s}}
  rules:
    - {{id: callers-add-and-count, effect: allow, principals: [callers, ops], tools: [add, word_count]}}
    - {{id: admins-reverse, effect: allow, principals: [admins], tools: [reverse_words]}}
    - {{id: no-secret-counts, effect: deny, principals: ["*"], tools: [word_count],
       args: {{text: {{pattern: ".*secret.*"}}}}}}
    - {{id: no-secret-reversals, effect: deny, principals: ["*"], tools: [reverse_words],
       args: {{text: {{pattern: ".*secret.*"}}}}}}
"""


# --- The deployment: an authorization server and the gateway it issues tokens for ---------------------------------

@dataclass
class Deployment:
    authorization_server: LoopbackAuthorizationServer
    gateway: ServerProcess

    @property
    def resource(self) -> str:
        return self.authorization_server.resource

    @property
    def resource_metadata(self) -> str:
        return f"{self.gateway.base}/.well-known/oauth-protected-resource/mcp"

    def endpoint(self, name: str) -> str:
        return str(self.authorization_server.metadata()[name])

    def register(self, **metadata: Any) -> dict[str, Any]:
        """RFC 7591 registration over HTTP, as any client does it."""
        reply = httpx.post(self.endpoint("registration_endpoint"), json=metadata, timeout=10)
        assert reply.status_code == 201, reply.text
        return dict(reply.json())


def free_port() -> int:
    """A port for the gateway, known before it starts: its resource URI must name it (the SDK compares them)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def deployed(directory: Path, jwks: str) -> Iterator[Deployment]:
    """`jwks` is the policy's key source, `{issuer}` standing for the authorization server."""
    port = free_port()
    resource = f"http://127.0.0.1:{port}/mcp"
    with LoopbackAuthorizationServer(resource) as authorization_server:
        issuer = authorization_server.issuer
        policy = directory / "policy.yaml"
        policy.write_text(POLICY.format(issuer=issuer, resource=resource, jwks=jwks.format(issuer=issuer),
                                        ops_sha256=hashlib.sha256(OPS_KEY.encode()).hexdigest()))
        with running_server(TOOLS, ["--policy", str(policy), "--port", str(port)]) as gateway:
            assert gateway.url == resource
            yield Deployment(authorization_server, gateway)


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Keys fetched from the jwks_uri itself; one deployment for the module (the journal is read as it grows)."""
    with deployed(tmp_path_factory.mktemp("oauth-url"), '{{url: "{issuer}/jwks"}}') as running:
        yield running


# --- Getting tokens the ways real clients do ------------------------------------------------------------------------

def client_credentials_token(deployment: Deployment, scope: str = "tools:call",
                             resource: str | None = None) -> str:
    """authlib's client: a registered confidential client, the client-credentials grant, RFC 8707 `resource`."""
    registered = deployment.register(grant_types=["client_credentials"], token_endpoint_auth_method="client_secret_basic",
                                     client_name="authlib machine client")
    with OAuth2Client(registered["client_id"], registered["client_secret"], scope=scope,
                      token_endpoint_auth_method="client_secret_basic") as oauth:
        token = oauth.fetch_token(deployment.endpoint("token_endpoint"), grant_type="client_credentials",
                                  resource=resource or deployment.resource)
    return str(token["access_token"])


def authorization_code_token(deployment: Deployment, registered: dict[str, Any], scope: str) -> dict[str, Any]:
    """authlib's client through the authorization-code grant with PKCE; the server approves without asking."""
    with OAuth2Client(registered["client_id"], registered.get("client_secret"), scope=scope, redirect_uri=REDIRECT_URI,
                      code_challenge_method="S256",
                      token_endpoint_auth_method=registered["token_endpoint_auth_method"]) as oauth:
        verifier = generate_token(64)
        url, _ = oauth.create_authorization_url(deployment.endpoint("authorization_endpoint"), code_verifier=verifier,
                                                resource=deployment.resource)
        approval = httpx.get(url, timeout=10)
        assert approval.status_code == 302, approval.text
        token = oauth.fetch_token(deployment.endpoint("token_endpoint"), code_verifier=verifier,
                                  authorization_response=approval.headers["Location"], resource=deployment.resource)
    return dict(token)


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


# --- Talking to the gateway on the wire -----------------------------------------------------------------------------

def wire(deployment: Deployment, era: str, headers: dict[str, str]) -> ModernWire | LegacySession:
    http = httpx.Client(timeout=30, headers=headers)
    if era == "modern":
        return ModernWire(deployment.gateway.url, http)
    return LegacySession(deployment.gateway.url, LEGACY_REVISIONS[0], http).open()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def call(deployment: Deployment, era: str, headers: dict[str, str], tool: str,
         arguments: dict[str, Any]) -> httpx.Response:
    client = wire(deployment, era, headers)
    try:
        return client.request("tools/call", {"name": tool, "arguments": arguments})
    finally:
        client.close()


def challenge(reply: httpx.Response | httpx2.Response) -> dict[str, str]:
    """The auth-params of a `WWW-Authenticate: Bearer ...` header."""
    header = reply.headers["WWW-Authenticate"]
    assert header.startswith("Bearer"), header
    return dict(re.findall(r'([\w-]+)="([^"]*)"', header))


# --- SDK plumbing ---------------------------------------------------------------------------------------------------

@dataclass
class MemoryStorage:
    """The SDK's TokenStorage, in memory."""

    tokens: OAuthToken | None = None
    client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


@dataclass
class Browser:
    """Stands in for the user's browser: follows the authorization URL once and reads the redirect it gets."""

    visited: list[str] = field(default_factory=list)
    result: AuthorizationCodeResult | None = None

    async def redirect_handler(self, authorization_url: str) -> None:
        self.visited.append(authorization_url)
        async with httpx.AsyncClient(timeout=10) as http:
            approval = await http.get(authorization_url)  # no redirects followed: the Location is the answer
        assert approval.status_code == 302, approval.text
        query = parse_qs(urlsplit(approval.headers["Location"]).query)
        assert "error" not in query, query
        self.result = AuthorizationCodeResult(code=query["code"][0], state=query["state"][0], iss=query["iss"][0])

    async def callback_handler(self) -> AuthorizationCodeResult:
        assert self.result is not None, "the redirect handler ran no authorization"
        result, self.result = self.result, None
        return result


def recorder(replies: list[httpx2.Response]) -> dict[str, list[Any]]:
    async def keep(response: httpx2.Response) -> None:
        replies.append(response)

    return {"response": [keep]}


def sdk_client(url: str, era: str, auth: httpx2.Auth, replies: list[httpx2.Response]) -> tuple[Client, httpx2.AsyncClient]:
    http = httpx2.AsyncClient(auth=auth, event_hooks=recorder(replies), timeout=30)
    return Client(streamable_http_client(url, http_client=http), mode="legacy" if era == "legacy" else "auto"), http


@contextlib.asynccontextmanager
async def connected(url: str, era: str, auth: httpx2.Auth,
                    replies: list[httpx2.Response] | None = None) -> AsyncIterator[Client]:
    client, http = sdk_client(url, era, auth, replies if replies is not None else [])
    try:
        async with client:
            assert client.protocol_version == (MODERN if era == "modern" else LEGACY_REVISIONS[0])
            yield client
    finally:
        await http.aclose()


def journal_marks(authorization_server: LoopbackAuthorizationServer) -> tuple[int, int, int]:
    journal = authorization_server.journal
    return len(journal.registrations), len(journal.authorizations), len(journal.token_requests)


# --- 1. Client credentials with authlib ----------------------------------------------------------------------------

@pytest.mark.parametrize("era", ERAS)
def test_a_client_credentials_token_from_the_authorization_server_calls_a_tool(deployment: Deployment,
                                                                               era: str) -> None:
    token = client_credentials_token(deployment)
    [*_, asked] = deployment.authorization_server.journal.token_requests
    assert (asked.grant_type, asked.resource, asked.scope, asked.status) == \
        ("client_credentials", deployment.resource, "tools:call", 200)
    claims = claims_of(token)
    assert (claims["iss"], claims["aud"], claims["scope"]) == \
        (deployment.authorization_server.issuer, deployment.resource, "tools:call")
    assert {"sub", "exp", "iat", "jti", "client_id"} <= claims.keys()
    reply = call(deployment, era, bearer(token), "add", {"a": 2, "b": 3})
    assert reply.status_code == 200, reply.text
    assert reply.json()["result"]["structuredContent"] == {"result": 5}
    assert deployment.authorization_server.journal.jwks_fetches > 0  # the gateway got the keys over HTTP


def test_the_authorization_server_refuses_a_token_for_another_resource(deployment: Deployment) -> None:
    with pytest.raises(OAuthError) as refused:
        client_credentials_token(deployment, resource="http://127.0.0.1:1/elsewhere")
    assert refused.value.error == "invalid_target"
    assert deployment.authorization_server.journal.token_requests[-1].status == 400


def test_a_token_for_another_audience_is_401_at_the_gateway(deployment: Deployment) -> None:
    """Signed with the authorization server's own key: only the audience keeps it out."""
    claims = claims_of(client_credentials_token(deployment))
    key = deployment.authorization_server.signing_key
    same = key.compact(claims, {"typ": "at+jwt"})
    elsewhere = key.compact({**claims, "aud": "http://127.0.0.1:1/elsewhere"}, {"typ": "at+jwt"})
    assert call(deployment, "modern", bearer(same), "add", {"a": 1, "b": 1}).status_code == 200
    refused = call(deployment, "modern", bearer(elsewhere), "add", {"a": 1, "b": 1})
    assert refused.status_code == 401, refused.text
    assert challenge(refused) == {"resource_metadata": deployment.resource_metadata, "error": "invalid_token",
                                  "error_description": "wrong_audience"}


# --- 2. The SDK's OAuth discovery, from a bare 401 to a tool call ---------------------------------------------------

@pytest.mark.anyio
@pytest.mark.parametrize(("era", "auth_method"), [("modern", "none"), ("legacy", "client_secret_basic")],
                         ids=["modern-public-client", "legacy-confidential-client"])
async def test_the_sdk_discovers_registers_authorizes_and_calls(deployment: Deployment, era: str,
                                                                auth_method: str) -> None:
    authorization_server = deployment.authorization_server
    registrations, authorizations, token_requests = journal_marks(authorization_server)
    browser, storage, replies = Browser(), MemoryStorage(), list[httpx2.Response]()
    metadata = OAuthClientMetadata(redirect_uris=[REDIRECT_URI], client_name=f"sdk {era}",  # type: ignore[list-item]
                                   token_endpoint_auth_method=auth_method)  # type: ignore[arg-type]
    provider = OAuthClientProvider(deployment.gateway.url, metadata, storage, browser.redirect_handler,
                                   browser.callback_handler)
    async with connected(deployment.gateway.url, era, provider, replies) as client:
        result = await client.call_tool("add", {"a": 2, "b": 3})
        assert result.structured_content == {"result": 5}

    # The wire: our 401 named the metadata, and the SDK followed it to the authorization server.
    first = replies[0]
    assert (str(first.request.url), first.status_code) == (deployment.gateway.url, 401)
    assert challenge(first)["resource_metadata"] == deployment.resource_metadata
    steps = [(reply.request.method, str(reply.request.url), reply.status_code) for reply in replies[1:5]]
    assert steps == [("GET", deployment.resource_metadata, 200),
                     ("GET", f"{authorization_server.issuer}/.well-known/oauth-authorization-server", 200),
                     ("POST", deployment.endpoint("registration_endpoint"), 201),
                     ("POST", deployment.endpoint("token_endpoint"), 200)]
    assert (str(replies[5].request.url), replies[5].status_code) == (deployment.gateway.url, 200)
    # The authorization server: one registration, one PKCE S256 authorization for this resource, one exchange.
    journal = authorization_server.journal
    [registered] = journal.registrations[registrations:]
    assert registered.metadata["token_endpoint_auth_method"] == auth_method
    [authorized] = journal.authorizations[authorizations:]
    assert (authorized.client_id, authorized.code_challenge_method, authorized.resource) == \
        (registered.client_id, "S256", deployment.resource)
    assert set((authorized.scope or "").split()) == {"tools:call", "tools:admin"}  # the PRM's scopes_supported
    assert browser.visited and browser.visited[0].startswith(deployment.endpoint("authorization_endpoint"))
    [exchanged] = journal.token_requests[token_requests:]
    assert (exchanged.grant_type, exchanged.resource, exchanged.status) == \
        ("authorization_code", deployment.resource, 200)
    assert storage.tokens is not None and claims_of(storage.tokens.access_token)["aud"] == deployment.resource
    assert claims_of(storage.tokens.access_token)["sub"] == authorization_server.subject


# --- 3. The SDK's client-credentials extension ----------------------------------------------------------------------

@pytest.mark.anyio
@pytest.mark.parametrize("era", ERAS)
async def test_the_sdk_client_credentials_provider_calls_a_tool(deployment: Deployment, era: str) -> None:
    registered = deployment.register(grant_types=["client_credentials"], scope="tools:call",
                                     token_endpoint_auth_method="client_secret_post")
    _, _, token_requests = journal_marks(deployment.authorization_server)
    provider = ClientCredentialsOAuthProvider(deployment.gateway.url, MemoryStorage(), registered["client_id"],
                                              registered["client_secret"], "client_secret_post",
                                              issuer=deployment.authorization_server.issuer)
    async with connected(deployment.gateway.url, era, provider) as client:
        result = await client.call_tool("add", {"a": 2, "b": 3})
        assert result.structured_content == {"result": 5}
    [exchanged] = deployment.authorization_server.journal.token_requests[token_requests:]
    assert (exchanged.grant_type, exchanged.resource, exchanged.status) == \
        ("client_credentials", deployment.resource, 200)
    assert exchanged.body["scope"] == "tools:call"  # asked for the PRM's scopes, granted what it registered for


# --- 4. fastmcp with a bearer token ---------------------------------------------------------------------------------

@pytest.mark.anyio
@pytest.mark.parametrize("era", ERAS)
async def test_fastmcp_with_a_bearer_token_lists_and_calls(deployment: Deployment, era: str) -> None:
    token = client_credentials_token(deployment)
    client = FastMCPClient(StreamableHttpTransport(deployment.gateway.url, auth=token),
                           mode="legacy" if era == "legacy" else "auto")
    async with client:
        assert client.protocol_version == (MODERN if era == "modern" else LEGACY_REVISIONS[0])
        assert "add" in {tool.name for tool in await client.list_tools()}
        result = await client.call_tool("add", {"a": 2, "b": 3})
        assert result.structured_content == {"result": 5}


# --- Keys found through RFC 8414 metadata, and a rotation ----------------------------------------------------------

def test_keys_discovered_from_the_authorization_servers_metadata_follow_rotations(tmp_path: Path) -> None:
    with deployed(tmp_path, "{{discover: true, refetchSeconds: 1}}") as discovered:
        authorization_server = discovered.authorization_server

        def admitted(token: str) -> bool:
            return call(discovered, "modern", bearer(token), "add", {"a": 1, "b": 2}).status_code == 200

        first = client_credentials_token(discovered)
        assert wait_until(lambda: admitted(first), 15), discovered.gateway.log_text()
        # No OpenID document here: the gateway found the jwks_uri in the RFC 8414 metadata.
        assert authorization_server.journal.metadata_fetches > 0 and authorization_server.journal.jwks_fetches > 0
        authorization_server.rotate(keep_old=True)
        second = client_credentials_token(discovered)
        assert json.loads(base64.urlsafe_b64decode(second.split(".")[0] + "==="))["kid"] == "k2"
        assert wait_until(lambda: admitted(second), 15), discovered.gateway.log_text()
        assert admitted(first)  # the old key is still published
        authorization_server.rotate(keep_old=False)
        third = client_credentials_token(discovered)
        assert wait_until(lambda: admitted(third), 15), discovered.gateway.log_text()
        assert not admitted(first) and not admitted(second)  # refetched for k3: k1 and k2 are gone


def test_the_authorization_server_insists_on_pkce_s256_its_resource_and_single_use_codes() -> None:
    resource = "http://127.0.0.1:1/mcp"
    with LoopbackAuthorizationServer(resource) as authorization_server:
        client = authorization_server.register(redirect_uris=[REDIRECT_URI], grant_types=["authorization_code"],
                                               token_endpoint_auth_method="none")
        verifier = generate_token(64)
        request = {"response_type": "code", "client_id": client.client_id, "redirect_uri": REDIRECT_URI, "state": "s",
                   "scope": "tools:call", "resource": resource, "code_challenge_method": "S256",
                   "code_challenge": create_s256_code_challenge(verifier)}

        def authorize(**changes: str | None) -> dict[str, list[str]]:
            params = {name: value for name, value in {**request, **changes}.items() if value is not None}
            reply = httpx.get(f"{authorization_server.issuer}/authorize", params=params, timeout=10)
            assert reply.status_code == 302, reply.text
            return parse_qs(urlsplit(reply.headers["Location"]).query)

        assert authorize(code_challenge=None, code_challenge_method=None)["error"] == ["invalid_request"]
        assert authorize(code_challenge=verifier, code_challenge_method="plain")["error"] == ["invalid_request"]
        assert authorize(resource="http://127.0.0.1:2/mcp")["error"] == ["invalid_target"]
        [code] = authorize()["code"]

        def exchange(**changes: str) -> httpx.Response:
            form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
                    "client_id": client.client_id, "code_verifier": verifier, "resource": resource, **changes}
            return httpx.post(f"{authorization_server.issuer}/token", data=form, timeout=10)

        assert exchange(code_verifier=generate_token(64)).json()["error"] == "invalid_grant"
        assert exchange(resource="http://127.0.0.1:2/mcp").json()["error"] == "invalid_target"
        assert exchange().status_code == 200
        assert exchange().json()["error"] == "invalid_grant"  # a code is good once


# --- Introspection of opaque tokens (the server side of a later gateway feature) -----------------------------------

def test_opaque_tokens_are_known_only_to_introspection() -> None:
    resource = "http://127.0.0.1:1/mcp"
    with LoopbackAuthorizationServer(resource, opaque_tokens=True) as authorization_server:
        client = authorization_server.register(grant_types=["client_credentials"])
        issued = httpx.post(f"{authorization_server.issuer}/token", auth=(client.client_id, client.client_secret or ""),
                            data={"grant_type": "client_credentials", "scope": "tools:call", "resource": resource})
        assert issued.status_code == 200, issued.text
        token = issued.json()["access_token"]
        assert token.count(".") == 0
        rs = authorization_server.resource_server
        introspect = f"{authorization_server.issuer}/introspect"
        known = httpx.post(introspect, data={"token": token}, auth=(rs.client_id, rs.client_secret or ""))
        assert known.status_code == 200
        assert {key: known.json()[key] for key in ("active", "aud", "scope", "client_id", "iss")} == {
            "active": True, "aud": resource, "scope": "tools:call", "client_id": client.client_id,
            "iss": authorization_server.issuer}
        unknown = httpx.post(introspect, data={"token": "nonsense"}, auth=(rs.client_id, rs.client_secret or ""))
        assert unknown.json() == {"active": False}
        # Only the resource server may ask; the token's own client may not.
        assert httpx.post(introspect, data={"token": token},
                          auth=(client.client_id, client.client_secret or "")).status_code == 401
        assert httpx.post(introspect, data={"token": token}).status_code == 401
        assert [seen.active for seen in authorization_server.journal.introspections] == [True, False, None, None]


# --- 5. The scope challenge -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("era", ERAS)
def test_a_token_lacking_only_a_scope_sees_the_tool_and_is_challenged_for_it(deployment: Deployment,
                                                                              era: str) -> None:
    token = client_credentials_token(deployment, scope="tools:call")
    client = wire(deployment, era, bearer(token))
    try:
        listed = client.result("tools/list", {})
        assert {tool["name"] for tool in listed["tools"]} == {"add", "word_count", "reverse_words"}
        refused = client.request("tools/call", {"name": "reverse_words", "arguments": {"text": "a b"}})
    finally:
        client.close()
    assert refused.status_code == 403, refused.text
    assert challenge(refused) | {"error_description": ""} == {
        "resource_metadata": deployment.resource_metadata, "error": "insufficient_scope", "scope": "tools:admin",
        "error_description": ""}
    error = refused.json()["error"]
    assert (error["code"], error["message"]) == (-32003, "Forbidden: insufficient_scope")


@pytest.mark.parametrize("caller", ["token-denied-by-an-argument-rule", "token-that-no-scope-would-help",
                                    "api-key-denied-by-an-argument-rule"])
def test_a_refusal_that_no_scope_would_change_carries_no_scope_challenge(deployment: Deployment,
                                                                          caller: str) -> None:
    if caller.startswith("api-key"):
        headers, tool = {"Authorization": f"Bearer {OPS_KEY}"}, "word_count"
    else:
        headers = bearer(client_credentials_token(deployment, scope="tools:call"))
        tool = "word_count" if "argument" in caller else "reverse_words"  # reverse_words: even tools:admin is denied
    refused = call(deployment, "modern", headers, tool, {"text": "top secret words"})
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["message"] == "Forbidden: denied_by_rule"
    assert "insufficient_scope" not in refused.headers.get("WWW-Authenticate", "")
    assert "scope=" not in refused.headers.get("WWW-Authenticate", "")


@pytest.mark.anyio
@pytest.mark.parametrize("era", ERAS)
async def test_the_sdk_steps_up_to_the_union_of_scopes_and_retries(deployment: Deployment, era: str) -> None:
    """A stored tools:call token (as after an earlier run): the 403 sends the SDK back to authorize for more."""
    registered = deployment.register(redirect_uris=[REDIRECT_URI], grant_types=["authorization_code", "refresh_token"],
                                     token_endpoint_auth_method="client_secret_post", client_name=f"step-up {era}")
    narrow = authorization_code_token(deployment, registered, "tools:call")
    assert narrow["scope"] == "tools:call"
    storage = MemoryStorage(OAuthToken.model_validate({key: narrow[key] for key in
                                                        ("access_token", "expires_in", "scope", "refresh_token")}),
                            OAuthClientInformationFull.model_validate(registered))
    _, authorizations, token_requests = journal_marks(deployment.authorization_server)
    browser, replies = Browser(), list[httpx2.Response]()
    metadata = OAuthClientMetadata(redirect_uris=[REDIRECT_URI])  # type: ignore[list-item]
    provider = OAuthClientProvider(deployment.gateway.url, metadata, storage, browser.redirect_handler,
                                   browser.callback_handler)
    async with connected(deployment.gateway.url, era, provider, replies) as client:
        assert "reverse_words" in {tool.name for tool in (await client.list_tools()).tools}
        assert (await client.call_tool("add", {"a": 2, "b": 3})).structured_content == {"result": 5}
        assert len(deployment.authorization_server.journal.authorizations) == authorizations  # no step-up yet
        reversed_words = await client.call_tool("reverse_words", {"text": "a b"})
        assert reversed_words.content[0].text == "b a"  # type: ignore[union-attr]
    [challenged] = [reply for reply in replies if reply.status_code == 403]
    assert challenge(challenged)["scope"] == "tools:admin"
    [stepped_up] = deployment.authorization_server.journal.authorizations[authorizations:]
    assert (stepped_up.client_id, stepped_up.code_challenge_method, stepped_up.resource) == \
        (registered["client_id"], "S256", deployment.resource)
    assert set((stepped_up.scope or "").split()) == {"tools:call", "tools:admin"}
    [exchanged] = deployment.authorization_server.journal.token_requests[token_requests:]
    assert (exchanged.grant_type, exchanged.status) == ("authorization_code", 200)
    assert storage.tokens is not None and set(claims_of(storage.tokens.access_token)["scope"].split()) == \
        {"tools:call", "tools:admin"}


@pytest.mark.anyio
async def test_a_step_up_the_authorization_server_will_not_grant_leaves_the_call_refused(
        deployment: Deployment) -> None:
    """A client registered for tools:call only: re-authorization grants no more, and the call stays refused."""
    registered = deployment.register(grant_types=["client_credentials"], scope="tools:call",
                                     token_endpoint_auth_method="client_secret_basic")
    _, _, token_requests = journal_marks(deployment.authorization_server)
    provider = ClientCredentialsOAuthProvider(deployment.gateway.url, MemoryStorage(), registered["client_id"],
                                              registered["client_secret"], issuer=deployment.authorization_server.issuer)
    async with connected(deployment.gateway.url, "modern", provider) as client:
        with pytest.raises(MCPError) as refused:
            await client.call_tool("reverse_words", {"text": "a b"})
    assert refused.value.message == "Forbidden: insufficient_scope"
    # Asked once on the 401 and once more on the 403, for the union; granted tools:call both times.
    asked = deployment.authorization_server.journal.token_requests[token_requests:]
    assert [(request.grant_type, request.body["scope"]) for request in asked] == \
        [("client_credentials", "tools:call")] * 2
    assert set((asked[1].scope or "").split()) == {"tools:call", "tools:admin"}
