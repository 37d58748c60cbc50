"""Sandgate: a fast, sandboxing MCP gateway. Decorate handlers on an MCPServer and run it."""

from __future__ import annotations

from typing import Any

from sandgate.app import MCPServer
from sandgate.client_requests import (
    AcceptedElicitation,
    CancelledElicitation,
    ClientRequestError,
    DeclinedElicitation,
    Root,
    SampledMessage,
    URLElicitation,
    URLElicitationRequired,
)
from sandgate.completions import (
    Completion,
    CompletionArgument,
    CompletionContext,
    PromptReference,
    ResourceTemplateReference,
)
from sandgate.context import Context
from sandgate.dispatch import Dispatcher
from sandgate.errors import (
    ConfigError,
    DuplicateName,
    InvalidAnnouncement,
    InvalidArguments,
    InvalidLogMessage,
    InvalidProgress,
    PromptNotFound,
    ResourceNotFound,
    SandgateError,
    ToolNotFound,
)
from sandgate.fastmcp_compat import FastMCP, FastMCPCompatibilityWarning
from sandgate.prompts import Message
from sandgate.round_trips import InputRequired
from sandgate.results import Audio, Image
from sandgate.sandbox import Isolation, Sandbox
from sandgate.settings import ServerSettings
from sandgate.tools import ToolAnnotations



def __getattr__(name: str) -> Any:
    # Looked up on first use: importlib.metadata costs every sandbox zygote ~3 MB of heap to copy.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("sandgate")
        except PackageNotFoundError:
            return "0.1.0"
    raise AttributeError(f"module 'sandgate' has no attribute {name!r}")

__all__ = [
    "AcceptedElicitation",
    "Audio",
    "CancelledElicitation",
    "ClientRequestError",
    "Completion",
    "CompletionArgument",
    "CompletionContext",
    "ConfigError",
    "Context",
    "DeclinedElicitation",
    "Dispatcher",
    "DuplicateName",
    "FastMCP",
    "FastMCPCompatibilityWarning",
    "Image",
    "InputRequired",
    "InvalidAnnouncement",
    "InvalidArguments",
    "InvalidLogMessage",
    "InvalidProgress",
    "Isolation",
    "MCPServer",
    "Message",
    "PromptNotFound",
    "PromptReference",
    "ResourceNotFound",
    "ResourceTemplateReference",
    "Root",
    "SampledMessage",
    "Sandbox",
    "SandgateError",
    "ServerSettings",
    "ToolAnnotations",
    "ToolNotFound",
    "URLElicitation",
    "URLElicitationRequired",
    "__version__",
]
