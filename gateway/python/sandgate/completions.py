"""Argument completion (`completion/complete`) for prompt arguments and resource-template variables.

A server may register one handler with `@server.completion`, with fastmcp's call shape:
`handler(ref, argument, context)` returns candidate values (a list of strings, a `Completion`, or
None when it does not handle the reference). Where it returns None, or there is none, an argument
typed `Literal[...]` or as an `Enum` completes from its values that start with what was typed. The
handler is the module's code: it runs where the module's prompts run (the sandbox, unless trusted).
"""

from __future__ import annotations

import enum
import inspect
import types
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Union

from pydantic import BaseModel
from pydantic_core import from_json

from sandgate.errors import InvalidArguments, ResourceNotFound
from sandgate.results import json_text

# The specification caps one answer at 100 values.
MAX_COMPLETION_VALUES = 100


@dataclass(frozen=True, slots=True)
class PromptReference:
    name: str
    type: Literal["ref/prompt"] = "ref/prompt"


@dataclass(frozen=True, slots=True)
class ResourceTemplateReference:
    uri: str
    type: Literal["ref/resource"] = "ref/resource"


@dataclass(frozen=True, slots=True)
class CompletionArgument:
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class CompletionContext:
    """The values of the reference's other arguments the client already has."""

    arguments: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Completion:
    values: list[str] = field(default_factory=list)
    total: int | None = None
    has_more: bool | None = None


CompletionReference = PromptReference | ResourceTemplateReference
CompletionValues = Completion | list[str] | tuple[str, ...] | None
CompletionHandler = Callable[[CompletionReference, CompletionArgument, CompletionContext | None],
                             "Awaitable[CompletionValues] | CompletionValues"]


@dataclass(frozen=True, slots=True)
class Request:
    ref: CompletionReference
    argument: CompletionArgument
    context: CompletionContext | None


def parse_request(params_json: str) -> Request:
    """The request's ref, argument and context (the core checked their shapes; checked again here)."""
    try:
        params = from_json(params_json)
        ref, argument = params["ref"], params["argument"]
        if ref["type"] == "ref/prompt":
            reference: CompletionReference = PromptReference(_text(ref["name"]))
        elif ref["type"] == "ref/resource":
            reference = ResourceTemplateReference(_text(ref["uri"]))
        else:
            raise ValueError(ref["type"])
        context = params.get("context")
        arguments = context.get("arguments") if isinstance(context, dict) else None
        if arguments is not None and not all(isinstance(v, str) for v in dict(arguments).values()):
            raise ValueError("context")
        return Request(reference, CompletionArgument(_text(argument["name"]), _text(argument["value"])),
                       CompletionContext(dict(arguments) if arguments is not None else None)
                       if isinstance(context, dict) else None)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise InvalidArguments("Invalid params: a completion needs a ref/prompt or ref/resource and an "
                               "argument with string name and value") from None


def model_of(request: Request, registry: Any) -> type[BaseModel]:
    """The argument model of the prompt or template the request is about, or the not-found error."""
    ref = request.ref
    if isinstance(ref, PromptReference):
        return registry.prompt(ref.name).arguments.model
    for template in registry.templates:
        if template.uri == ref.uri:
            return template.arguments.model
    raise ResourceNotFound("Resource template not found", data={"uri": ref.uri})


def inferred(model: type[BaseModel], argument: CompletionArgument) -> list[str]:
    """Values of a `Literal` or `Enum` argument that start with what was typed, in declared order."""
    for field_name, info in model.model_fields.items():
        if (info.alias or field_name) == argument.name:
            return [value for value in choices(info.annotation) if value.startswith(argument.value)]
    return []


def choices(annotation: Any) -> list[str]:
    """The string forms of the values a type allows, when it names them; [] for any other type."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return choices(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [value for arg in typing.get_args(annotation) for value in choices(arg)]
    if origin is Literal:
        return [str(v) for v in typing.get_args(annotation)
                if isinstance(v, str | int) and not isinstance(v, bool)]
    if inspect.isclass(annotation) and issubclass(annotation, enum.Enum):
        return [str(member.value) for member in annotation if isinstance(member.value, str | int)]
    return []


def result_json(values: Any) -> str:
    """A handler's answer as the CompleteResult JSON; TypeError naming what it returned when unusable."""
    if values is None:
        values = Completion()
    if isinstance(values, str):
        raise TypeError("a completion handler returned a str; return a list of strings or a Completion")
    total = getattr(values, "total", None)
    has_more = getattr(values, "has_more", None)
    listed = list(getattr(values, "values", values))
    if not all(isinstance(value, str) for value in listed):
        raise TypeError("a completion handler's values must all be strings")
    if len(listed) > MAX_COMPLETION_VALUES:
        total = total if total is not None else len(listed)
        listed, has_more = listed[:MAX_COMPLETION_VALUES], True
    completion: dict[str, Any] = {"values": listed}
    if total is not None:
        completion["total"] = total
    if has_more is not None:
        completion["hasMore"] = has_more
    return json_text({"completion": completion})


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value
