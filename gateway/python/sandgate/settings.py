"""Server settings: validated once at construction, immutable afterwards."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from sandgate.errors import ConfigError, describe_validation_error
from sandgate.sandbox.limits import parse_size

KIB = 1024
MIB = 1024 * KIB

Port = Annotated[int, Field(ge=0, le=65535)]
PositiveSeconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class ServerSettings(BaseModel):
    """Network, limits and session settings handed to the native core."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = Field("127.0.0.1", min_length=1)
    port: Port = 8000
    io_threads: int = Field(0, ge=0, le=1024, description="0 uses one thread per core")
    python_workers: int = Field(4, ge=1, le=1024)
    max_body_bytes: int = Field(4 * MIB, ge=1 * KIB, le=1024 * MIB)
    max_header_bytes: int = Field(16 * KIB, ge=1 * KIB, le=1 * MIB)
    max_header_fields: int = Field(100, ge=8, le=10_000)
    read_timeout_s: PositiveSeconds = 30.0
    idle_timeout_s: PositiveSeconds = 120.0
    allowed_origins: tuple[str, ...] = Field(
        (), description="Origins accepted besides loopback ones; empty means loopback only"
    )
    response_mode: Literal["json", "sse"] = "json"
    page_size: int = Field(100, ge=1, le=10_000)
    shutdown_grace_s: PositiveSeconds = 10.0
    session_idle_timeout_s: PositiveSeconds = 3600.0
    max_sessions: int = Field(10_000, ge=1, le=10_000_000)
    max_rate_limit_keys: int = Field(100_000, ge=16, le=100_000_000,
                                     description="rate-limit buckets remembered; the least recently used go first")
    max_cached_tokens: int = Field(10_000, ge=0, le=10_000_000,
                                   description="verified bearer tokens remembered until their exp; 0 verifies each time")
    max_token_bytes: int = Field(8 * KIB, ge=512, le=64 * KIB,
                                 description="a longer bearer token is refused before it is decoded")
    audit_log: str | None = Field(None, description="append one JSON line per call and refusal to this file "
                                                     "(reopened on SIGHUP), or '-' for stdout (HTTP only); None: off")
    max_audit_queued_lines: int = Field(10_000, ge=1, le=10_000_000,
                                        description="audit lines waiting for the writer; more are dropped and counted")
    metrics: bool = Field(True, description="serve Prometheus metrics on a port of their own (HTTP transport)")
    metrics_host: str = Field("127.0.0.1", description="address the metrics port binds")
    metrics_port: int = Field(9464, ge=0, le=65_535, description="the metrics port; 0 picks a free one")
    max_pending_introspections: int = Field(1024, ge=1, le=1_000_000,
                                            description="requests waiting for an opaque token's introspection; "
                                                        "more are answered 503")
    max_introspections_per_client: int = Field(16, ge=1, le=100_000,
                                               description="opaque tokens one client address may have being asked "
                                                           "about at once; more are answered 503")
    max_connections: int = Field(10_000, ge=1, le=1_000_000)
    stream_keepalive_s: PositiveSeconds = Field(15.0, description="SSE comment interval on idle streams")
    max_progress_notifications: int = Field(
        1000, ge=0, le=1_000_000,
        description="notifications/progress forwarded per call; later ones are dropped and counted",
    )
    max_progress_bytes: int = Field(
        16 * KIB, ge=256, le=1 * MIB,
        description="largest notifications/progress params (JSON); larger ones are dropped and counted",
    )
    max_log_notifications: int = Field(
        1000, ge=0, le=1_000_000,
        description="notifications/message (a handler's log messages to its client) forwarded per call; "
                    "later ones are dropped and counted",
    )
    max_log_bytes: int = Field(
        16 * KIB, ge=256, le=1 * MIB,
        description="largest notifications/message params (JSON); larger ones are dropped and counted",
    )
    max_client_requests_pending: int = Field(
        10_000, ge=1, le=1_000_000,
        description="requests calls sent their clients (sampling, elicitation, roots) waiting for an answer; "
                    "more are refused to the call",
    )
    max_client_requests_per_call: int = Field(
        100, ge=0, le=100_000, description="requests one call may send its client",
    )
    max_client_request_bytes: int = Field(
        1 * MIB, ge=1024, le=64 * MIB, description="largest params of a request a call sends its client (JSON)",
    )
    request_state_ttl_s: int = Field(
        300, ge=1, le=86_400,
        description="how long a 2026-07-28 input_required result's requestState may be echoed back; the key "
                    "is SANDGATE_REQUEST_STATE_KEY (64 hex digits, shared by replicas), else random per start",
    )
    client_wait_s: PositiveSeconds = Field(
        300.0, description="how long a call waits for its client's answer (its wall time keeps running)",
    )
    max_resource_subscriptions: int = Field(
        100, ge=0, le=100_000,
        description="resource URIs one session (resources/subscribe) or listen stream (subscriptions/listen) "
                    "may subscribe to; more are refused",
    )
    max_subscription_uri_bytes: int = Field(
        2 * KIB, ge=64, le=64 * KIB, description="longest resource URI a client may subscribe to or a call announce",
    )
    max_listen_streams: int = Field(
        10_000, ge=1, le=1_000_000, description="2026-07-28 subscriptions/listen streams open at once; more are 503",
    )
    max_stream_backlog: int = Field(
        1000, ge=1, le=1_000_000,
        description="announcements waiting to be written on one session's GET stream; more are dropped and counted",
    )
    max_announcements_per_call: int = Field(
        100, ge=0, le=100_000,
        description="resource updates and list changes one call may announce; later ones are dropped and counted",
    )
    max_json_depth: int = Field(
        160, ge=8, le=192,
        description="deepest nesting of arrays and objects in one JSON-RPC message, envelope included "
                    "(a tool argument sits 3 levels down); Python's JSON parser stops near 200",
    )
    max_json_string_bytes: int = Field(
        4 * MIB, ge=1 * KIB, le=1024 * MIB, description="longest string or key in a message, unescaped",
    )
    max_json_members: int = Field(
        100_000, ge=16, le=10_000_000, description="most members of one object or elements of one array",
    )
    max_session_workers: int = Field(
        64, ge=1, le=65_536,
        description="per_session workers alive at once; beyond this, calls of new sessions run per_call",
    )
    call_uid_base: int = Field(
        200_000, ge=1_000, le=2**31 - 1 - 1_024,
        description="a root gateway's calls run as call_uid_base + slot, one uid per concurrent call "
                    "(1,024 slots): give each gateway on a machine its own range",
    )
    prespawn_idle_s: PositiveSeconds = Field(
        60.0, le=86_400, description="a child forked ahead of demand that waits longer is killed and replaced",
    )
    import_timeout_s: PositiveSeconds = Field(
        30.0, le=3_600, description="how long the sandboxed import of a served module may take",
    )
    import_memory: Annotated[int, BeforeValidator(parse_size)] = Field(
        1024 * MIB, ge=64 * MIB, le=1024 * 1024 * MIB,
        description="address space the sandboxed import of a served module may use",
    )
    prespawned_children: int = Field(
        2, ge=0, le=64,
        description="sandboxed children kept forked and contained ahead of demand, per distinct set of limits",
    )

    @field_validator("allowed_origins")
    @classmethod
    def _origins_are_absolute(cls, origins: tuple[str, ...]) -> tuple[str, ...]:
        for origin in origins:
            if origin != "*" and "://" not in origin:
                raise ValueError(f"origin {origin!r} must look like scheme://host[:port] or be '*'")
        return origins

    @field_validator("host")
    @classmethod
    def _host_has_no_scheme(cls, host: str) -> str:
        if "/" in host or host != host.strip():
            raise ValueError(f"host {host!r} must be a bare address or name, no scheme or path")
        return host


def build_settings(base: ServerSettings | None = None, **overrides: Any) -> ServerSettings:
    """Settings from `base` with `overrides` applied, raising ConfigError when invalid."""
    values = base.model_dump() if base is not None else {}
    values.update(overrides)
    try:
        return ServerSettings.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(f"Invalid server settings: {describe_validation_error(exc)}") from exc

