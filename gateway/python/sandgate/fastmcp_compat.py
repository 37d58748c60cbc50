"""`FastMCP`: an MCPServer that accepts fastmcp's call shapes, for moving a server over."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from sandgate.app import MCPServer
from sandgate.errors import ConfigError
from sandgate.settings import ServerSettings

SETTINGS_FIELDS = frozenset(ServerSettings.model_fields)
HTTP_TRANSPORTS = frozenset({"http", "streamable-http", "sse"})
# Options whose fastmcp default matches what Sandgate does anyway.
HARMLESS_DEFAULTS = {"run_in_thread": True}


class FastMCPCompatibilityWarning(UserWarning):
    """A fastmcp option that Sandgate accepts but does not act on."""


class FastMCP(MCPServer):
    """Drop-in for `fastmcp.FastMCP`: same constructor, decorators and `run()` shapes.

    Options Sandgate has no counterpart for are ignored with a FastMCPCompatibilityWarning.
    Like fastmcp, `run()` without a transport serves stdio.
    """

    def __init__(self, name: str | None = None, instructions: str | None = None, *,
                 version: str | int | float | None = None, **kwargs: Any) -> None:
        sandboxing = {key: kwargs.pop(key) for key in ("sandbox", "isolation") if key in kwargs}
        settings = {key: value for key, value in kwargs.items() if key in SETTINGS_FIELDS}
        _warn_ignored("FastMCP()", {k: v for k, v in kwargs.items() if k not in SETTINGS_FIELDS})
        super().__init__(name or "FastMCP", None if version is None else str(version),
                         instructions, **sandboxing, **settings)

    def tool(self, name_or_fn: Any = None, *, name: str | None = None, title: str | None = None,
             description: str | None = None, annotations: Any = None, sandbox: Any = None,
             isolation: Any = None, **ignored: Any) -> Any:
        _warn_ignored("tool()", ignored)
        return super().tool(name_or_fn, name=name, description=description,
                            annotations=annotations, title=title, sandbox=sandbox,
                            isolation=isolation)

    def resource(self, uri: str, *, name: str | None = None, title: str | None = None,
                 description: str | None = None, mime_type: str | None = None,
                 **ignored: Any) -> Callable[[Any], Any]:
        _warn_ignored("resource()", ignored)
        return super().resource(uri, name=name, description=description, mime_type=mime_type,
                                title=title)

    def prompt(self, name_or_fn: Any = None, *, name: str | None = None,
               title: str | None = None, description: str | None = None,
               **ignored: Any) -> Any:
        _warn_ignored("prompt()", ignored)
        return super().prompt(name_or_fn, name=name, description=description, title=title)

    def run(  # type: ignore[override]
        self, transport: str | None = None, show_banner: bool | None = None,
        host: str | None = None, port: int | None = None, **kwargs: Any,
    ) -> None:
        transport = transport or "stdio"
        if transport == "stdio":
            native = "stdio"
        elif transport in HTTP_TRANSPORTS:
            native = "http"
        else:
            raise ConfigError(
                f"Unknown transport {transport!r}; use 'stdio', 'http' or 'streamable-http'"
            )
        path = kwargs.pop("path", None)
        if path not in (None, "/mcp", "/mcp/"):
            raise ConfigError(f"Sandgate serves MCP at /mcp only, not at {path!r}")
        overrides = {key: value for key, value in kwargs.items() if key in SETTINGS_FIELDS}
        _warn_ignored("run()", {k: v for k, v in kwargs.items() if k not in SETTINGS_FIELDS})
        super().run(native, host=host, port=port, **overrides)  # type: ignore[arg-type]


def _warn_ignored(call: str, options: dict[str, Any]) -> None:
    ignored = sorted(
        key for key, value in options.items()
        if value is not None and HARMLESS_DEFAULTS.get(key, object()) != value
    )
    if ignored:
        warnings.warn(
            f"Sandgate ignores these fastmcp options of {call}: {', '.join(ignored)}",
            FastMCPCompatibilityWarning,
            stacklevel=3,
        )
