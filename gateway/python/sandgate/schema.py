"""JSON Schemas and validators derived from handler signatures, built once at registration."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, create_model
from pydantic.errors import PydanticSchemaGenerationError, PydanticUserError
from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import from_json

from sandgate.outbound import Outbound
from sandgate.context import Context
from sandgate.errors import ConfigError

WRAP_RESULT_KEY = "x-sandgate-wrap-result"
# The same marker under the name fastmcp clients unwrap, so `.data` is the value for them too.
FASTMCP_WRAP_RESULT_KEY = "x-fastmcp-wrap-result"
JSON_SAFE = ConfigDict(ser_json_inf_nan="null", ser_json_bytes="base64")


class _UntitledFields(GenerateJsonSchema):
    """Leaves out the titles pydantic derives from field names; explicit titles stay."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class Parameter:
    name: str
    required: bool
    description: str | None


@dataclass(frozen=True, slots=True)
class ArgumentModel:
    """A handler's parameters as a pydantic model, plus what is needed to call the handler."""

    model: type[BaseModel]
    parameters: tuple[Parameter, ...]
    context_parameter: str | None
    renamed: tuple[tuple[str, str], ...]  # (model field, handler parameter) for unsafe names

    def kwargs(self, arguments: BaseModel, meta_json: str, channels: Outbound | None = None) -> dict[str, Any]:
        """Keyword arguments for the handler from validated `arguments`, plus its Context, whose
        progress and log messages go where `channels` says (None: nowhere)."""
        values = dict(arguments.__dict__)
        for field, parameter in self.renamed:
            values[parameter] = values.pop(field)
        if self.context_parameter is not None:
            meta = parse_meta(meta_json)
            progress_sink, log_sink = channels.sinks(meta) if channels is not None else (None, None)
            requester = channels.requester() if channels is not None else None
            values[self.context_parameter] = Context(
                request_meta=meta, progress_sink=progress_sink, log_sink=log_sink, requester=requester,
                round_trip=channels.round_trip if channels is not None else None,
                request_id=channels.request_id if channels is not None else None,
                client_id=channels.client_id if channels is not None else None,
                announce=channels.announce if channels is not None else None,
                read=channels.read if channels is not None else None,
                session_id=channels.session_id if channels is not None else None)
        return values

    def input_schema(self) -> dict[str, Any]:
        generated = self.model.model_json_schema(schema_generator=_UntitledFields)
        schema: dict[str, Any] = {
            "type": "object",
            "properties": generated.get("properties", {}),
            "required": generated.get("required", []),
        }
        if "$defs" in generated:
            schema["$defs"] = generated["$defs"]
        return schema


def read_signature(fn: Callable[..., Any], owner: str) -> inspect.Signature:
    """The signature with string annotations resolved, or ConfigError naming `owner`."""
    try:
        return inspect.signature(fn, eval_str=True)
    except (NameError, SyntaxError, TypeError) as exc:
        raise ConfigError(f"Cannot read the signature of {owner}: {exc}") from exc
    except ValueError as exc:
        raise ConfigError(f"{owner} has no inspectable signature: {exc}") from exc


def argument_model(fn: Callable[..., Any], owner: str, model_name: str) -> ArgumentModel:
    """Build the argument model of `fn`; a `Context` parameter is injected, not exposed."""
    signature = read_signature(fn, owner)
    fields: dict[str, Any] = {}
    parameters: list[Parameter] = []
    renamed: list[tuple[str, str]] = []
    context_parameter = None
    for index, param in enumerate(signature.parameters.values()):
        if _is_context(param.annotation):
            context_parameter = param.name
            continue
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            raise ConfigError(
                f"{owner}: parameter {param.name!r} must be a named parameter "
                "(no *args, **kwargs or positional-only parameters)"
            )
        annotation = Any if param.annotation is param.empty else param.annotation
        default = ... if param.default is param.empty else param.default
        field_name = param.name
        if _shadows_model_attribute(param.name):
            field_name = f"parameter_{index}"
            annotation = Annotated[annotation, Field(alias=param.name)]
            renamed.append((field_name, param.name))
        fields[field_name] = (annotation, default)
    try:
        model = create_model(model_name, __config__=ConfigDict(extra="ignore"), **fields)
        model.model_json_schema(schema_generator=_UntitledFields)
    except (PydanticSchemaGenerationError, PydanticUserError, TypeError) as exc:
        raise ConfigError(f"{owner}: unsupported parameter type: {exc}") from exc
    for field_name, info in model.model_fields.items():
        name = info.alias or field_name
        parameters.append(Parameter(name, info.is_required(), info.description))
    return ArgumentModel(model, tuple(parameters), context_parameter, tuple(renamed))


def output_schema(annotation: Any, owner: str) -> tuple[TypeAdapter[Any], dict[str, Any], bool]:
    """Adapter and MCP outputSchema for a return type; non-object schemas get a `result` wrapper."""
    try:
        adapter = _serializing_adapter(annotation)
        schema = adapter.json_schema(mode="serialization", schema_generator=_UntitledFields)
    except (PydanticSchemaGenerationError, PydanticUserError, TypeError) as exc:
        raise ConfigError(
            f"{owner}: return type {annotation!r} has no JSON Schema; "
            f"annotate a serializable type or drop the annotation ({exc})"
        ) from exc
    if schema.get("type") == "object":
        return adapter, schema, False
    definitions = schema.pop("$defs", None)
    wrapped: dict[str, Any] = {
        "type": "object",
        "properties": {"result": schema},
        "required": ["result"],
        WRAP_RESULT_KEY: True,
        FASTMCP_WRAP_RESULT_KEY: True,
    }
    if definitions:
        wrapped["$defs"] = definitions
    return adapter, wrapped, True


def _serializing_adapter(annotation: Any) -> TypeAdapter[Any]:
    """An adapter whose JSON stays valid for NaN, infinities and bytes; models keep their own."""
    try:
        return TypeAdapter(annotation, config=JSON_SAFE)
    except PydanticUserError as exc:
        if exc.code != "type-adapter-config-unused":
            raise
        return TypeAdapter(annotation)


def describe(fn: Callable[..., Any], description: str | None) -> str | None:
    """An explicit description, else the handler's cleaned docstring."""
    if description is not None:
        return description
    doc = getattr(fn, "__doc__", None)
    if not doc or doc is type(fn).__doc__ and not inspect.isfunction(fn):
        return None
    return inspect.cleandoc(doc) or None


def is_async_callable(fn: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)
    )


def parse_meta(meta_json: str) -> dict[str, Any]:
    try:
        meta = from_json(meta_json) if meta_json else {}
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


def _is_context(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, Context)


def _shadows_model_attribute(name: str) -> bool:
    return name.startswith(("_", "model_")) or hasattr(BaseModel, name)
