"""Sandgate: a fast, sandboxing MCP gateway. Decorate handlers on an MCPServer and run it."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from sandgate.app import MCPServer
from sandgate.context import Context
from sandgate.dispatch import Dispatcher
from sandgate.errors import (
    ConfigError,
    DuplicateName,
    InvalidArguments,
    InvalidProgress,
    PromptNotFound,
    ResourceNotFound,
    SandgateError,
    ToolNotFound,
)
from sandgate.fastmcp_compat import FastMCP, FastMCPCompatibilityWarning
from sandgate.prompts import Message
from sandgate.results import Audio, Image
from sandgate.sandbox import Isolation, Sandbox
from sandgate.settings import ServerSettings
from sandgate.tools import ToolAnnotations

try:
    __version__ = version("sandgate")
except PackageNotFoundError:
    __version__ = "0.1.0"

__all__ = [
    "Audio",
    "ConfigError",
    "Context",
    "Dispatcher",
    "DuplicateName",
    "FastMCP",
    "FastMCPCompatibilityWarning",
    "Image",
    "InvalidArguments",
    "InvalidProgress",
    "Isolation",
    "MCPServer",
    "Message",
    "PromptNotFound",
    "ResourceNotFound",
    "Sandbox",
    "SandgateError",
    "ServerSettings",
    "ToolAnnotations",
    "ToolNotFound",
    "__version__",
]
