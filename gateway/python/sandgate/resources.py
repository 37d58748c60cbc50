"""Registered resources and resource templates: URI matching, reading, content mapping."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

from pydantic import ValidationError

from sandgate import schema
from sandgate.errors import ConfigError, InvalidArguments, describe_validation_error
from sandgate.outbound import Outbound
from sandgate.results import encode_base64, json_text

PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Resource:
    """A resource with a fixed URI, read by calling a handler without URI parameters.

    `uri` is the registry key; for a ResourceTemplate it holds the URI template.
    """

    __slots__ = ("uri", "name", "title", "description", "mime_type", "fn", "is_async", "arguments")

    def __init__(
        self,
        uri: str,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        mime_type: str | None = None,
    ) -> None:
        if not urlsplit(uri).scheme:
            raise ConfigError(f"Resource URI {uri!r} needs a scheme, such as 'config://app'")
        self.uri = uri
        self.name = name if name is not None else getattr(fn, "__name__", uri)
        self.title = title
        self.description = schema.describe(fn, description)
        self.fn = fn
        self.is_async = schema.is_async_callable(fn)
        owner = f"resource '{uri}'"
        self.arguments = schema.argument_model(fn, owner, f"{self.name}_parameters")
        self.mime_type = mime_type or _mime_type_of(fn, owner)
        self._check_parameters(owner)

    def definition(self) -> dict[str, Any]:
        return self._definition("uri")

    def bind(self, uri: str, params: dict[str, str], meta_json: str,
             channels: Outbound | None = None) -> dict[str, Any]:
        """Handler keyword arguments from URI parameters, validated and coerced by type hints."""
        try:
            arguments = self.arguments.model.model_validate(params)
        except ValidationError as exc:
            raise InvalidArguments(
                f"Invalid parameters in resource URI '{uri}': {describe_validation_error(exc)}",
                data={"uri": uri},
            ) from exc
        return self.arguments.kwargs(arguments, meta_json, channels)

    def read(self, uri: str, kwargs: dict[str, Any]) -> str:
        return self.render(uri, self.fn(**kwargs))

    async def read_async(self, uri: str, kwargs: dict[str, Any]) -> str:
        return self.render(uri, await self.fn(**kwargs))

    def render(self, uri: str, value: Any) -> str:
        """`ReadResourceResult` JSON: text for str, base64 blob for bytes, JSON for the rest."""
        if value is None:
            return json_text({"contents": []})
        item: dict[str, Any] = {"uri": uri}
        if isinstance(value, str):
            item["mimeType"] = self.mime_type or "text/plain"
            item["text"] = value
        elif isinstance(value, (bytes, bytearray, memoryview)):
            item["mimeType"] = self.mime_type or "application/octet-stream"
            item["blob"] = encode_base64(value)
        else:
            item["mimeType"] = self.mime_type or "application/json"
            item["text"] = json_text(value)
        return json_text({"contents": [item]})

    def _definition(self, uri_key: str) -> dict[str, Any]:
        fields = {uri_key: self.uri, "name": self.name, "title": self.title,
                  "description": self.description, "mimeType": self.mime_type}
        return {key: value for key, value in fields.items() if value is not None}

    def _check_parameters(self, owner: str) -> None:
        required = [p.name for p in self.arguments.parameters if p.required]
        if required:
            raise ConfigError(
                f"{owner}: parameters {required} have no value; a URI with "
                "{placeholders} makes a resource template"
            )


class ResourceTemplate(Resource):
    """A family of resources: `{name}` placeholders in the URI become handler arguments."""

    __slots__ = ("_pattern",)

    def __init__(self, uri_template: str, fn: Callable[..., Any], **options: Any) -> None:
        self._pattern = _compile_template(uri_template)
        super().__init__(uri_template, fn, **options)

    def definition(self) -> dict[str, Any]:
        return self._definition("uriTemplate")

    def match(self, uri: str) -> dict[str, str] | None:
        found = self._pattern.fullmatch(uri)
        if found is None:
            return None
        return {key: unquote(value) for key, value in found.groupdict().items()}

    def _check_parameters(self, owner: str) -> None:
        placeholders = set(self._pattern.groupindex)
        parameters = {p.name for p in self.arguments.parameters}
        required = {p.name for p in self.arguments.parameters if p.required}
        if not placeholders <= parameters:
            missing = sorted(placeholders - parameters)
            raise ConfigError(f"{owner}: placeholders {missing} are not parameters of the handler")
        if not required <= placeholders:
            unfilled = sorted(required - placeholders)
            raise ConfigError(f"{owner}: required parameters {unfilled} have no placeholder")


def is_template(uri: str) -> bool:
    return PLACEHOLDER.search(uri) is not None


def _compile_template(uri_template: str) -> re.Pattern[str]:
    parts: list[str] = []
    seen: set[str] = set()
    position = 0
    for found in PLACEHOLDER.finditer(uri_template):
        name = found.group(1)
        if not IDENTIFIER.fullmatch(name):
            raise ConfigError(
                f"Resource template {uri_template!r}: placeholder {{{name}}} must be a plain "
                "parameter name (RFC 6570 operators are not supported)"
            )
        if name in seen:
            raise ConfigError(f"Resource template {uri_template!r} repeats placeholder {{{name}}}")
        seen.add(name)
        parts.append(re.escape(uri_template[position:found.start()]))
        parts.append(f"(?P<{name}>[^/]+)")
        position = found.end()
    parts.append(re.escape(uri_template[position:]))
    return re.compile("".join(parts))


def _mime_type_of(fn: Callable[..., Any], owner: str) -> str | None:
    annotation = schema.read_signature(fn, owner).return_annotation
    if annotation is str:
        return "text/plain"
    if annotation is bytes:
        return "application/octet-stream"
    if annotation in (inspect.Signature.empty, Any, object, None, type(None)):
        return None
    return "application/json"

