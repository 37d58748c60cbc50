"""The registered tools, resources, resource templates and prompts of one server, and its completion handler."""

from __future__ import annotations

import inspect
from collections.abc import Coroutine
from typing import Any

from sandgate import completions
from sandgate.completions import CompletionHandler
from sandgate.errors import DuplicateName, PromptNotFound, ResourceNotFound, ToolNotFound
from sandgate.prompts import Prompt
from sandgate.resources import Resource, ResourceTemplate
from sandgate.tools import Tool


class Registry:
    """Name-unique collections kept in registration order, so listings are deterministic."""

    __slots__ = ("_tools", "_resources", "_templates", "_prompts", "completion_handler", "revision")

    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}
        self._resources: dict[str, Resource] = {}
        self._templates: dict[str, ResourceTemplate] = {}
        self._prompts: dict[str, Prompt] = {}
        self.completion_handler: CompletionHandler | None = None
        self.revision = 0

    def add_tool(self, tool: Tool) -> Tool:
        if tool.name in self._tools:
            raise DuplicateName(f"A tool named '{tool.name}' is already registered")
        self._tools[tool.name] = tool
        self.revision += 1
        return tool

    def add_resource(self, resource: Resource) -> Resource:
        if resource.uri in self._resources or resource.uri in self._templates:
            raise DuplicateName(f"A resource with URI '{resource.uri}' is already registered")
        if isinstance(resource, ResourceTemplate):
            self._templates[resource.uri] = resource
        else:
            self._resources[resource.uri] = resource
        self.revision += 1
        return resource

    def add_prompt(self, prompt: Prompt) -> Prompt:
        if prompt.name in self._prompts:
            raise DuplicateName(f"A prompt named '{prompt.name}' is already registered")
        self._prompts[prompt.name] = prompt
        self.revision += 1
        return prompt

    @property
    def tools(self) -> tuple[Tool, ...]:
        return tuple(self._tools.values())

    @property
    def resources(self) -> tuple[Resource, ...]:
        return tuple(self._resources.values())

    @property
    def templates(self) -> tuple[ResourceTemplate, ...]:
        return tuple(self._templates.values())

    @property
    def prompts(self) -> tuple[Prompt, ...]:
        return tuple(self._prompts.values())

    def tool(self, name: str) -> Tool:
        try:
            return self._tools[name]
        except KeyError:
            raise ToolNotFound(f"Unknown tool: {name}", data={"name": name}) from None

    def prompt(self, name: str) -> Prompt:
        try:
            return self._prompts[name]
        except KeyError:
            raise PromptNotFound(f"Unknown prompt: {name}", data={"name": name}) from None

    def resource(self, uri: str) -> tuple[Resource, dict[str, str]]:
        """The resource answering `uri` and its URI parameters; fixed URIs win over templates."""
        static = self._resources.get(uri)
        if static is not None:
            return static, {}
        for template in self._templates.values():
            params = template.match(uri)
            if params is not None:
                return template, params
        raise ResourceNotFound("Resource not found", data={"uri": uri})

    def complete(self, params_json: str) -> str | Coroutine[Any, Any, str]:
        """The CompleteResult JSON for a completion/complete's params (a coroutine for an async handler):
        the handler's values, else (it returned None, or there is none) the argument type's that match."""
        request = completions.parse_request(params_json)
        model = completions.model_of(request, self)
        if self.completion_handler is None:
            return completions.result_json(completions.inferred(model, request.argument))
        answer = self.completion_handler(request.ref, request.argument, request.context)
        if not inspect.isawaitable(answer):
            return completions.result_json(answer if answer is not None
                                           else completions.inferred(model, request.argument))

        async def awaited() -> str:
            values = await answer
            return completions.result_json(values if values is not None
                                           else completions.inferred(model, request.argument))

        return awaited()

    def catalog(self) -> dict[str, list[dict[str, Any]]]:
        return {
            "tools": [tool.definition() for tool in self._tools.values()],
            "resources": [resource.definition() for resource in self._resources.values()],
            "resourceTemplates": [template.definition() for template in self._templates.values()],
            "prompts": [prompt.definition() for prompt in self._prompts.values()],
        }
