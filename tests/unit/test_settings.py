"""ServerSettings validation and how run() overrides it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sandgate import ConfigError, MCPServer, ServerSettings, serve


def test_defaults():
    settings = ServerSettings()
    assert settings.model_dump() == {
        "host": "127.0.0.1",
        "port": 8000,
        "io_threads": 0,
        "python_workers": 4,
        "max_body_bytes": 4 * 1024 * 1024,
        "max_header_bytes": 16 * 1024,
        "max_header_fields": 100,
        "read_timeout_s": 30.0,
        "idle_timeout_s": 120.0,
        "allowed_origins": (),
        "response_mode": "json",
        "page_size": 100,
        "shutdown_grace_s": 10.0,
        "session_idle_timeout_s": 3600.0,
        "max_sessions": 10000,
        "max_rate_limit_keys": 100_000,
        "max_cached_tokens": 10_000,
        "max_token_bytes": 8 * 1024,
        "audit_log": None,
        "max_audit_queued_lines": 10_000,
        "metrics": True,
        "metrics_host": "127.0.0.1",
        "metrics_port": 9464,
        "max_pending_introspections": 1024,
        "max_introspections_per_client": 16,
        "max_connections": 10000,
        "stream_keepalive_s": 15.0,
        "max_progress_notifications": 1000,
        "max_progress_bytes": 16 * 1024,
        "max_log_notifications": 1000,
        "max_log_bytes": 16 * 1024,
        "max_client_requests_pending": 10_000,
        "max_client_requests_per_call": 100,
        "max_client_request_bytes": 1024 * 1024,
        "request_state_ttl_s": 300,
        "client_wait_s": 300.0,
        "max_resource_subscriptions": 100,
        "max_subscription_uri_bytes": 2048,
        "max_listen_streams": 10_000,
        "max_stream_backlog": 1000,
        "max_announcements_per_call": 100,
        "max_json_depth": 160,
        "max_json_string_bytes": 4 * 1024 * 1024,
        "max_json_members": 100_000,
        "max_session_workers": 64,
        "call_uid_base": 200_000,
        "prespawned_children": 2,
        "prespawn_idle_s": 60.0,
        "import_timeout_s": 30.0,
        "import_memory": 1024**3,
    }


def test_settings_are_frozen():
    with pytest.raises(ValidationError):
        ServerSettings().port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("port", -1),
        ("port", 65536),
        ("python_workers", 0),
        ("io_threads", -1),
        ("max_body_bytes", 0),
        ("max_header_bytes", 100),
        ("max_header_fields", 7),
        ("read_timeout_s", 0),
        ("idle_timeout_s", float("inf")),
        ("response_mode", "xml"),
        ("page_size", 0),
        ("max_sessions", 0),
        ("max_rate_limit_keys", 15),
        ("prespawned_children", -1),
        ("call_uid_base", 0),
        ("call_uid_base", 2**31),
        ("prespawned_children", 65),
        ("max_progress_notifications", -1),
        ("max_progress_bytes", 255),
        ("max_log_notifications", -1),
        ("max_log_bytes", 255),
        ("max_client_requests_pending", 0),
        ("max_client_request_bytes", 1023),
        ("client_wait_s", 0),
        ("allowed_origins", ["example.com"]),
        ("host", "http://localhost"),
        ("host", ""),
    ],
)
def test_out_of_bounds_values_are_config_errors(field, value):
    with pytest.raises(ConfigError) as caught:
        MCPServer("s", **{field: value})
    assert caught.value.code == "config.invalid"
    assert field in str(caught.value)


def test_boundaries_that_are_accepted():
    server = MCPServer("s", port=0, io_threads=0, python_workers=1, max_body_bytes=1024,
                       allowed_origins=["https://app.example.com", "*"], response_mode="sse")
    assert server.settings.port == 0
    assert server.settings.allowed_origins == ("https://app.example.com", "*")


def test_unknown_setting_is_rejected():
    with pytest.raises(ConfigError, match="prot: Extra inputs are not permitted"):
        MCPServer("s", prot=80)


def test_run_overrides_host_port_and_settings(monkeypatch):
    seen = []
    monkeypatch.setattr(serve, "serve_http", lambda server, settings, banner=False, policy=None:
                        seen.append((settings, banner)))
    server = MCPServer("s", port=9000, page_size=10)
    server.run(host="0.0.0.0", port=None, banner=True, max_sessions=5)
    settings, banner = seen[0]
    assert (settings.host, settings.port, settings.page_size, settings.max_sessions) == (
        "0.0.0.0", 9000, 10, 5)
    assert banner is True
    assert server.settings.host == "127.0.0.1"  # the server's own settings are unchanged


def test_run_rejects_invalid_override_and_transport(monkeypatch):
    monkeypatch.setattr(serve, "serve_http", lambda *args, **kwargs: pytest.fail("must not start"))
    with pytest.raises(ConfigError, match="port"):
        MCPServer("s").run(port=70000)
    with pytest.raises(ConfigError, match="Unknown transport"):
        MCPServer("s").run(transport="websocket")  # type: ignore[arg-type]


def test_server_needs_a_name():
    with pytest.raises(ConfigError):
        MCPServer("")
