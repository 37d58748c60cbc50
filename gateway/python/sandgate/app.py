"""`MCPServer`: registers tools, resources and prompts, and runs them on the native core."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from sandgate.completions import CompletionHandler
from sandgate.dispatch import Dispatcher
from sandgate.errors import ConfigError
from sandgate.prompts import Prompt
from sandgate.registry import Registry
from sandgate.resources import Resource, ResourceTemplate, is_template
from sandgate.sandbox import trust
from sandgate.sandbox.limits import DEFAULT_SANDBOX, Isolation, Sandbox, check_isolation, granted
from sandgate.sandbox.trust import DEFAULT_CEILING
from sandgate.settings import ServerSettings, build_settings
from sandgate.tools import Tool, ToolAnnotations

if TYPE_CHECKING:
    import asyncio

    from sandgate.sandbox.runner import SandboxRunner

F = TypeVar("F", bound=Callable[..., Any])
Transport = Literal["http", "stdio"]


class MCPServer:
    """An MCP server: decorate handlers, then `run()` them over HTTP or stdio.

    Settings keyword arguments (host, port, limits, ...) are the fields of ServerSettings
    and are validated here, so a bad value fails at construction, not at run time.
    """

    def __init__(self, name: str, version: str | None = None, instructions: str | None = None,
                 *, sandbox: Sandbox | None = None, isolation: Isolation = "per_call",
                 **settings: Any) -> None:
        if not isinstance(name, str) or not name:
            raise ConfigError("A server needs a non-empty name")
        self.name = name
        self.version = version
        self.instructions = instructions
        self.settings: ServerSettings = build_settings(**settings)
        self.registry = Registry()
        # Server-wide sandbox defaults; a tool's own Sandbox overrides them field by field.
        self.sandbox = sandbox if sandbox is not None else DEFAULT_SANDBOX
        self.isolation: Isolation = check_isolation(isolation)

    @overload
    def tool(self, name_or_fn: F, *, name: str | None = None, description: str | None = None,
             annotations: ToolAnnotations | dict[str, Any] | None = None,
             title: str | None = None, sandbox: Sandbox | None = None,
             isolation: Isolation | None = None, input_schema: dict[str, Any] | None = None) -> F: ...

    @overload
    def tool(self, name_or_fn: str | None = None, *, name: str | None = None,
             description: str | None = None,
             annotations: ToolAnnotations | dict[str, Any] | None = None,
             title: str | None = None, sandbox: Sandbox | None = None,
             isolation: Isolation | None = None,
             input_schema: dict[str, Any] | None = None) -> Callable[[F], F]: ...

    def tool(self, name_or_fn: Any = None, *, name: str | None = None,
             description: str | None = None,
             annotations: ToolAnnotations | dict[str, Any] | None = None,
             title: str | None = None, sandbox: Sandbox | None = None,
             isolation: Isolation | None = None, input_schema: dict[str, Any] | None = None) -> Any:
        """Register a tool: `@server.tool`, `@server.tool()`, `@server.tool("name")`, `tool(fn)`.

        Tools run in a sandboxed child per call unless `isolation="none"` trusts them explicitly.
        `input_schema` lists the tool with that JSON Schema instead of the one its signature gives.
        """
        options = {"description": description, "annotations": annotations, "title": title,
                   "sandbox": sandbox, "isolation": isolation, "input_schema": input_schema}
        return self._decorate(self.add_tool, name_or_fn, name, options)

    def add_tool(self, fn: Callable[..., Any], name: str | None = None,
                 description: str | None = None,
                 annotations: ToolAnnotations | dict[str, Any] | None = None,
                 title: str | None = None, sandbox: Sandbox | None = None,
                 isolation: Isolation | None = None, input_schema: dict[str, Any] | None = None) -> Tool:
        tool = Tool(fn, name=name, title=title, description=description, annotations=annotations,
                    input_schema=input_schema)
        tool.isolation = check_isolation(isolation) if isolation is not None else None
        tool.sandbox = sandbox
        return self.registry.add_tool(tool)

    def sandbox_requests(self) -> dict[str, Any]:
        """What this server asks for: server-wide and per-tool isolation and limits."""
        tools = {tool.name: (tool.isolation, tool.sandbox) for tool in self.registry.tools}
        return trust.requests(self.isolation, self.sandbox, tools)

    def sandbox_grant(self, ceiling: Sandbox = DEFAULT_CEILING) -> Any:
        """The core's decision on this server's requests: its own code is trusted (isolation "none"
        holds), its limits are clamped to `ceiling`."""
        return trust.compile_grant(self.sandbox_requests(), ceiling, trusted=True)

    def sandbox_plan(self, ceiling: Sandbox = DEFAULT_CEILING) -> dict[str, tuple[Isolation, Sandbox]]:
        """Each tool's effective isolation and limits."""
        grant = self.sandbox_grant(ceiling)
        return {tool.name: granted(grant.tool(tool.name)) for tool in self.registry.tools}

    @property
    def needs_sandbox(self) -> bool:
        grant = self.sandbox_grant()
        handlers = (self.registry.resources or self.registry.templates or self.registry.prompts
                    or self.registry.completion_handler)
        return (any(grant.tool(tool.name)[0] != "none" for tool in self.registry.tools)
                or bool(handlers and grant.server()[0] != "none"))

    @overload
    def completion(self, handler: CompletionHandler) -> CompletionHandler: ...

    @overload
    def completion(self, handler: None = None) -> Callable[[CompletionHandler], CompletionHandler]: ...

    def completion(self, handler: CompletionHandler | None = None) -> Any:
        """Register the server's completion handler: `@server.completion` or `@server.completion()`.

        It gets (ref, argument, context) and returns candidate values (a list of strings, a
        `Completion`, or None to fall back to the argument's `Literal`/`Enum` values), as in fastmcp.
        """

        def register(fn: CompletionHandler) -> CompletionHandler:
            if not callable(fn):
                raise ConfigError("@completion needs a function")
            if self.registry.completion_handler is not None:
                raise ConfigError("A server has one completion handler; it is already registered")
            self.registry.completion_handler = fn
            return fn

        return register if handler is None else register(handler)

    def resource(self, uri: str, *, name: str | None = None, description: str | None = None,
                 mime_type: str | None = None, title: str | None = None) -> Callable[[F], F]:
        """Register a resource; `{param}` placeholders in `uri` make it a resource template."""
        if not isinstance(uri, str):
            raise TypeError("@resource needs a URI: use @server.resource('scheme://path')")

        def register(fn: F) -> F:
            self.add_resource(fn, uri, name=name, description=description,
                              mime_type=mime_type, title=title)
            return fn

        return register

    def add_resource(self, fn: Callable[..., Any], uri: str, *, name: str | None = None,
                     description: str | None = None, mime_type: str | None = None,
                     title: str | None = None) -> Resource:
        kind = ResourceTemplate if is_template(uri) else Resource
        resource = kind(uri, fn, name=name, title=title, description=description,
                        mime_type=mime_type)
        return self.registry.add_resource(resource)

    @overload
    def prompt(self, name_or_fn: F, *, name: str | None = None, description: str | None = None,
               title: str | None = None) -> F: ...

    @overload
    def prompt(self, name_or_fn: str | None = None, *, name: str | None = None,
               description: str | None = None, title: str | None = None) -> Callable[[F], F]: ...

    def prompt(self, name_or_fn: Any = None, *, name: str | None = None,
               description: str | None = None, title: str | None = None) -> Any:
        """Register a prompt: `@server.prompt`, `@server.prompt()` or `@server.prompt("name")`."""
        options = {"description": description, "title": title}
        return self._decorate(self.add_prompt, name_or_fn, name, options)

    def add_prompt(self, fn: Callable[..., Any], name: str | None = None,
                   description: str | None = None, title: str | None = None) -> Prompt:
        prompt = Prompt(fn, name=name, title=title, description=description)
        return self.registry.add_prompt(prompt)

    def dispatcher(self, loop: asyncio.AbstractEventLoop | None = None,
                   runner: SandboxRunner | None = None, client_wait_s: float | None = None,
                   max_announcements_per_call: int | None = None) -> Dispatcher:
        """Each call runs where the core's plan for it says; without a plan, in-process (as inside the
        sandbox child)."""
        wait_s = client_wait_s if client_wait_s is not None else self.settings.client_wait_s
        announcements = (max_announcements_per_call if max_announcements_per_call is not None
                         else self.settings.max_announcements_per_call)
        return Dispatcher(self.registry, loop=loop, runner=runner, client_wait_s=wait_s,
                          max_announcements_per_call=announcements)

    def run(self, transport: Transport = "http", host: str | None = None, port: int | None = None,
            *, banner: bool = False, policy: str | os.PathLike[str] | None = None, **overrides: Any) -> None:
        """Serve until interrupted (HTTP) or until stdin closes (stdio), under the policy file `policy` (checked,
        tested, reloaded on change) or the embedded default (`sandgate policy show-default`)."""
        from sandgate import serve

        given = {key: value for key, value in (("host", host), ("port", port)) if value is not None}
        settings = build_settings(self.settings, **given, **overrides)
        served = None
        if policy is not None:
            from sandgate.policy.serving import open_policy

            served = open_policy(Path(policy))
        if transport == "http":
            serve.serve_http(serve.trusted(self), settings, banner=banner, policy=served)
        elif transport == "stdio":
            serve.serve_stdio(serve.trusted(self), settings, policy=served)
        else:
            raise ConfigError(f"Unknown transport {transport!r}; use 'http' or 'stdio'")

    @staticmethod
    def _decorate(add: Callable[..., Any], name_or_fn: Any, name: str | None,
                  options: dict[str, Any]) -> Any:
        if callable(name_or_fn):
            add(name_or_fn, name=name, **options)
            return name_or_fn
        if isinstance(name_or_fn, str):
            if name is not None and name != name_or_fn:
                raise ConfigError(f"Two names given: {name_or_fn!r} and name={name!r}")
            name = name_or_fn
        elif name_or_fn is not None:
            raise TypeError(f"Expected a function or a name, got {type(name_or_fn).__name__}")

        def register(fn: F) -> F:
            add(fn, name=name, **options)
            return fn

        return register

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

