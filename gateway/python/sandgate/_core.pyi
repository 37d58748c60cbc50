"""Type stubs of the private native module; the sandgate facade is its only user."""

from typing import Any

class Settings:
    host: str
    port: int
    io_threads: int
    python_workers: int
    max_body_bytes: int
    max_header_bytes: int
    max_header_fields: int
    read_timeout_s: float
    idle_timeout_s: float
    shutdown_grace_s: float
    stream_keepalive_s: float
    max_connections: int
    allowed_origins: list[str]
    response_mode: str
    page_size: int
    session_idle_timeout_s: float
    max_sessions: int
    max_progress_notifications: int
    max_progress_bytes: int
    max_json_depth: int
    max_json_string_bytes: int
    max_json_members: int
    server_name: str
    server_version: str
    instructions: str
    def __init__(self) -> None: ...

class Counters:
    def __init__(self) -> None: ...
    def add(self, name: str, n: int = 1) -> None: ...
    def get(self, name: str) -> int: ...
    def snapshot(self) -> dict[str, int]: ...

class SandboxGrant:
    def __init__(self, requests_json: str, defaults_json: str, ceiling_json: str, trust_module: bool) -> None: ...
    def tool(self, name: str) -> tuple[Any, ...]: ...
    def server(self) -> tuple[Any, ...]: ...
    @property
    def refusals(self) -> list[str]: ...

class HttpServer:
    def __init__(self, settings: Settings, dispatcher: Any, grant: SandboxGrant,
                 counters: Counters | None = None) -> None: ...
    def start(self) -> int: ...
    def shutdown(self) -> None: ...
    def wait(self) -> None: ...
    @property
    def ready(self) -> bool: ...
    @property
    def session_count(self) -> int: ...
    def counters(self) -> dict[str, int]: ...

OUTCOME_STATUS: dict[str, int]

def serve_stdio(settings: Settings, dispatcher: Any, grant: SandboxGrant, counters: Counters | None = None) -> None: ...
