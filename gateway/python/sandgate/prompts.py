"""Registered prompts: argument coercion from strings and rendering to `GetPromptResult`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import ValidationError
from pydantic_core import from_json

from sandgate import schema
from sandgate.errors import ConfigError, InvalidArguments, describe_validation_error
from sandgate import round_trips
from sandgate.outbound import Outbound
from sandgate.results import content_block, json_text

Role = Literal["user", "assistant"]
ROLES = ("user", "assistant")


class Message:
    """One prompt message; `content` may be text, a content block or any JSON-able value."""

    __slots__ = ("content", "role")

    def __init__(self, content: Any, role: Role = "user") -> None:
        if role not in ROLES:
            raise ValueError(f"role must be 'user' or 'assistant', not {role!r}")
        self.content = content
        self.role = role

    def __repr__(self) -> str:
        return f"Message({self.content!r}, role={self.role!r})"


class Prompt:
    """One prompt, with its argument model prepared at registration."""

    __slots__ = ("name", "title", "description", "fn", "is_async", "arguments", "_blob_uri")

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
    ) -> None:
        self.name = name if name is not None else getattr(fn, "__name__", "")
        if not self.name or self.name == "<lambda>":
            raise ConfigError("A prompt needs a name; pass name=... for lambdas and partials")
        self.title = title
        self.description = schema.describe(fn, description)
        self.fn = fn
        self.is_async = schema.is_async_callable(fn)
        owner = f"prompt '{self.name}'"
        self.arguments = schema.argument_model(fn, owner, f"{self.name}_arguments")
        self._blob_uri = f"sandgate://blob/{self.name}"

    def definition(self) -> dict[str, Any]:
        arguments = []
        for parameter in self.arguments.parameters:
            argument: dict[str, Any] = {"name": parameter.name, "required": parameter.required}
            if parameter.description is not None:
                argument["description"] = parameter.description
            arguments.append(argument)
        fields = {"name": self.name, "title": self.title, "description": self.description,
                  "arguments": arguments}
        return {key: value for key, value in fields.items() if value is not None}

    def bind(self, args_json: str, meta_json: str, channels: Outbound | None = None) -> dict[str, Any]:
        """Keyword arguments from the string-valued MCP arguments, coerced by type hints."""
        try:
            values = from_json(args_json) if args_json else {}
        except ValueError as exc:
            raise self._invalid(f"arguments are not valid JSON ({exc})") from exc
        if not isinstance(values, dict):
            raise self._invalid("arguments must be an object of strings")
        model = self.arguments.model
        try:
            arguments = model.model_validate(values)
        except ValidationError as exc:
            # Structured parameters arrive as JSON text, because MCP prompt arguments are strings.
            decoded = {key: _decode_structured(value) for key, value in values.items()}
            if decoded == values:
                raise self._invalid(describe_validation_error(exc)) from exc
            try:
                arguments = model.model_validate(decoded)
            except ValidationError:
                raise self._invalid(describe_validation_error(exc)) from exc
        return self.arguments.kwargs(arguments, meta_json, channels)

    def get(self, kwargs: dict[str, Any]) -> str:
        return self.render(self.fn(**kwargs))

    async def get_async(self, kwargs: dict[str, Any]) -> str:
        return self.render(await self.fn(**kwargs))

    def render(self, value: Any) -> str:
        """`GetPromptResult` JSON from a str, a message, a role/content dict or a list of them; or the
        input_required result a 2026-07-28 prompt may answer with."""
        if round_trips.is_input_required(value):
            return round_trips.result_json(value)
        items = value if isinstance(value, (list, tuple)) else ([] if value is None else [value])
        result: dict[str, Any] = {}
        if self.description is not None:
            result["description"] = self.description
        result["messages"] = [self._message(item) for item in items]
        return json_text(result)

    def _message(self, item: Any) -> dict[str, Any]:
        if isinstance(item, dict) and "role" in item and "content" in item:
            role, content = item["role"], item["content"]
        elif hasattr(item, "role") and hasattr(item, "content") and not isinstance(item, dict):
            role, content = item.role, item.content
        else:
            role, content = "user", item
        if role not in ROLES:
            raise ValueError(f"prompt '{self.name}' returned a message with role {role!r}")
        return {"role": role, "content": content_block(content, self._blob_uri)}

    def _invalid(self, detail: str) -> InvalidArguments:
        return InvalidArguments(
            f"Invalid arguments for prompt '{self.name}': {detail}", data={"prompt": self.name}
        )


def _decode_structured(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return from_json(value)
        except ValueError:
            return value
    return value
