"""Registered tools: definition, argument validation, invocation and result mapping."""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sandgate import schema
from sandgate.client_requests import URLElicitationRequired
from sandgate.errors import ConfigError, describe_validation_error
from sandgate import round_trips
from sandgate.outbound import Outbound
from sandgate.results import ToolResultMapper, error_result, is_content_annotation

logger = logging.getLogger("sandgate.tools")

# The character set and length the MCP specification recommends for tool names.
TOOL_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,128}")


class ToolAnnotations(BaseModel):
    """Behaviour hints shown to clients; hints only, never used for decisions."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    title: str | None = None
    read_only_hint: bool | None = Field(None, alias="readOnlyHint")
    destructive_hint: bool | None = Field(None, alias="destructiveHint")
    idempotent_hint: bool | None = Field(None, alias="idempotentHint")
    open_world_hint: bool | None = Field(None, alias="openWorldHint")


class Tool:
    """One tool, with its validator and result mapper prepared at registration."""

    __slots__ = (
        "name", "title", "description", "annotations", "fn", "is_async",
        "arguments", "_validate_json", "_map_result", "_definition", "isolation", "sandbox", "_input_schema",
    )

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        annotations: ToolAnnotations | dict[str, Any] | BaseModel | None = None,
        input_schema: dict[str, Any] | None = None,
    ) -> None:
        self.name = name if name is not None else getattr(fn, "__name__", "")
        if not TOOL_NAME.fullmatch(self.name):
            raise ConfigError(
                f"Tool name {self.name!r} must be 1-128 characters of A-Z, a-z, 0-9, '_', '-', '.'"
            )
        owner = f"tool '{self.name}'"
        self.fn = fn
        self.title = title
        self.description = schema.describe(fn, description)
        self.annotations = _annotations(annotations, owner)
        self.is_async = schema.is_async_callable(fn)
        self.arguments = schema.argument_model(fn, owner, f"{self.name}_arguments")
        self._validate_json = self.arguments.model.__pydantic_validator__.validate_json
        self._map_result = _result_mapper(fn, self.name, owner)
        # Given: listed as written (any JSON Schema 2020-12 an object schema may use); the signature still
        # validates the arguments the handler gets.
        if input_schema is not None and (not isinstance(input_schema, dict) or input_schema.get("type") != "object"):
            raise ConfigError(f'{owner}: input_schema must be a JSON Schema object with "type": "object"')
        self._input_schema = input_schema
        self._definition = self._build_definition()
        self.isolation: str | None = None  # None: the server's default
        self.sandbox: Any = None  # a sandgate.Sandbox, or None for the server's limits

    def definition(self) -> dict[str, Any]:
        return self._definition

    def bind(self, args_json: str, meta_json: str,
             channels: Outbound | None = None) -> dict[str, Any] | str:
        """Handler keyword arguments, or the isError result JSON when the arguments are invalid.

        `channels` are the request's way to its client; a Context parameter reports and logs through them."""
        try:
            arguments = self._validate_json(args_json)
        except ValidationError as exc:
            return error_result(
                f"Invalid arguments for tool '{self.name}': {describe_validation_error(exc)}"
            )
        return self.arguments.kwargs(arguments, meta_json, channels)

    def call(self, args_json: str, meta_json: str, channels: Outbound | None = None) -> str:
        """Run a synchronous tool; returns `CallToolResult` JSON and never raises."""
        kwargs = self.bind(args_json, meta_json, channels)
        if type(kwargs) is str:
            return kwargs
        try:
            value = self.fn(**kwargs)
        except URLElicitationRequired:
            raise  # not the tool's error result: the request's -32042 (dispatch.STATUS_OF_ERROR)
        except Exception as exc:
            return self.failure(exc)
        return self._result(value)

    async def call_async(self, kwargs: dict[str, Any]) -> str:
        """Run a coroutine tool with bound arguments; returns `CallToolResult` JSON."""
        try:
            value = await self.fn(**kwargs)
        except URLElicitationRequired:
            raise
        except Exception as exc:
            return self.failure(exc)
        return self._result(value)

    def _result(self, value: Any) -> str:
        if round_trips.is_input_required(value):
            try:
                return round_trips.result_json(value)
            except TypeError as exc:
                return self.failure(exc)
        return self._map_result(value)

    def failure(self, exc: BaseException) -> str:
        # The traceback stays in the server log; the client sees only type and message.
        logger.exception("tool '%s' raised %s", self.name, type(exc).__name__, exc_info=exc)
        message = str(exc)
        kind = type(exc).__name__
        return error_result(f"{kind}: {message}" if message else kind, error_type=kind)

    def _build_definition(self) -> dict[str, Any]:
        fields = {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "inputSchema": self._input_schema if self._input_schema is not None else self.arguments.input_schema(),
            "outputSchema": self._map_result.output_schema,
            "annotations": self.annotations,
        }
        return {key: value for key, value in fields.items() if value is not None}


def _result_mapper(fn: Callable[..., Any], tool: str, owner: str) -> ToolResultMapper:
    annotation = schema.read_signature(fn, owner).return_annotation
    if annotation is inspect.Signature.empty or is_content_annotation(annotation):
        return ToolResultMapper(tool, None, None, wrapped=False)
    adapter, output_schema, wrapped = schema.output_schema(annotation, owner)
    return ToolResultMapper(tool, adapter, output_schema, wrapped)


def _annotations(value: Any, owner: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, BaseModel) and not isinstance(value, ToolAnnotations):
        value = value.model_dump(by_alias=True, exclude_none=True)
    try:
        parsed = ToolAnnotations.model_validate(value)
    except ValidationError as exc:
        detail = describe_validation_error(exc)
        raise ConfigError(f"{owner}: invalid annotations: {detail}") from exc
    return parsed.model_dump(by_alias=True, exclude_none=True) or None
