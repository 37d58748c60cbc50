"""A loopback OAuth 2.1 authorization server for tests, built on authlib and Flask.

It serves RFC 8414 metadata, RFC 7591 dynamic registration, the authorization-code grant with PKCE S256 required
(auto-approved: no UI, straight back to the redirect URI), client-credentials and refresh-token grants, RFC 9068 JWT
access tokens (or opaque ones) whose `aud` is the RFC 8707 `resource`, a JWKS, and RFC 7662 introspection for one
pre-registered resource-server client. Everything it is asked is recorded for tests to assert.
"""

from __future__ import annotations

import secrets
import threading
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from authlib.common.security import generate_token
from authlib.integrations.flask_oauth2 import AuthorizationServer as FlaskAuthorizationServer
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import (
    AuthorizationCodeMixin,
    ClientMixin,
    InvalidRequestError,
    TokenMixin,
    grants,
    list_to_scope,
    scope_to_list,
)
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7591 import ClientRegistrationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from authlib.oauth2.rfc9207 import IssuerParameter
from flask import Flask, Response, jsonify, request
from joserfc.jwk import ECKey, KeyParameters, KeySet, OKPKey, RSAKey
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from sandgate.tokens import SigningKey

SCOPES = ["tools:call", "tools:admin"]
TOKEN_TTL_S = 3600
CODE_TTL_S = 300
SECRET_METHODS = ("client_secret_basic", "client_secret_post")
KEY_TYPES: dict[str, type[RSAKey] | type[ECKey] | type[OKPKey]] = {"RS256": RSAKey, "PS256": RSAKey, "ES256": ECKey,
                                                                   "EdDSA": OKPKey}

# The RFC 8707 audience of the token being issued: authlib's token generators are not handed the request.
_audience: ContextVar[str] = ContextVar("audience")


class InvalidTargetError(OAuth2Error):  # type: ignore[misc]
    """RFC 8707 §2: a resource this server does not issue tokens for."""

    error = "invalid_target"


# --- What the server was asked, for tests to assert ---------------------------------------------------------------

@dataclass(frozen=True)
class Registration:
    client_id: str
    metadata: dict[str, Any]


@dataclass(frozen=True)
class AuthorizeRequest:
    client_id: str | None
    scope: str | None
    resource: str | None
    code_challenge_method: str | None
    redirect_uri: str | None
    status: int  # 302 either way; an error rides in the Location
    location: str


@dataclass(frozen=True)
class TokenRequest:
    grant_type: str | None
    scope: str | None
    resource: str | None
    status: int
    body: dict[str, Any]


@dataclass(frozen=True)
class IntrospectionRequest:
    client_id: str | None
    active: bool | None
    status: int


@dataclass
class Journal:
    registrations: list[Registration] = field(default_factory=list)
    authorizations: list[AuthorizeRequest] = field(default_factory=list)
    token_requests: list[TokenRequest] = field(default_factory=list)
    introspections: list[IntrospectionRequest] = field(default_factory=list)
    jwks_fetches: int = 0
    metadata_fetches: int = 0


# --- In-memory models (authlib's mixins) --------------------------------------------------------------------------

@dataclass
class ResourceOwner:
    """The one user who approves every authorization request."""

    subject: str

    def get_user_id(self) -> str:
        return self.subject


@dataclass
class Client(ClientMixin):  # type: ignore[misc]
    client_id: str
    client_secret: str | None
    metadata: dict[str, Any]
    scopes_supported: list[str]
    introspects: bool = False  # the resource server: may call /introspect, nothing else

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        uris = self.metadata.get("redirect_uris") or []
        return uris[0] if len(uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str:
        # Down-scope to what the client registered for (all scopes when it named none).
        allowed = set(scope_to_list(self.metadata.get("scope")) or self.scopes_supported)
        return list_to_scope([s for s in scope_to_list(scope) or [] if s in allowed]) or ""

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in (self.metadata.get("redirect_uris") or [])

    def check_client_secret(self, client_secret: str) -> bool:
        return self.client_secret is not None and secrets.compare_digest(self.client_secret, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if endpoint == "introspection":
            return self.introspects and method in SECRET_METHODS
        return not self.introspects and method == self.metadata.get("token_endpoint_auth_method", "client_secret_basic")

    def check_response_type(self, response_type: str) -> bool:
        return response_type in self.metadata.get("response_types", ["code"])

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.metadata.get("grant_types", ["authorization_code"])


@dataclass
class AuthorizationCode(AuthorizationCodeMixin):  # type: ignore[misc]
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    resource: str
    subject: str
    code_challenge: str
    code_challenge_method: str
    expires_at: float

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass
class Token(TokenMixin):  # type: ignore[misc]
    access_token: str
    refresh_token: str | None
    client_id: str
    scope: str
    resource: str
    subject: str
    issued_at: int
    expires_in: int
    revoked: bool = False
    refresh_used: bool = False  # rotation: a refresh token is good once

    def check_client(self, client: Client) -> bool:
        return client.client_id == self.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return self.expires_in

    def is_expired(self) -> bool:
        return time.time() >= self.issued_at + self.expires_in

    def is_revoked(self) -> bool:
        return self.revoked


class Store:
    """Clients, codes and tokens, in memory; the lock because werkzeug serves each request on its own thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, AuthorizationCode] = {}
        self.tokens: list[Token] = []

    def add_client(self, client: Client) -> Client:
        with self.lock:
            self.clients[client.client_id] = client
        return client

    def find_code(self, code: str, client_id: str) -> AuthorizationCode | None:
        with self.lock:
            found = self.codes.get(code)
            if found is None or found.client_id != client_id or found.expires_at < time.time():
                return None
            return found

    def find_token(self, *, access: str | None = None, refresh: str | None = None) -> Token | None:
        with self.lock:
            for token in self.tokens:
                if (access is not None and token.access_token == access) or \
                        (refresh is not None and token.refresh_token == refresh):
                    return token
        return None


# --- Keys and token formats ----------------------------------------------------------------------------------------

class Keys:
    """The signing key and the JWKS published: rotation adds a new signer and keeps or drops the old ones."""

    def __init__(self, alg: str = "RS256") -> None:
        self.alg = alg
        self.generation = 1
        self.current = SigningKey.generate("k1", alg)
        self.published: list[SigningKey] = [self.current]

    def rotate(self, keep_old: bool = True) -> SigningKey:
        self.generation += 1
        self.current = SigningKey.generate(f"k{self.generation}", self.alg)
        self.published = [self.current, *(self.published if keep_old else [])]
        return self.current

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.jwk() for key in self.published]}

    def signer(self) -> KeySet:
        # One private key in the set, so joserfc names its kid in the header (the gateway selects keys by kid).
        parameters: KeyParameters = {"kid": self.current.kid, "alg": self.alg, "use": "sig"}
        return KeySet([KEY_TYPES[self.alg].import_key(self.current.pem(), parameters)])


def _expires_in(client: Client, grant_type: str) -> int:
    return TOKEN_TTL_S


def _refresh_token(**_: Any) -> str:
    return str(generate_token(48))


class JwtAccessTokens(JWTBearerTokenGenerator):  # type: ignore[misc]
    """RFC 9068 access tokens signed with the current key, `aud` the resource the grant was bound to."""

    def __init__(self, issuer: str, keys: Keys) -> None:
        super().__init__(issuer, alg=keys.alg, refresh_token_generator=_refresh_token, expires_generator=_expires_in)
        self.keys = keys

    def get_jwks(self) -> KeySet:
        return self.keys.signer()

    def get_audiences(self, client: Client, user: Any, scope: str) -> str:
        return _audience.get()


def opaque_access_tokens() -> BearerTokenGenerator:
    """Random strings that only introspection can explain."""
    return BearerTokenGenerator(lambda **_: generate_token(42), _refresh_token, _expires_in)


# --- Grant extensions ----------------------------------------------------------------------------------------------

class S256Required(CodeChallenge):  # type: ignore[misc]
    """PKCE as OAuth 2.1 wants it: every authorization request carries an S256 challenge."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge") or data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE with code_challenge_method=S256 is required")
        super().validate_code_challenge(grant, redirect_uri)


class ResourceIndicator:
    """RFC 8707: the one resource this server serves; a code or refresh token stays bound to its resource."""

    def __init__(self, resource: str) -> None:
        self.resource = resource

    def __call__(self, grant: Any) -> None:
        grant.register_hook("after_validate_authorization_request_payload", self.at_authorization)
        grant.register_hook("before_create_token_response", self.at_token)

    def requested(self, oauth_request: Any) -> list[str]:
        return list(oauth_request.payload.datalist.get("resource", []))

    def at_authorization(self, grant: Any, redirect_uri: str) -> None:
        if any(resource != self.resource for resource in self.requested(grant.request)):
            raise InvalidTargetError(f"this server issues tokens for {self.resource} only")
        grant.request.resource = self.resource

    def at_token(self, grant: Any) -> None:
        bound = getattr(grant.request, "authorization_code", None) or getattr(grant.request, "refresh_token", None)
        resource = bound.resource if bound is not None else self.resource
        if any(requested != resource for requested in self.requested(grant.request)):
            raise InvalidTargetError(f"the grant is for {resource} only")
        grant.request.resource = resource
        _audience.set(resource)


# --- Grants and endpoints ------------------------------------------------------------------------------------------

class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
    store: Store  # set on the subclass each server makes

    def save_authorization_code(self, code: str, oauth_request: Any) -> None:
        data = oauth_request.payload.data
        with self.store.lock:
            self.store.codes[code] = AuthorizationCode(
                code=code, client_id=oauth_request.client.client_id, redirect_uri=oauth_request.payload.redirect_uri,
                scope=oauth_request.scope, resource=oauth_request.resource, subject=oauth_request.user.subject,
                code_challenge=data["code_challenge"], code_challenge_method=data["code_challenge_method"],
                expires_at=time.time() + CODE_TTL_S)

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
        return self.store.find_code(code, client.client_id)

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        with self.store.lock:
            self.store.codes.pop(authorization_code.code, None)  # single use

    def authenticate_user(self, authorization_code: AuthorizationCode) -> ResourceOwner:
        return ResourceOwner(authorization_code.subject)


class ClientCredentialsGrant(grants.ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = list(SECRET_METHODS)


class RefreshTokenGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotated, as OAuth 2.1 asks of public clients
    store: Store

    def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
        token = self.store.find_token(refresh=refresh_token)
        return token if token is not None and not token.refresh_used else None

    def authenticate_user(self, refresh_token: Token) -> ResourceOwner:
        return ResourceOwner(refresh_token.subject)

    def revoke_old_credential(self, refresh_token: Token) -> None:
        refresh_token.refresh_used = True


class Registrations(ClientRegistrationEndpoint):  # type: ignore[misc]
    """Open registration: anyone may register, as MCP clients do on first contact."""

    def __init__(self, owner: LoopbackAuthorizationServer) -> None:
        super().__init__()
        self.owner = owner

    def authenticate_token(self, oauth_request: Any) -> bool:
        return True

    def get_server_metadata(self) -> dict[str, Any]:
        return self.owner.metadata()

    def generate_client_info(self, oauth_request: Any) -> dict[str, Any]:
        info: dict[str, Any] = super().generate_client_info(oauth_request)
        if (oauth_request.payload.data or {}).get("token_endpoint_auth_method") == "none":
            del info["client_secret"], info["client_secret_expires_at"]  # a public client gets no secret
        return info

    def save_client(self, client_info: dict[str, Any], client_metadata: dict[str, Any], oauth_request: Any) -> Client:
        client = Client(client_info["client_id"], client_info.get("client_secret"), dict(client_metadata),
                        self.owner.scopes)
        self.owner.journal.registrations.append(Registration(client.client_id, dict(client_metadata)))
        return self.owner.store.add_client(client)


class Introspection(IntrospectionEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = list(SECRET_METHODS)

    def __init__(self, owner: LoopbackAuthorizationServer) -> None:
        super().__init__()
        self.owner = owner

    def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
        if token_type_hint == "refresh_token":
            return self.owner.store.find_token(refresh=token_string)
        return self.owner.store.find_token(access=token_string)

    def check_permission(self, token: Token, client: Client, oauth_request: Any) -> bool:
        return client.introspects

    def introspect_token(self, token: Token) -> dict[str, Any]:
        return {"active": True, "iss": self.owner.issuer, "client_id": token.client_id, "scope": token.scope,
                "sub": token.subject, "aud": token.resource, "iat": token.issued_at,
                "exp": token.issued_at + token.expires_in, "token_type": "Bearer"}


class QuietHandler(WSGIRequestHandler):
    """No access log on the test's stderr."""

    def log_request(self, *args: Any) -> None:
        pass


# --- The server ----------------------------------------------------------------------------------------------------

class LoopbackAuthorizationServer:
    """`with LoopbackAuthorizationServer(resource) as authorization_server:` serves at `.issuer` until the block ends."""

    def __init__(self, resource: str, *, scopes: list[str] | None = None, subject: str = "alice",
                 opaque_tokens: bool = False, alg: str = "RS256") -> None:
        self.resource = resource
        self.scopes = list(scopes or SCOPES)
        self.subject = subject
        self.opaque_tokens = opaque_tokens
        self.keys = Keys(alg)
        self.store = Store()
        self.journal = Journal()
        self.app = Flask(__name__)
        self.http: BaseWSGIServer = make_server("127.0.0.1", 0, self.app, threaded=True,
                                                    request_handler=QuietHandler)
        self.issuer = f"http://127.0.0.1:{self.http.server_port}"
        self._thread: threading.Thread | None = None
        # The introspecting resource server, registered out of band as a real deployment would.
        self.resource_server = self.store.add_client(Client(
            "resource-server", secrets.token_urlsafe(24), {"token_endpoint_auth_method": "client_secret_basic",
                                                           "grant_types": []}, self.scopes, introspects=True))
        self.server = self._authorization_server()
        self._routes()
        AuthorizationServerMetadata(self.metadata()).validate()

    # Lifecycle

    def start(self) -> LoopbackAuthorizationServer:
        self._thread = threading.Thread(target=self.http.serve_forever, name="authorization-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.http.shutdown()
        self.http.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> LoopbackAuthorizationServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # What tests use

    @property
    def signing_key(self) -> SigningKey:
        return self.keys.current

    def rotate(self, keep_old: bool = True) -> SigningKey:
        return self.keys.rotate(keep_old)

    def register(self, **metadata: Any) -> Client:
        """A client registered out of band (what /register would make), secret included."""
        client_id = generate_token(24)
        secret = None if metadata.get("token_endpoint_auth_method") == "none" else secrets.token_urlsafe(24)
        metadata.setdefault("token_endpoint_auth_method", "client_secret_basic")
        return self.store.add_client(Client(client_id, secret, metadata, self.scopes))

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "registration_endpoint": f"{self.issuer}/register",
            "jwks_uri": f"{self.issuer}/jwks",
            "introspection_endpoint": f"{self.issuer}/introspect",
            "scopes_supported": self.scopes,
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "introspection_endpoint_auth_methods_supported": list(SECRET_METHODS),
            "authorization_response_iss_parameter_supported": True,
        }

    # Wiring

    def _authorization_server(self) -> FlaskAuthorizationServer:
        store = self.store

        def save_token(token: dict[str, Any], oauth_request: Any) -> None:
            user = oauth_request.user
            with store.lock:
                store.tokens.append(Token(
                    access_token=token["access_token"], refresh_token=token.get("refresh_token"),
                    client_id=oauth_request.client.client_id, scope=token.get("scope", ""),
                    resource=oauth_request.resource, subject=user.subject if user else oauth_request.client.client_id,
                    issued_at=int(time.time()), expires_in=token["expires_in"]))

        def query_client(client_id: str) -> Client | None:
            return store.clients.get(client_id)

        self.app.config["OAUTH2_SCOPES_SUPPORTED"] = self.scopes
        server = FlaskAuthorizationServer(self.app, query_client=query_client, save_token=save_token)
        generator = opaque_access_tokens() if self.opaque_tokens else JwtAccessTokens(self.issuer, self.keys)
        server.register_token_generator("default", generator)
        issuer = self.issuer

        class Issuer(IssuerParameter):  # type: ignore[misc]
            def get_issuer(self) -> str:
                return issuer

        server.register_extension(Issuer())
        resource = ResourceIndicator(self.resource)
        code_grant = type("CodeGrant", (AuthorizationCodeGrant,), {"store": store})
        refresh_grant = type("RefreshGrant", (RefreshTokenGrant,), {"store": store})
        server.register_grant(code_grant, [S256Required(required=True), resource])
        server.register_grant(ClientCredentialsGrant, [resource])
        server.register_grant(refresh_grant, [resource])
        server.register_endpoint(Registrations(self))
        server.register_endpoint(Introspection(self))
        return server

    def _routes(self) -> None:
        app, server, journal = self.app, self.server, self.journal

        @app.get("/.well-known/oauth-authorization-server")
        def metadata() -> Response:
            journal.metadata_fetches += 1
            return jsonify(self.metadata())

        @app.get("/jwks")
        def jwks() -> Response:
            journal.jwks_fetches += 1
            return jsonify(self.keys.jwks())

        @app.post("/register")
        def register() -> Response:
            return server.create_endpoint_response("client_registration")  # type: ignore[no-any-return]

        @app.get("/authorize")
        def authorize() -> Response:
            owner = ResourceOwner(self.subject)
            try:
                grant = server.get_consent_grant(end_user=owner)
                reply: Response = server.create_authorization_response(grant_user=owner, grant=grant)
            except OAuth2Error as error:
                reply = server.handle_error_response(None, error)
            args = request.args
            journal.authorizations.append(AuthorizeRequest(
                args.get("client_id"), args.get("scope"), args.get("resource"), args.get("code_challenge_method"),
                args.get("redirect_uri"), reply.status_code, reply.headers.get("Location", "")))
            return reply

        @app.post("/token")
        def token() -> Response:
            reply: Response = server.create_token_response()
            form = request.form
            journal.token_requests.append(TokenRequest(form.get("grant_type"), form.get("scope"), form.get("resource"),
                                                       reply.status_code, reply.get_json(silent=True) or {}))
            return reply

        @app.post("/introspect")
        def introspect() -> Response:
            reply: Response = server.create_endpoint_response(IntrospectionEndpoint.ENDPOINT_NAME)
            body = reply.get_json(silent=True) or {}
            client = getattr(request, "authorization", None)
            journal.introspections.append(IntrospectionRequest(
                client.username if client else request.form.get("client_id"), body.get("active"), reply.status_code))
            return reply
