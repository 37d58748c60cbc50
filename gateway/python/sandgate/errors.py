"""The exception tree of Sandgate: one base class, stable `code` slugs for tests and logs."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError


class SandgateError(Exception):
    """Base of every error Sandgate raises; `code` is stable, the message is for people."""

    code = "sandgate.error"

    def __init__(self, message: str, *, data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data

    def __str__(self) -> str:
        return self.message


class ConfigError(SandgateError, ValueError):
    """A server, tool, resource or prompt definition that cannot be served."""

    code = "config.invalid"


class DuplicateName(SandgateError, ValueError):
    """A second tool, prompt or resource registered under a name already taken."""

    code = "registry.duplicate"


class InvalidArguments(SandgateError, ValueError):
    """Arguments of a call that do not match the handler's signature."""

    code = "tools.invalid_arguments"


class InvalidProgress(SandgateError, ValueError):
    """A progress report whose values cannot be sent: not finite numbers, or a message that is no string."""

    code = "progress.invalid"


class InvalidLogMessage(SandgateError, ValueError):
    """A log message that cannot be sent: an unknown level, or a message or logger name that is no string."""

    code = "log.invalid"


class InvalidAnnouncement(SandgateError, ValueError):
    """A resource update or list change that cannot be sent: an unknown change or list, or a URI that is no
    non-empty string."""

    code = "announcement.invalid"


class ToolNotFound(SandgateError, LookupError):
    code = "tools.not_found"


class ResourceNotFound(SandgateError, LookupError):
    """No resource or template answers a URI; handlers may raise it for missing items too."""

    code = "resources.not_found"


class PromptNotFound(SandgateError, LookupError):
    code = "prompts.not_found"


def describe_validation_error(exc: ValidationError) -> str:
    """One `location: message` per pydantic error, without echoing the rejected values."""
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        location = ".".join(str(part) for part in error["loc"])
        parts.append(f"{location}: {error['msg']}" if location else error["msg"])
    return "; ".join(parts)
